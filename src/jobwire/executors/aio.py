"""One event loop thread for async tasks, shared by the executors that run attempts on
threads (threads, and Celery's pool threads). Async tasks run there, and a cancel cancels
their coroutine for real."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any

from ..errors import JobCancelled
from .base import Attempt


class AsyncTasks:
    """Runs the coroutines of async tasks on one daemon event loop thread, started on first
    use."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, attempt: Attempt, kwargs: dict[str, Any]) -> Any:
        """Run the attempt's async function to its end from a worker thread; its future is
        the attempt's ``handle``, so that :meth:`cancel` stops it."""
        coro: Coroutine[Any, Any, Any] = attempt.task.fn(**kwargs)
        future = asyncio.run_coroutine_threadsafe(coro, self._event_loop())
        attempt.handle = future
        try:
            return future.result()
        except (asyncio.CancelledError, concurrent.futures.CancelledError):
            raise JobCancelled() from None

    @staticmethod
    def cancel(attempt: Attempt) -> None:
        if attempt.handle is not None:
            attempt.handle.cancel()

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=loop.run_forever, name="jobwire-async", daemon=True
                )
                self._thread.start()
                self._loop = loop
            return self._loop

    def close(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
            if thread is not None:
                thread.join(timeout=5)
            loop.close()
