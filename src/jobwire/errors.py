"""The errors jobwire raises. Each docstring is the default message and says what to do."""

from __future__ import annotations

from typing import Any


class JobwireError(Exception):
    """A jobwire operation failed."""

    #: A short machine-readable code, used in the JSON error shape of the HTTP API.
    code = "error"
    #: The HTTP status the server answers this error with (one place: the class).
    status = 400

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or (self.__doc__ or "").strip()
        self.details = details
        super().__init__(self.message)


class UnknownTask(JobwireError):
    """No task is registered under this name. `jobwire tasks` or `App.tasks` lists them."""

    code = "unknown_task"
    status = 404


class JobNotFound(JobwireError):
    """No job has this id (it may have been deleted by retention, or belong to someone else)."""

    code = "job_not_found"
    status = 404


class InvalidArguments(JobwireError):
    """The task's arguments are invalid; no job was created. `details["errors"]` says which."""

    code = "invalid_arguments"
    status = 422


class OwnerLimitReached(JobwireError):
    """This owner already has as many live jobs of this task as its `per_owner_limit` allows.
    Wait for one to finish or cancel it."""

    code = "owner_limit_reached"
    status = 409


class DuplicateJob(JobwireError):
    """A job with the same dedupe key is live (or its result cached) and belongs to someone
    else. Wait for it to finish, or ask its owner to share it."""

    code = "duplicate_job"
    status = 409


class JobAlreadyFinished(JobwireError):
    """The job has already finished, so it can no longer be cancelled."""

    code = "job_finished"
    status = 409


class JobNotFinished(JobwireError):
    """The job has not finished yet. Cancel it first or wait for it."""

    code = "job_not_finished"
    status = 409


class ResultNotAvailable(JobwireError):
    """The job did not succeed, so it has no result. Its `error` says why."""

    code = "result_not_available"
    status = 409


class ExportNotAvailable(JobwireError):
    """This job cannot be exported in this format: a CSV needs rows. Give the task
    `export_rows=` (a function of the result returning the rows), or register an exporter
    for the format with `@task.exporter("csv")`."""

    code = "export_not_available"
    status = 409  # the request is valid; what the job holds does not fit the format


class RangeNotSatisfiable(JobwireError):
    """The requested byte range is outside the file (or malformed). Ask for a range within
    its size (`Content-Range: bytes */SIZE` gives it), or no range for the whole file."""

    code = "range_not_satisfiable"
    status = 416


class JobFailed(JobwireError):
    """The job failed. Its `error` (code, message, details) says why."""

    code = "job_failed"
    status = 409


class JobCancelled(JobwireError):
    """The job was cancelled. Raised inside a task by the next Progress call after a cancel
    request; let it propagate (or clean up and re-raise)."""

    code = "job_cancelled"
    status = 409


class WaitTimeout(JobwireError, TimeoutError):
    """The job did not finish within the time given to wait(). It goes on running."""

    code = "wait_timeout"
    status = 408


class IllegalTransition(JobwireError):
    """This status change is not allowed by the job state machine."""

    code = "illegal_transition"
    status = 409


class MissingDependency(JobwireError, ImportError):
    """An optional dependency is missing. Install the extra named in the message."""

    code = "missing_dependency"
    status = 500


class ConfigurationError(JobwireError):
    """jobwire is misconfigured. The message says which setting."""

    code = "configuration_error"
    status = 500


class BadRequest(JobwireError):
    """The request is malformed. The message says what to fix."""

    code = "bad_request"
    status = 400


class InvalidCursor(BadRequest):
    """The cursor is not one from a previous page of results."""

    code = "invalid_cursor"
    status = 400


class Unauthorized(JobwireError):
    """Missing or invalid credentials. Send `Authorization: Bearer <API key or JWT>`, or a
    stream token as `?token=`."""

    code = "unauthorized"
    status = 401


