"""Tools for testing your own tasks: a store and a bus that live in memory.

``App(store=MemoryStore(), bus=MemoryBus())`` runs tasks on the thread-pool worker with no
database file and no server: fast, isolated tests that still go through submit, progress,
retries, cancel and results as in production.

```python
from jobwire import App, Progress
from jobwire.testing import MemoryBus, MemoryStore


def test_square() -> None:
    app = App(store=MemoryStore(), bus=MemoryBus())

    @app.task()
    def square(progress: Progress, n: int) -> int:
        progress.update(1, total=1)
        return n * n

    with app:
        assert square.submit(n=3).result(timeout=5) == 9
```

Both are the implementations jobwire's own tests run its store and bus contracts against,
so what passes here behaves the same on SQLite, PostgreSQL and Redis. ``MemoryStore`` takes
a ``clock`` (UNIX seconds) to test leases, retry delays and the result cache without
sleeping.
"""

from __future__ import annotations

from .bus.memory import MemoryBus
from .store.memory import MemoryStore

__all__ = ["MemoryBus", "MemoryStore"]
