"""jobwire: background jobs with live progress.

```python
from jobwire import App, Progress

app = App()

@app.task
def count(progress: Progress, n: int = 100) -> int:
    for _ in progress.iter(range(n), step="counting"):
        ...
    return n
```
"""

from __future__ import annotations

from .app import App, Watch
from .client import Client
from .errors import (
    BrokerUnavailable,
    CallbackTimeout,
    ConfigurationError,
    DuplicateJob,
    IllegalTransition,
    InvalidArguments,
    JobAlreadyFinished,
    JobCancelled,
    JobFailed,
    JobNotFinished,
    JobNotFound,
    JobwireError,
    MissingDependency,
    OwnerLimitReached,
    ResultNotAvailable,
    StoreUnavailable,
    UnknownTask,
    UnstorableValue,
    WaitTimeout,
)
from .job import Job
from .progress import Progress
from .status import JobStatus
from .storable import storable
from .tasks import Task

__version__ = "0.1.0"

__all__ = [
    "App",
    "BrokerUnavailable",
    "CallbackTimeout",
    "Client",
    "ConfigurationError",
    "DuplicateJob",
    "IllegalTransition",
    "InvalidArguments",
    "Job",
    "JobAlreadyFinished",
    "JobCancelled",
    "JobFailed",
    "JobNotFinished",
    "JobNotFound",
    "JobStatus",
    "JobwireError",
    "MissingDependency",
    "OwnerLimitReached",
    "Progress",
    "ResultNotAvailable",
    "StoreUnavailable",
    "Task",
    "UnknownTask",
    "UnstorableValue",
    "WaitTimeout",
    "Watch",
    "storable",
]
