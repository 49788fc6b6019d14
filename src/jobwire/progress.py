"""The object a task receives to report how far it is and to learn it was cancelled.

Pure: a Progress knows nothing of stores, buses or threads. It keeps the counters, decides
when an event is due (throttling) and hands the due ones to a *sink* callable. Every call may
raise :class:`~jobwire.errors.JobCancelled` once a cancel was requested.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from itertools import chain, islice
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .errors import JobCancelled
from .files import check_name, content_type_of
from .snapshot import EventKind
from .storable import MAX_STEP, check_text

if TYPE_CHECKING:
    from .eta import Clock
    from .files import FileData, FileInfo

T = TypeVar("T")

#: ``sink(progress, kind, log_text)``: called with each event that is due.
Sink = Callable[["Progress", EventKind, "str | None"], None]


class Callbacks(Protocol):
    """What a worker gives a Progress so that its task can wait for a webhook without
    holding the worker, and keep what it did before the wait."""

    def url(self, job_id: str, provider: str | None = None) -> str: ...

    def wait(
        self,
        progress: Progress,
        timeout: float | None,
        poll: Callable[[], Any] | None,
        poll_interval: float,
    ) -> Any: ...

    def once(self, progress: Progress, name: str, fn: Callable[[], Any]) -> Any: ...


class Suspended(BaseException):
    """Raised by :meth:`Progress.wait_for_callback` when the webhook has not come: the
    attempt stops here, the job shows ``waiting`` and holds no worker, and it runs again from
    the top when the webhook comes (or its poll or timeout is due). A ``BaseException``, so
    that ``except Exception`` in a task lets it through; let it through a bare ``except:``
    too (``finally:`` blocks run as usual)."""

    def __init__(self, index: int, wake_at: float) -> None:
        super().__init__(index, wake_at)
        self.index = index
        """The attempt's wait it stopped at (0 for the first)."""
        self.wake_at = wake_at
        """UNIX time at which the job goes on without a webhook: its poll, or its timeout."""


class Files(Protocol):
    """What a worker gives a Progress so that its task can save files."""

    def save(self, name: str, data: FileData, content_type: str) -> FileInfo: ...


MAX_LOG_LINES = 1000
#: Items per chunk in iter() at most. Python code runs only between chunks, so this bounds
#: how many items a cancel or a count can lag when items suddenly get slow after fast ones;
#: at 256 the per-item cost stays a few nanoseconds.
MAX_STRIDE = 256


def _discard(progress: Progress, kind: EventKind, log: str | None) -> None:
    """Sink for a Progress used outside a worker (e.g. calling a task function directly)."""


