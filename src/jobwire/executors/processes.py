"""Run attempts in a pool of processes, for CPU-bound tasks (``executor="processes"``).

Each attempt runs in a child process with a Progress whose events travel back through a
manager queue; a forwarder thread hands them to the worker, which computes the ETA and
writes them. Cancel requests travel the other way through a manager dict that the child
reads at most once per progress event. Tasks must be importable module-level functions.

Files a task saves are written by the child itself: it gets what it needs to open its own
store and file storage (:class:`~jobwire.files.saving.SaverSpec`: the database and files
URLs, the worker id, the attempt, the limits), so the lease checks hold as in the worker.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import threading
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

from ..files.saving import FileSaver
from ..waits import DurableWaits
from .base import Attempt
from .threads import ThreadExecutor

if TYPE_CHECKING:
    from ..files.saving import SaverSpec
    from ..progress import Progress
    from ..waits import WaitsSpec


class ProcessExecutor(ThreadExecutor):
    kind = "processes"

    def start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._manager = ctx.Manager()
        self._events: Any = self._manager.Queue()
        self._cancelled: Any = self._manager.dict()
        self._pool = ProcessPoolExecutor(max_workers=self.concurrency, mp_context=ctx)
        self._runs: dict[str, Attempt] = {}
        self._forwarder = threading.Thread(
            target=self._forward, name="jobwire-forward", daemon=True
        )
        self._forwarder.start()
        super().start()

    def call(self, run: Attempt, kwargs: dict[str, Any]) -> Any:
        if run.task.is_async:
            return super().call(run, kwargs)
        self._runs[run.job_id] = run
        fn = run.task.fn
        kwargs = {k: v for k, v in kwargs.items() if k != run.task.progress_param}
        saver = run.progress._files
        spec = saver.spec() if isinstance(saver, FileSaver) else None
        waits = run.progress._hooks
        waits_spec = None
        if isinstance(waits, DurableWaits):
            url = saver.store.url if isinstance(saver, FileSaver) else "memory:"
            waits_spec = waits.spec(url if url.startswith(("sqlite", "postgres")) else None)
        try:
            future = self._pool.submit(
                _child,
                (fn.__module__, fn.__qualname__),
                kwargs,
                run.task.progress_param,
                run.job_id,
                run.progress.interval,
                self._events,
                self._cancelled,
                spec,
                waits_spec,
            )
            try:
                state, value = future.result()
            except BaseException as exc:
                # A wait (or an error) ends it: still show where the child was.
                last = getattr(exc, "progress_state", None)
                if last is not None:
                    _show(run.progress, last)
                raise
            _show(run.progress, state)  # the final snapshot shows where it ended
            return value
        finally:
            self._runs.pop(run.job_id, None)
            self._cancelled.pop(run.job_id, None)

    def cancel(self, run: Attempt) -> None:
        if run.job_id in self._runs:
            self._cancelled[run.job_id] = True
        super().cancel(run)

    def _forward(self) -> None:
        while True:
            try:
                item = self._events.get()
            except (EOFError, OSError, BrokenPipeError):
                return  # the manager is gone: we are shutting down
            if item is None:
                return
            job_id, kind, state, log = item
            run = self._runs.get(job_id)
            if run is None:
                continue
            p = run.progress
            p.current, p.total, p.step_name, p.message = (
                state["current"],
                state["total"],
                state["step"],
                state["message"],
            )
            self.runner.report(run, kind, log)

    def shutdown(self) -> None:
        super().shutdown()
        # If the manager already stopped, the forwarder exits on its own.
        with contextlib.suppress(EOFError, OSError, BrokenPipeError, queue.Full):
            self._events.put(None)
        self._forwarder.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._manager.shutdown()


def _show(progress: Progress, state: dict[str, Any]) -> None:
    """Take the child's last counts, step and message."""
    progress.current, progress.total = state["current"], state["total"]
    progress.step_name, progress.message = state["step"], state["message"]


def _child(
    ref: tuple[str, str],
    kwargs: dict[str, Any],
    progress_param: str | None,
    job_id: str,
    interval: float,
    events: Any,
    cancelled: Any,
    files: SaverSpec | None,
    waits: WaitsSpec | None = None,
) -> tuple[dict[str, Any], Any]:
    """Runs in the child process."""
    from pydantic_core import to_jsonable_python

    from ..files.saving import ChildFiles
    from ..progress import Progress
    from ..tasks import load_function
    from ..waits import ChildWaits

    def sink(p: Progress, kind: str, log: str | None) -> None:
        events.put((job_id, kind, p.state, log))

    progress = Progress(
        job_id,
        sink=sink,
        interval=interval,
        cancel_source=lambda: bool(cancelled.get(job_id, False)),
    )
    saver = ChildFiles(files) if files is not None else None
    progress._files = saver
    child_waits = ChildWaits(waits) if waits is not None else None
    progress._hooks = child_waits
    if progress_param:
        kwargs[progress_param] = progress
    try:
        value = load_function(*ref)(**kwargs)
    except BaseException as exc:
        exc.progress_state = progress.state  # type: ignore[attr-defined]  # sent back with it
        raise
    finally:
        if saver is not None:
            saver.close()
        if child_waits is not None:
            child_waits.close()
    return progress.state, to_jsonable_python(value)
