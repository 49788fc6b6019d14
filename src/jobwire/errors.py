"""The errors jobwire raises. Each docstring is the default message and says what to do."""

from __future__ import annotations

from typing import Any


class JobwireError(Exception):
    """A jobwire operation failed."""

    #: A short machine-readable code, used in the JSON error shape of the HTTP API.
    code = "error"

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or (self.__doc__ or "").strip()
        self.details = details
        super().__init__(self.message)


class UnknownTask(JobwireError):
    """No task is registered under this name. `jobwire tasks` or `App.tasks` lists them."""

    code = "unknown_task"


class JobNotFound(JobwireError):
    """No job has this id (it may have been deleted by retention, or belong to someone else)."""

    code = "job_not_found"


class InvalidArguments(JobwireError):
    """The task's arguments are invalid; no job was created. `details["errors"]` says which."""

    code = "invalid_arguments"


class OwnerLimitReached(JobwireError):
    """This owner already has as many live jobs of this task as its `per_owner_limit` allows.
    Wait for one to finish or cancel it."""

    code = "owner_limit_reached"


class DuplicateJob(JobwireError):
    """A job with the same dedupe key is live (or its result cached) and belongs to someone
    else. Wait for it to finish, or ask its owner to share it."""

    code = "duplicate_job"


class JobAlreadyFinished(JobwireError):
    """The job has already finished, so it can no longer be cancelled."""

    code = "job_finished"


class JobNotFinished(JobwireError):
    """The job has not finished yet. Cancel it first or wait for it."""

    code = "job_not_finished"


class ResultNotAvailable(JobwireError):
    """The job did not succeed, so it has no result. Its `error` says why."""

    code = "result_not_available"


class JobFailed(JobwireError):
    """The job failed. Its `error` (code, message, details) says why."""

    code = "job_failed"


class JobCancelled(JobwireError):
    """The job was cancelled. Raised inside a task by the next Progress call after a cancel
    request; let it propagate (or clean up and re-raise)."""

    code = "job_cancelled"


class WaitTimeout(JobwireError, TimeoutError):
    """The job did not finish within the time given to wait(). It goes on running."""

    code = "wait_timeout"


class IllegalTransition(JobwireError):
    """This status change is not allowed by the job state machine."""

    code = "illegal_transition"


class MissingDependency(JobwireError, ImportError):
    """An optional dependency is missing. Install the extra named in the message."""

    code = "missing_dependency"


class ConfigurationError(JobwireError):
    """jobwire is misconfigured. The message says which setting."""

    code = "configuration_error"


class BadRequest(JobwireError):
    """The request is malformed. The message says what to fix."""

    code = "bad_request"


class InvalidCursor(BadRequest):
    """The cursor is not one from a previous page of results."""

    code = "invalid_cursor"


class Unauthorized(JobwireError):
    """Missing or invalid credentials. Send `Authorization: Bearer <API key or JWT>`, or a
    stream token as `?token=`."""

    code = "unauthorized"


class RateLimited(JobwireError):
    """Too many submits: wait `retry_after` seconds and try again."""

    code = "rate_limited"

    def __init__(self, message: str | None = None, *, retry_after: float = 1.0) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class BrokerUnavailable(JobwireError):
    """The message broker that carries jobs to Celery workers could not be reached. The job
    was not queued (it is recorded as cancelled); try again later."""

    code = "broker_unavailable"


class CallbackTimeout(JobwireError):
    """``progress.wait_for_callback(timeout=…)`` saw no callback (and no poll result) in
    time. Uncaught, the attempt fails with the error code ``callback_timeout``."""

    code = "callback_timeout"