class Progress:
    """Report progress from inside a task.

    Call it as often as you like (every item is fine): what leaves the process is throttled to
    one event per ``interval`` seconds, plus every step change, the first event and the final
    state.

    ```python
    @app.task
    def classify(progress: Progress, file_id: str) -> dict:
        progress.step("init")
        tickets = load(file_id)
        for ticket in progress.iter(tickets, step="processing"):
            classify_one(ticket)
        progress.step("saving")
        ...
    ```
    """

    __slots__ = (
        "_cancel",
        "_cancel_source",
        "_clock",
        "_dirty",
        "_files",
        "_hooks",
        "_last_emit",
        "_lock",
        "_logs",
        "_sink",
        "current",
        "interval",
        "job_id",
        "message",
        "step_name",
        "total",
    )

    def __init__(
        self,
        job_id: str = "",
        *,
        sink: Sink = _discard,
        interval: float = 0.1,
        clock: Clock = time.monotonic,
        cancel_source: Callable[[], bool] | None = None,
    ) -> None:
        self.job_id = job_id
        self.current = 0
        self.total: int | None = None
        self.step_name: str | None = None
        self.message: str | None = None
        self.interval = interval
        self._sink = sink
        self._clock = clock
        self._cancel = False
        self._cancel_source = cancel_source
        self._hooks: Callbacks | None = None
        self._files: Files | None = None
        self._last_emit: float | None = None
        self._dirty = False
        self._logs = 0
        self._lock = threading.Lock()

    # -- cancellation -------------------------------------------------------------------

    @property
    def cancelled(self) -> bool:
        """True once a cancel was requested; loops that clean up can check it."""
        return self._cancel

    def request_cancel(self) -> None:
        """Called by the worker: the next Progress call raises JobCancelled."""
        self._cancel = True

    def check(self) -> None:
        """Raise JobCancelled if a cancel was requested. Cheap; call it in tight loops."""
        if self._cancel:
            raise JobCancelled()

    # -- reporting ----------------------------------------------------------------------

    def update(
        self,
        current: int | None = None,
        *,
        total: int | None = None,
        message: str | None = None,
        step: str | None = None,
    ) -> None:
        """Set any of the counters; None leaves a field as it is.

        Raises UnstorableValue for text no store can keep (a lone surrogate, a NUL)."""
        if self._cancel:
            raise JobCancelled()
        force = False
        if step is not None and step != self.step_name:
            self.step_name = check_text(step, "step", max_length=MAX_STEP)
            force = True
        if current is not None:
            self.current = current
        if total is not None:
            self.total = total
        if message is not None and message is not self.message:
            self.message = check_text(message, "message")
        self._maybe_emit(force)

    def advance(self, n: int = 1) -> None:
        """Add ``n`` items done."""
        if self._cancel:
            raise JobCancelled()
        self.current += n
        self._maybe_emit(False)

    def step(self, name: str, total: int | None = None, *, message: str | None = None) -> None:
        """Start a named step (``init``, ``processing``, ``saving``…). With ``total`` the
        counter restarts at 0 for this step; without, the counters stay as they are."""
        if self._cancel:
            raise JobCancelled()
        self.step_name = check_text(name, "step", max_length=MAX_STEP)
        if total is not None:
            self.total = total
            self.current = 0
        if message is not None:
            self.message = check_text(message, "message")
        self._maybe_emit(True)

    def log(self, text: str) -> None:
        """Send a line of text to everyone watching the job (at most 1000 per job)."""
        if self._cancel:
            raise JobCancelled()
        if self._logs >= MAX_LOG_LINES:
            return
        text = check_text(str(text), "log")
        self._logs += 1
        self._emit("log", text)

    def iter(
        self, iterable: Iterable[T], total: int | None = None, *, step: str | None = None
    ) -> Iterator[T]:
        """Yield the items of ``iterable``, counting each one done when the next is asked for
        (like tqdm). The counter restarts at 0; ``total`` defaults to ``len(iterable)``.

        For sized iterables (lists, ranges, dicts…) the per-item cost is a few nanoseconds:
        items flow through C iterators and Python code runs only between chunks, whose size
        adapts so that a chunk takes a fraction of the progress interval.
        """
        if self._cancel:
            raise JobCancelled()
        sized = isinstance(iterable, Sized) and total is None
        if sized:
            total = len(iterable)  # type: ignore[arg-type]
        if step is not None:
            self.step_name = check_text(step, "step", max_length=MAX_STEP)
        self.total = total
        self.current = 0
        self._maybe_emit(step is not None)
        if sized and total is not None:
            return chain.from_iterable(self._chunks(iter(iterable), total))
        return self._iter_each(iterable)

    def _chunks(self, it: Iterator[T], total: int) -> Iterator[Iterator[T]]:
        # Runs only between chunks. ``stride`` grows while chunks are quick, shrinks when slow,
        # so the counter and the cancel check stay within a fraction of the interval.
        clock = self._clock
        target = self.interval / 4 if self.interval > 0 else 0.0
        stride = 1
        done = 0
        while done < total:
            size = min(stride, total - done)
            started = clock()
            yield islice(it, size)
            done += size
            self.current = done
            if self._cancel:
                raise JobCancelled()
            self._maybe_emit(False)
            spent = clock() - started
            if spent < target / 2:
                stride = min(stride * 2, MAX_STRIDE)
            elif spent > target and stride > 1:
                stride //= 2

    def _iter_each(self, iterable: Iterable[T]) -> Iterator[T]:
        for n, item in enumerate(iterable, 1):
            yield item
            self.current = n
            if self._cancel:
                raise JobCancelled()
            self._maybe_emit(False)

    # -- throttling ---------------------------------------------------------------------

    def _maybe_emit(self, force: bool) -> None:
        now = self._clock()
        last = self._last_emit
        if force or last is None or now - last >= self.interval:
            self._emit("progress")
        else:
            self._dirty = True

    def _emit(self, kind: EventKind, log: str | None = None) -> None:
        with self._lock:
            self._last_emit = self._clock()
            self._dirty = False
            self._sink(self, kind, log)
        # In a child process the cancel flag lives in the parent: ask at most once per event.
        if self._cancel_source is not None and self._cancel_source():
            self._cancel = True

    @property
    def callback_url(self) -> str:
        """Where an external system POSTs its result to end :meth:`wait_for_callback`: a
        path with a signature (``/api/hooks/{job_id}?sig=…``) to prefix with the public
        address of your jobwire server. For a provider that signs its webhooks (Standard
        Webhooks), hand it :meth:`callback_url_for` instead."""
        return self._callbacks().url(self.job_id)

    def callback_url_for(self, provider: str) -> str:
        """:attr:`callback_url` for a provider that signs its webhooks the Standard Webhooks
        way (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``):
        ``/api/hooks/{job_id}?provider=NAME&sig=…``. A POST there is accepted only with a
        valid signature under the provider's secret (setting ``webhook_secrets``, e.g.
        ``{"luma": "whsec_…"}``) and a timestamp within 5 minutes; its ``webhook-id`` makes
        it idempotent. Raises ConfigurationError when no secret is set for ``provider``.

        ```python
        ref = luma.create(prompt, callback_url=PUBLIC_URL + progress.callback_url_for("luma"))
        video = progress.wait_for_callback(timeout=600, step="dreaming")
        ```
        """
        return self._callbacks().url(self.job_id, provider)

    def wait_for_callback(
        self,
        timeout: float | None = None,
        *,
        poll: Callable[[], Any] | None = None,
        poll_interval: float = 10.0,
        step: str | None = None,
        message: str | None = None,
    ) -> Any:
        """Wait until something is POSTed to :attr:`callback_url`, and return it (the JSON
        body), without holding a worker meanwhile.

        The waits of an attempt are numbered in the order the task makes them, and the n-th
        returns the n-th delivery. When it has not come, the attempt stops here: the job
        shows ``waiting`` (with ``step`` and ``message``, when given), frees its worker, and
        when the delivery comes, the task runs again *from the top*, on any worker, with the
        same attempt number. Waits that have their delivery return it at once, so the run
        gets back here; what the task did before must not happen twice: wrap it in
        :meth:`once`.

        ```python
        ref = progress.once("submit", lambda: luma.create(prompt, callback_url=url))
        update = progress.wait_for_callback(timeout=600, step="dreaming")
        ```

        ``poll``, when given, is called every ``poll_interval`` seconds (on a worker, as a
        short run of the task) as a fallback: a value other than None ends the wait with
        that value. Raises CallbackTimeout ``timeout`` seconds after the wait began,
        JobCancelled when the job is cancelled. Works the same in ``async`` tasks."""
        hooks = self._callbacks()
        if step is not None:
            self.step_name = check_text(step, "step", max_length=MAX_STEP)
        if message is not None:
            self.message = check_text(message, "message")
        self.check()
        return hooks.wait(self, timeout, poll, poll_interval)

    def once(self, name: str, fn: Callable[[], T]) -> T:
        """``fn()``, run once per attempt: its value (JSON) is kept under ``name``, and when
        the task runs again after a :meth:`wait_for_callback`, it is returned without
        calling ``fn`` again. Wrap in it what must not happen twice: a request that starts
        work elsewhere, an e-mail. Names must be unique within the task; outside a worker
        (the task function called directly), ``fn()`` is simply called.

        ```python
        generation = progress.once("submit", lambda: provider.submit(prompt, url))
        ```

        Raises UnstorableValue when the value is not JSON every store keeps; the value
        returned is the stored one (a tuple comes back as a list, the first time too)."""
        check_text(name, "name", max_length=MAX_STEP)
        if self._hooks is None:
            return fn()
        return self._hooks.once(self, name, fn)  # type: ignore[no-any-return]

    def save_file(self, name: str, data: FileData, content_type: str | None = None) -> FileInfo:
        """Save a file the job produced (a report, a frame, an archive), beside its result:
        listed by ``App.files(job_id)`` and ``GET /api/jobs/{id}/files``, downloaded from
        ``…/files/{name}``. ``data`` is bytes, a path, or a binary file object; it is
        streamed in chunks, never read whole. ``content_type`` defaults to the type guessed
        from the name. A file of the same name replaces the earlier one.

        ```python
        progress.save_file("report.csv", csv_text.encode(), "text/csv")
        progress.save_file("frames.zip", "/tmp/frames.zip")
        ```

        Returns the file's :class:`~jobwire.files.FileInfo` (size, SHA-256). Raises
        UnstorableValue for a name that is not a plain file name, FileTooLarge over
        ``max_file_bytes`` or ``max_job_file_bytes``, JobCancelled when the job was cancelled
        or this attempt lost its lease (the file is then discarded)."""
        if self._cancel:
            raise JobCancelled()
        name = check_name(name)
        content_type = content_type_of(name, content_type)
        if self._files is None:
            raise RuntimeError(
                "Saving files needs a job run by a worker; this Progress belongs to none "
                "(a task function called directly)"
            )
        return self._files.save(name, data, content_type)

    def _callbacks(self) -> Callbacks:
        if self._hooks is None:
            raise RuntimeError(
                "Callbacks need a job run by a worker (threads or celery executor); this "
                "Progress belongs to none"
            )
        return self._hooks

    def flush(self) -> bool:
        """Send the held-back state if the last event is at least one interval old.

        Called periodically by the worker, so that the final counts of a burst are not held
        back until the task's next call. Returns True when it sent an event."""
        last = self._last_emit
        if self._dirty and (last is None or self._clock() - last >= self.interval):
            self._emit("progress")
            return True
        return False

    @property
    def state(self) -> dict[str, Any]:
        return {
            "current": self.current,
            "total": self.total,
            "step": self.step_name,
            "message": self.message,
        }
