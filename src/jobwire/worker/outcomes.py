"""How an attempt ended, as the :class:`~jobwire.store.Finish` the engine writes: succeeded
with its result, failed (or queued again for a retry) with an error, cancelled. Everything
recorded here is text and JSON every store keeps."""

from __future__ import annotations

import logging
import time
import traceback
from typing import Any

from pydantic_core import to_jsonable_python

from ..errors import (
    CallbackTimeout,
    ConfigurationError,
    FileTooLarge,
    TaskFailed,
    UnstorableValue,
)
from ..executors import Attempt
from ..progress import Suspended
from ..retry import retry_delay
from ..snapshot import dumps
from ..status import JobStatus
from ..storable import MAX_STEP, find_unstorable, problem, sanitize, storable
from ..store import Finish

logger = logging.getLogger(__name__)


def display(text: str | None, limit: int | None = None) -> str | None:
    """Text a task set on its Progress by assigning an attribute (the methods refuse bad
    text at the source), made storable: every store keeps the result."""
    if text is None:
        return None
    if not isinstance(text, str):
        text = str(text)
    if problem(text) is not None:
        text = storable(text)
    return text if limit is None else text[:limit]


def finish(attempt: Attempt, status: JobStatus, **kw: Any) -> Finish:
    """The attempt ends with ``status``, its Progress's last counts and ``kw``. Its open
    step ends too, unless it stops at a wait (the waiting time counts in that step)."""
    p = attempt.progress
    steps = attempt.steps
    steps.change(display(p.step_name, MAX_STEP))  # a wait's step is set without a report
    if status == JobStatus.WAITING:
        kw.setdefault("eta_seconds", steps.eta())
    else:
        steps.close()
    steps.dirty = False
    return Finish(
        attempt.job_id,
        attempt.attempt,
        status,
        p.current,
        p.total,
        display(p.step_name, MAX_STEP),
        display(p.message),
        duration=time.monotonic() - attempt.started,
        steps=steps.listing(),
        **kw,
    )


def success(attempt: Attempt, value: Any) -> Finish:
    """Succeeded with ``value`` as its result, or failed when the value is no JSON that
    every store keeps (an object JSON cannot hold, NaN, a lone surrogate)."""
    try:
        jsonable = to_jsonable_python(value)
        found = find_unstorable(jsonable)
        if found is not None:
            where = "/".join(str(p) for p in found[0]) or "the result"
            raise ValueError(f"{where}: {found[1]}")
        text = dumps(jsonable)
    except Exception as exc:
        return failure(
            attempt,
            "result_not_serializable",
            f"The task returned a value that cannot be stored as JSON: {storable(str(exc))}",
            {"type": type(value).__name__},
            retry=False,
        )
    return finish(attempt, JobStatus.SUCCEEDED, result=text)


def suspended(attempt: Attempt, stop: Suspended) -> Finish:
    """The attempt stopped at a wait whose webhook has not come: the job waits, holding no
    worker, until it comes (or until ``stop.wake_at``: its poll, its timeout)."""
    return finish(attempt, JobStatus.WAITING, run_after=stop.wake_at, wait_index=stop.index)


def from_exception(attempt: Attempt, exc: BaseException) -> Finish:
    """The task raised ``exc`` (anything, with any text: what is recorded is storable)."""
    details = {
        "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
        "traceback": storable("".join(traceback.format_exception(exc)[-20:])),
    }
    message = storable(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, UnstorableValue | FileTooLarge | ConfigurationError):
        # The same again would fail again (a value no store keeps, a missing setting).
        return failure(attempt, exc.code, message, details, retry=False)
    if isinstance(exc, TaskFailed):  # the task's own code, and its details beside ours
        return failure(attempt, exc.code, message, {**exc.details, **details})
    code = exc.code if isinstance(exc, CallbackTimeout) else "task_error"
    return failure(attempt, code, message, details)


def failure(
    attempt: Attempt, code: str, message: str, details: Any, *, retry: bool = True
) -> Finish:
    """Failed with this error: queued again after :func:`~jobwire.retry.retry_delay` while
    the job has attempts left (and ``retry``), else failed for good."""
    record = attempt.record
    if retry and record.attempt < record.max_attempts:
        delay = retry_delay(attempt.task.options.retry_backoff, record.attempt)
        logger.info(
            "job %s attempt %d failed (%s); retrying in %.1f s",
            attempt.job_id,
            record.attempt,
            code,
            delay,
            extra={"job_id": attempt.job_id, "action": "retry"},
        )
        return finish(
            attempt,
            JobStatus.QUEUED,
            error_code=code,
            error_message=message,
            error_details=sanitize(details),
            run_after=time.time() + delay,
        )
    logger.info(
        "job %s failed: %s",
        attempt.job_id,
        message,
        extra={"job_id": attempt.job_id, "action": "failed"},
    )
    return finish(
        attempt,
        JobStatus.FAILED,
        error_code=code,
        error_message=message,
        error_details=sanitize(details),
    )


def timed_out(attempt: Attempt) -> Finish:
    timeout = attempt.task.options.timeout
    return failure(
        attempt,
        "timeout",
        f"The attempt ran longer than its timeout of {timeout} s.",
        {"timeout": timeout},
    )


def hard_stopped(attempt: Attempt, grace: float) -> Finish:
    """Recorded cancelled: it ignored its cancel for longer than ``grace`` seconds."""
    return finish(
        attempt,
        JobStatus.CANCELLED,
        error_code="cancel_grace_exceeded",
        error_message=f"The task did not stop within {grace:g} s of the cancel request.",
    )


def refused(attempt: Attempt, fin: Finish, exc: Exception) -> Finish:
    """A failure to record instead of an outcome the store refused: only text of ours."""
    return Finish(
        attempt.job_id,
        attempt.attempt,
        JobStatus.FAILED,
        fin.current,
        fin.total,
        None,
        None,
        error_code="store_refused",
        error_message=(
            "The store refused to record how this attempt ended "
            f"({type(exc).__name__}); see the worker's log."
        ),
        duration=fin.duration,
    )
