"""Run attempts on a fixed set of daemon threads (the default executor).

A small pool of our own instead of ``concurrent.futures.ThreadPoolExecutor``: that pool's
threads are joined when the interpreter exits, so one task that never returns would keep a
stopped worker from exiting after its grace period. Async tasks run on one event loop thread
and can be cancelled for real.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from .aio import AsyncTasks
from .base import Attempt, PoolExecutor


class ThreadExecutor(PoolExecutor):
    kind = "threads"

    def __init__(self, concurrency: int) -> None:
        super().__init__(concurrency)
        self._queue: queue.SimpleQueue[Attempt | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._async = AsyncTasks()

    def start(self) -> None:
        for i in range(self.concurrency):
            t = threading.Thread(target=self._serve, name=f"jobwire-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def submit(self, attempt: Attempt) -> None:
        self._queue.put(attempt)

    def _serve(self) -> None:
        while True:
            attempt = self._queue.get()
            if attempt is None:
                return
            self.runner.execute(attempt, self.call)

    def call(self, attempt: Attempt, kwargs: dict[str, Any]) -> Any:
        if attempt.task.is_async:
            return self._async.run(attempt, kwargs)
        return attempt.task.fn(**kwargs)

    def cancel(self, attempt: Attempt) -> None:
        self._async.cancel(attempt)

    def shutdown(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        self._threads.clear()
        self._async.close()
