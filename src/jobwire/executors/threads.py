"""Run attempts on a fixed set of daemon threads (the default executor).

A small pool of our own instead of ``concurrent.futures.ThreadPoolExecutor``: that pool's
threads are joined when the interpreter exits, so one task that never returns would keep a
stopped worker from exiting after its grace period. Async tasks run on one event loop thread
and can be cancelled for real.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from .base import Executor

if TYPE_CHECKING:
    from ..worker import Run


class ThreadExecutor(Executor):
    kind = "threads"

    def __init__(self, worker: Any, concurrency: int) -> None:
        super().__init__(worker, concurrency)
        self._queue: queue.SimpleQueue[Run | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._loop_lock = threading.Lock()

    def start(self) -> None:
        for i in range(self.concurrency):
            t = threading.Thread(target=self._serve, name=f"jobwire-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def submit(self, run: Run) -> None:
        self._queue.put(run)

    def _serve(self) -> None:
        while True:
            run = self._queue.get()
            if run is None:
                return
            self.worker.execute(run, self.call)

    def call(self, run: Run, kwargs: dict[str, Any]) -> Any:
        if not run.task.is_async:
            return run.task.fn(**kwargs)
        coro: Coroutine[Any, Any, Any] = run.task.fn(**kwargs)
        future = asyncio.run_coroutine_threadsafe(coro, self._event_loop())
        run.handle = future
        try:
            return future.result()
        except (asyncio.CancelledError, concurrent.futures.CancelledError):
            from ..errors import JobCancelled

            raise JobCancelled() from None

    def cancel(self, run: Run) -> None:
        if run.handle is not None:
            run.handle.cancel()

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        with self._loop_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._loop_thread = threading.Thread(
                    target=loop.run_forever, name="jobwire-async", daemon=True
                )
                self._loop_thread.start()
                self._loop = loop
            return self._loop

    def shutdown(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        self._threads.clear()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._loop_thread is not None:
                self._loop_thread.join(timeout=5)
            self._loop.close()
            self._loop = None
