"""Tasks: registered functions, their options, and argument validation from type hints."""

from __future__ import annotations

import hashlib
import importlib
import inspect
import string
import time
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypedDict, Unpack

import pydantic
from pydantic import ConfigDict

from .errors import ConfigurationError, InvalidArguments
from .notify.policy import check_url
from .progress import Progress
from .snapshot import JobRecord, dumps, new_job_id
from .storable import find_unstorable, problem

if TYPE_CHECKING:
    from .job import Job

DedupeKey = str | Callable[..., str]
ExportFormat = Literal["json", "csv", "zip"]
#: The formats a job is exported in (``App.export``, ``GET /api/jobs/{id}/export``).
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("json", "csv", "zip")
#: An exporter: a function of the export's context (:class:`jobwire.export.ExportContext`)
#: returning the bytes (an iterable of bytes, or bytes, or text).
Exporter = Callable[[Any], Any]
#: Longest dedupe key stored as it is; longer ones are stored as their hash.
MAX_DEDUPE_KEY = 500


@dataclass(frozen=True, slots=True)
class TaskOptions:
    """How a task's jobs are run. Kept apart from the task's own arguments."""

    name: str
    max_concurrency: int | None = None
    """Running jobs of this task at once, across all workers."""
    per_owner_limit: int | None = None
    """Live (queued, running or waiting) jobs of this task per owner; more is refused."""
    dedupe_key: DedupeKey | None = None
    """A template of the arguments (``"{dataset_id}:eda"``) or a callable of them: while a
    job with the same key is live, submitting returns that job."""
    cache_ttl: float | None = None
    """Seconds a succeeded job's result is returned for a submit with the same key."""
    dedupe_scope: Literal["owner", "shared"] = "owner"
    """``owner``: keys are per owner, so one user never receives another's job. ``shared``:
    one live job per key for everyone (the HTTP API answers 409 ``duplicate_job`` to a user
    who may not see the existing job)."""
    retries: int = 0
    retry_backoff: float = 1.0
    """Seconds before the first retry; doubled at each further attempt (at most 5 minutes)."""
    timeout: float | None = None
    """Seconds an attempt may run before it fails with error code ``timeout``."""
    steps: tuple[str, ...] = ()
    """The steps the task goes through, for display (``init``, ``processing``…)."""
    description: str = ""
    export_rows: Callable[[Any], Iterable[Mapping[str, Any]]] | None = None
    """The rows of a CSV export, as a function of the result (``lambda r: r["files"]``)."""
    export_columns: tuple[str, ...] | None = None
    """The CSV's columns, in order (other keys are left out). Default: every key of the
    rows, in the order first met."""
    notify_url: str | None = None
    """Where the end of each of its jobs is notified (a signed ``job.succeeded``,
    ``job.failed`` or ``job.cancelled`` event), unless the submit names another; default:
    the ``notify_url`` setting."""

    def __post_init__(self) -> None:
        for option, value in (
            ("max_concurrency", self.max_concurrency),
            ("per_owner_limit", self.per_owner_limit),
        ):
            if value is not None and value < 1:
                raise ConfigurationError(f"Expected {option} >= 1, but got {value!r}")
        if (
            self.retries < 0
            or (self.timeout is not None and self.timeout <= 0)
            or self.retry_backoff < 0
        ):
            raise ConfigurationError(
                f"Expected retries >= 0, retry_backoff >= 0 and timeout > 0, but got "
                f"{self.retries!r}, {self.retry_backoff!r}, {self.timeout!r}"
            )
        if self.notify_url is not None:
            try:  # private addresses are checked at submit, against the app's settings
                check_url(self.notify_url, allow_private=True)
            except ValueError as exc:
                raise ConfigurationError(f"notify_url of task {self.name!r}: {exc}") from None

    @classmethod
    def of(cls, fn: Callable[..., Any], **options: Unpack[TaskKwargs]) -> TaskOptions:
        """The options of ``fn`` registered with ``options`` (``App.task``'s keywords). Its
        name defaults to ``module.function`` (the bare function name in ``__main__``)."""
        values: dict[str, Any] = dict(options)
        if values.get("name") is None:
            module = fn.__module__
            values["name"] = (
                fn.__name__
                if module == "__main__"
                else f"{module.rsplit('.', 1)[-1]}.{fn.__name__}"
            )
        values["steps"] = tuple(values.get("steps", ()))
        if values.get("export_columns") is not None:
            values["export_columns"] = tuple(values["export_columns"])
        values["description"] = (fn.__doc__ or "").strip()
        return cls(**values)


class TaskKwargs(TypedDict, total=False):
    """The keywords of :meth:`App.task <jobwire.App.task>`: see :class:`TaskOptions`."""

    name: str | None
    max_concurrency: int | None
    per_owner_limit: int | None
    dedupe_key: DedupeKey | None
    cache_ttl: float | None
    dedupe_scope: Literal["owner", "shared"]
    retries: int
    retry_backoff: float
    timeout: float | None
    steps: Sequence[str]
    export_rows: Callable[[Any], Iterable[Mapping[str, Any]]] | None
    export_columns: Sequence[str] | None
    notify_url: str | None