class RateLimited(JobwireError):
    """Too many submits: wait `retry_after` seconds and try again."""

    code = "rate_limited"
    status = 429

    def __init__(self, message: str | None = None, *, retry_after: float = 1.0) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class BrokerUnavailable(JobwireError):
    """The message broker that carries jobs to Celery workers could not be reached. The job
    was not queued (it is recorded as cancelled); try again later."""

    code = "broker_unavailable"
    status = 503


class CallbackTimeout(JobwireError):
    """``progress.wait_for_callback(timeout=…)`` saw no callback (and no poll result) in
    time. Uncaught, the attempt fails with the error code ``callback_timeout``."""

    code = "callback_timeout"
    status = 408


class TaskFailed(JobwireError):
    """The task gave up with an error of its own. Subclass it with your own ``code``
    (``class ProviderFailed(TaskFailed): code = "provider_failed"``) and raise it with
    details: uncaught, the attempt fails with that code, and the details join the error's
    (retried like any error while the task has attempts left)."""

    code = "task_failed"
    status = 500


class Forbidden(JobwireError):
    """These credentials may see the job but not do this with it (a stream token outside
    its job's scope, for example)."""

    code = "forbidden"
    status = 403


class UnsupportedMediaType(JobwireError):
    """The body must be JSON: send it with `Content-Type: application/json`."""

    code = "unsupported_media_type"
    status = 415


class BadHost(JobwireError):
    """This server does not answer to the host name in the request's Host header. Add the
    name to `allowed_hosts` (`JOBWIRE_ALLOWED_HOSTS`, or `jobwire serve --allow-host NAME`)."""

    code = "bad_host"
    status = 400


class BadOrigin(JobwireError):
    """Streams are served to this server's own pages and to the origins in `cors_origins`
    only. Add the page's origin there (`JOBWIRE_CORS_ORIGINS`, or `jobwire serve
    --cors-origin ORIGIN`)."""

    code = "bad_origin"
    status = 403


class StoreUnavailable(JobwireError):
    """The job store cannot be written right now (the database is unreachable, read-only or
    full). Nothing was changed; try again once it is back. `GET /api/health` says why."""

    code = "store_unavailable"
    status = 503


class UnstorableValue(JobwireError, ValueError):
    """A task handed jobwire text or a number that cannot be stored and sent as JSON: a lone
    surrogate (what ``os.fsdecode`` returns for a file name that is not UTF-8), a NUL
    character, or NaN/Infinity. Clean it first, e.g. with ``jobwire.storable(text)``."""

    code = "unstorable_value"
    status = 422


class FileTooLarge(JobwireError):
    """A file a task saved is larger than ``max_file_bytes``, or the files of its job together
    larger than ``max_job_file_bytes``; nothing of it was kept. Raise the setting named in the
    message (``JOBWIRE_MAX_FILE_BYTES``, ``JOBWIRE_MAX_JOB_FILE_BYTES``) or save less.
    Uncaught, the attempt fails with the error code ``file_too_large`` (no retry)."""

    code = "file_too_large"
    status = 413


class FileNotFound(JobwireError):
    """The job has no file of this name (its current attempt saved none, or the job was
    deleted). ``App.files(job_id)`` lists the ones it has."""

    code = "file_not_found"
    status = 404


class ShareNotFound(JobwireError):
    """The job is not shared with this team (or the share was already removed)."""

    code = "share_not_found"
    status = 404


class ShareEnded(Forbidden):
    """The share through which a job was seen expired or was removed: its streams end with
    this code (a WebSocket closes with 4403), and the job is not found any more."""

    code = "share_ended"


def registry() -> dict[str, type[JobwireError]]:
    """Every error class by its code, for clients that turn a JSON error back into one."""
    found: dict[str, type[JobwireError]] = {}
    todo: list[type[JobwireError]] = [JobwireError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.code, cls)
        todo.extend(cls.__subclasses__())
    return found
