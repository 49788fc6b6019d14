"""A Python client for a jobwire server: the HTTP API, and live messages over WebSocket or SSE.

It mirrors the in-process API: :class:`Client` is to a server what :class:`~jobwire.App` is
to a database, and :class:`RemoteJob` is a :class:`~jobwire.Job` read over HTTP. Errors are
the same classes, rebuilt from the JSON error code (see docs/http.md).

```python
from datetime import timedelta

from jobwire import Client

with Client("http://127.0.0.1:8000", token="jw_…") as client:
    job = client.submit("count", {"n": 300})
    for message in job.watch():        # WebSocket, or SSE when it cannot be opened
        print(message["type"], message["job"]["current"], message["job"]["total"])
    print(job.result(timeout=60))
    job.download("csv", path="results.csv")   # or "json", "zip"; file="frame.png" for one file
    job.share("platform", can_download=False, expires_at=timedelta(days=7))
```

``api`` holds :class:`Client` and :class:`RemoteJob`, ``http`` the servers and requests they
share, ``watch`` the message streams and their resumption, ``files`` and ``download`` a job's
files and exports, ``shares`` a job's shares with teams, ``errors`` the error mapping.
"""

from __future__ import annotations

from .api import Client, RemoteJob
from .download import Download
from .errors import StreamLost, error_from
from .shares import AccessInfo, SharedVia, ShareInfo
from .watch import RemoteWatch

__all__ = [
    "AccessInfo",
    "Client",
    "Download",
    "RemoteJob",
    "RemoteWatch",
    "ShareInfo",
    "SharedVia",
    "StreamLost",
    "error_from",
]