class Submits(Protocol):
    """What a :class:`Task` needs of the App it is registered with."""

    def submit(
        self,
        task: str,
        args: dict[str, Any] | None = None,
        *,
        owner: str | None = None,
        delay: float | None = None,
        fresh: bool = False,
        notify_url: str | None = None,
    ) -> Job: ...


class Task:
    """A registered function. Made by :meth:`App.task`; submit it with :meth:`submit`."""

    def __init__(self, app: Submits, fn: Callable[..., Any], options: TaskOptions) -> None:
        self.app = app
        self.fn = fn
        self.options = options
        self.name = options.name
        self.is_async = inspect.iscoroutinefunction(fn)
        self.progress_param, self.model = _argument_model(fn, options.name)
        self._template_fields: tuple[str, ...] = ()
        self.exporters: dict[ExportFormat, Exporter] = {}
        """This task's own exporters by format (:meth:`exporter`)."""
        key = options.dedupe_key
        if isinstance(key, str):
            # A field is None for literal text, "" for a positional {} (never an argument).
            fields = [f for _, f, _, _ in string.Formatter().parse(key) if f is not None]
            self._template_fields = tuple(fields)
            unknown = [f for f in self._template_fields if f not in self.model.model_fields]
            if unknown:
                raise ConfigurationError(
                    f"dedupe_key {key!r} of task {options.name!r} names {unknown}, "
                    f"which are not arguments of the task"
                )
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def __repr__(self) -> str:
        return f"<Task {self.name}>"

    # -- arguments ----------------------------------------------------------------------

    def validate(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Check ``args`` against the type hints; return them as JSON-ready values.

        Raises InvalidArguments naming each wrong argument and why; no job is created."""
        if not isinstance(args, Mapping):
            raise InvalidArguments(
                f"Expected the arguments of {self.name!r} as an object, but got "
                f"{type(args).__name__}",
                errors=[{"loc": [], "msg": "arguments must be an object", "type": "type"}],
            )
        try:
            model = self.model.model_validate(dict(args))
        except pydantic.ValidationError as exc:
            accepted = ", ".join(self.model.model_fields) or "no arguments"
            errors = [
                {
                    "loc": list(e["loc"]),
                    "msg": f"not an argument of this task (it takes: {accepted})"
                    if e["type"] == "extra_forbidden"
                    else e["msg"],
                    "type": e["type"],
                }
                for e in exc.errors(include_url=False, include_context=False)
            ]
            where = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in errors
            )
            raise InvalidArguments(
                f"Invalid arguments for task {self.name!r}: {where}", errors=errors
            ) from None
        values = model.model_dump(mode="json")
        # Both: pydantic turns some values it cannot dump (NaN inside an `Any`) into None.
        found = find_unstorable(args) or find_unstorable(values)
        if found is not None:
            loc, reason = found
            where = ".".join(str(p) for p in loc) or "arguments"
            raise InvalidArguments(
                f"Invalid arguments for task {self.name!r}: {where}: {reason}; it cannot be "
                "stored or sent as JSON",
                errors=[{"loc": loc, "msg": reason, "type": "unstorable_value"}],
            )
        return values

    def python_args(self, stored: Mapping[str, Any]) -> dict[str, Any]:
        """The stored JSON arguments as the Python values the function expects."""
        model = self.model.model_validate(dict(stored))
        return {name: getattr(model, name) for name in self.model.model_fields}

    def schema(self) -> dict[str, Any]:
        """JSON Schema of the arguments (the REST API and the dashboard's forms use it)."""
        return self.model.model_json_schema()

    def dedupe_key(self, args: Mapping[str, Any], owner: str | None = None) -> str | None:
        """The dedupe key for validated ``args``: ``task:key``, and ``@owner`` after it when
        the task's ``dedupe_scope`` is ``owner`` and an owner is given."""
        key = self.options.dedupe_key
        if key is None:
            if not self.options.cache_ttl:
                return None
            rendered = hashlib.sha256(dumps(_sorted(args)).encode()).hexdigest()[:32]
        elif isinstance(key, str):
            rendered = key.format(**{f: args[f] for f in self._template_fields})
        else:
            rendered = str(key(**self.python_args(args)))
        if self.options.dedupe_scope == "owner" and owner is not None:
            full = f"{self.name}:{rendered}@{owner}"
        else:
            full = f"{self.name}:{rendered}"
        if len(full) > MAX_DEDUPE_KEY or problem(full) is not None:
            # Too long (or odd) to store as it is: its hash keeps it unique.
            return (
                f"{self.name}:#" + hashlib.sha256(full.encode("utf-8", "surrogatepass")).hexdigest()
            )
        return full

    # -- submitting ---------------------------------------------------------------------

    def new_job(
        self,
        values: dict[str, Any],
        owner: str,
        *,
        delay: float | None = None,
        estimated: float | None = None,
        notify_url: str | None = None,
    ) -> JobRecord:
        """The record of a new job of this task, with validated arguments ``values``."""
        now = time.time()
        return JobRecord(
            id=new_job_id(),
            task=self.name,
            owner=owner,
            args=values,
            created_at=now,
            run_after=now + delay if delay else now,
            max_attempts=self.options.retries + 1,
            timeout=self.options.timeout,
            dedupe_key=self.dedupe_key(values, owner),
            estimated_seconds=estimated,
            notify_url=notify_url,
        )

    def submit(self, **args: Any) -> Job:
        """Submit a job with these arguments, owned by the app's default owner.

        ```python
        job = classify.submit(file_id="f1", engine="rule")
        job.wait()
        ```
        """
        return self.app.submit(self.name, args)

    def configure(
        self,
        *,
        owner: str | None = None,
        delay: float | None = None,
        fresh: bool = False,
        notify_url: str | None = None,
    ) -> Submitter:
        """Options for one submit: ``task.configure(owner="alice").submit(x=1)``.
        ``fresh=True`` runs a new job even when a cached result would answer; ``notify_url``
        is where its end is notified."""
        return Submitter(self, owner=owner, delay=delay, fresh=fresh, notify_url=notify_url)

    def exporter(self, format: ExportFormat) -> Callable[[Exporter], Exporter]:
        """Register a function as this task's exporter for ``format`` (``json``, ``csv`` or
        ``zip``), used instead of the default one. It receives an
        :class:`~jobwire.export.ExportContext` and returns the bytes: an iterable of bytes
        (streamed), bytes, or text.

        ```python
        @analyse.exporter("zip")
        def pure_functions(ctx: ExportContext) -> Iterable[bytes]:
            return ctx.zip((f"{f['name']}_pure.py", f["code"]) for f in ctx.result["files"])
        ```
        """
        if format not in EXPORT_FORMATS:
            raise ConfigurationError(
                f"Expected an export format among {', '.join(EXPORT_FORMATS)}, but got {format!r}"
            )

        def register(fn: Exporter) -> Exporter:
            self.exporters[format] = fn
            return fn

        return register

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function directly (no job), with a Progress that goes nowhere."""
        if self.progress_param and self.progress_param not in kwargs:
            kwargs[self.progress_param] = Progress()
        return self.fn(*args, **kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled by reference, so a process pool finds it by importing its module.
        return (load_function, (self.fn.__module__, self.fn.__qualname__))


class Submitter:
    def __init__(
        self,
        task: Task,
        *,
        owner: str | None,
        delay: float | None,
        fresh: bool = False,
        notify_url: str | None = None,
    ) -> None:
        self.task = task
        self.owner = owner
        self.delay = delay
        self.fresh = fresh
        self.notify_url = notify_url

    def submit(self, **args: Any) -> Job:
        return self.task.app.submit(
            self.task.name,
            args,
            owner=self.owner,
            delay=self.delay,
            fresh=self.fresh,
            notify_url=self.notify_url,
        )


def load_function(module: str, qualname: str) -> Callable[..., Any]:
    """The task function at ``module:qualname``, whether or not it was decorated there."""
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise ConfigurationError(
                f"Cannot find {module}:{qualname} in a child process: tasks run with "
                "executor='processes' must be module-level functions"
            )
    fn = obj.fn if isinstance(obj, Task) else obj
    if not callable(fn):
        raise ConfigurationError(f"{module}:{qualname} is not callable")
    return fn


def _sorted(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _argument_model(
    fn: Callable[..., Any], name: str
) -> tuple[str | None, type[pydantic.BaseModel]]:
    """The pydantic model of ``fn``'s arguments, and the name of its Progress parameter."""
    sig = inspect.signature(fn)
    try:
        # include_extras keeps Annotated[...] constraints (Field(pattern=…), validators).
        hints = typing.get_type_hints(fn, include_extras=True)
    except (NameError, TypeError) as exc:
        raise ConfigurationError(f"Cannot read the type hints of task {name!r}: {exc}") from exc
    fields: dict[str, Any] = {}
    progress_param: str | None = None
    for param in sig.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise ConfigurationError(
                f"Task {name!r}: parameter {param.name!r} must be a plain named parameter "
                "(no *args, **kwargs or positional-only)"
            )
        hint = hints.get(param.name, Any)
        if hint is Progress or (param.name == "progress" and param.name not in hints):
            progress_param = param.name
            continue
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (hint, default)
    model = pydantic.create_model(
        f"{name.replace('.', '_')}_arguments",
        __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=False),
        **fields,
    )
    return progress_param, model
