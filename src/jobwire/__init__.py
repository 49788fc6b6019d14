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

from typing import TYPE_CHECKING, Any

from .app import App
from .errors import (
    BrokerUnavailable,
    CallbackTimeout,
    ConfigurationError,
    DuplicateJob,
    ExportNotAvailable,
    FileNotFound,
    FileTooLarge,
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
from .watch import Watch

if TYPE_CHECKING:
    from .client import Client

__version__ = "0.1.0"

__all__ = [
    "App",
    "BrokerUnavailable",
    "CallbackTimeout",
    "Client",
    "ConfigurationError",
    "DuplicateJob",
    "ExportNotAvailable",
    "FileNotFound",
    "FileTooLarge",
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


def __getattr__(name: str) -> Any:
    # The HTTP client (httpx, httpx-sse, websockets) is imported on first use, not by
    # `import jobwire`: workers and the server never need it (PEP 562).
    if name == "Client":
        from .client import Client

        globals()["Client"] = Client
        return Client
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
