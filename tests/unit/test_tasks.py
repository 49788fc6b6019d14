"""Task registration and argument validation, through a real App on the memory store."""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import Literal

import pytest

from jobwire import App, ConfigurationError, InvalidArguments, Progress, UnknownTask
from jobwire.tasks import Task
from jobwire.testing import MemoryBus, MemoryStore


class Engine(StrEnum):
    RULE = "rule"
    AI = "ai"


@pytest.fixture
def app() -> Iterator[App]:
    app = App(store=MemoryStore(), bus=MemoryBus())
    yield app
    app.close()


def jobs_in_store(app: App) -> int:
    return sum(app.store.counts().values())


def register_classify(app: App, **options) -> Task:
    @app.task(name="classify", **options)
    def classify(
        progress: Progress, file_id: str, limit: int = 500, engine: Engine = Engine.RULE
    ) -> dict:
        return {"file_id": file_id, "limit": limit, "engine": engine.value}

    return classify


# -- validation -----------------------------------------------------------------------


def test_valid_arguments_make_a_job_with_defaults_filled(app: App) -> None:
    register_classify(app)
    job = app.submit("classify", {"file_id": "f1", "limit": "7"})
    assert job.created
    stored = app.store.get(job.id)
    assert stored is not None
    assert stored.args == {"file_id": "f1", "limit": 7, "engine": "rule"}


@pytest.mark.parametrize(
    ("args", "argument"),
    [
        ({"file_id": "f1", "limit": "many"}, "limit"),
        ({"file_id": "f1", "engine": "gpt"}, "engine"),
        ({"limit": 3}, "file_id"),
        ({"file_id": "f1", "colour": "red"}, "colour"),
        ({"file_id": ["not", "a", "string"]}, "file_id"),
    ],
)
def test_bad_argument_is_named_and_no_job_is_written(app: App, args: dict, argument: str) -> None:
    register_classify(app)
    with pytest.raises(InvalidArguments) as info:
        app.submit("classify", args)
    err = info.value
    assert err.code == "invalid_arguments"
    assert argument in err.message
    assert "classify" in err.message
    locs = [e["loc"] for e in err.details["errors"]]
    assert [argument] in locs
    assert all(e["msg"] for e in err.details["errors"])
    assert jobs_in_store(app) == 0


def test_unknown_argument_message_lists_the_accepted_ones(app: App) -> None:
    register_classify(app)
    with pytest.raises(InvalidArguments) as info:
        app.submit("classify", {"file_id": "f1", "fileid": "x"})
    assert "file_id, limit, engine" in info.value.message


def test_every_bad_argument_is_reported(app: App) -> None:
    register_classify(app)
    with pytest.raises(InvalidArguments) as info:
        app.submit("classify", {"limit": "x", "engine": "y"})
    locs = sorted(e["loc"][0] for e in info.value.details["errors"])
    assert locs == ["engine", "file_id", "limit"]


def test_arguments_must_be_an_object(app: App) -> None:
    register_classify(app)
    with pytest.raises(InvalidArguments, match="as an object"):
        app.submit("classify", ["f1"])  # type: ignore[arg-type]


def test_the_progress_argument_cannot_be_passed(app: App) -> None:
    register_classify(app)
    with pytest.raises(InvalidArguments) as info:
        app.submit("classify", {"file_id": "f1", "progress": 1})
    assert [e["loc"] for e in info.value.details["errors"]] == [["progress"]]


def test_unknown_task(app: App) -> None:
    register_classify(app)
    with pytest.raises(UnknownTask) as info:
        app.submit("clasify", {"file_id": "f1"})
    assert "clasify" in info.value.message and "classify" in info.value.message


# -- schema ---------------------------------------------------------------------------


def test_schema_excludes_the_progress_parameter(app: App) -> None:
    task = register_classify(app)
    schema = task.schema()
    assert schema["type"] == "object"
    assert set(schema["properties"]) == {"file_id", "limit", "engine"}
    assert schema["required"] == ["file_id"]
    assert schema["properties"]["file_id"]["type"] == "string"
    assert schema["properties"]["limit"] == {"default": 500, "title": "Limit", "type": "integer"}
    assert schema["additionalProperties"] is False
    assert task.progress_param == "progress"


def test_progress_parameter_found_by_type_under_any_name(app: App) -> None:
    @app.task(name="reporter")
    def reporter(p: Progress, mode: Literal["fast", "slow"] = "fast") -> None: ...

    assert reporter.progress_param == "p"
    assert set(reporter.schema()["properties"]) == {"mode"}
    assert reporter.schema()["properties"]["mode"]["enum"] == ["fast", "slow"]


def test_task_without_progress(app: App) -> None:
    @app.task(name="plain")
    def plain(x: int) -> int:
        return x * 2

    assert plain.progress_param is None
    assert plain.schema()["required"] == ["x"]
    assert plain(x=4) == 8  # a direct call is a plain function call


def test_direct_call_gets_a_progress(app: App) -> None:
    task = register_classify(app)
    assert task(file_id="f9") == {"file_id": "f9", "limit": 500, "engine": "rule"}


# -- dedupe keys ----------------------------------------------------------------------


def test_dedupe_key_template(app: App) -> None:
    task = register_classify(app, dedupe_key="{file_id}:{engine}")
    values = task.validate({"file_id": "f1", "engine": "ai"})
    assert task.dedupe_key(values) == "classify:f1:ai"
    first = app.submit("classify", {"file_id": "f1", "engine": "ai"})
    again = app.submit("classify", {"file_id": "f1", "engine": "ai", "limit": 3})
    other = app.submit("classify", {"file_id": "f1", "engine": "rule"})
    assert first.created and not again.created and other.created
    assert again.id == first.id
    assert again.outcome == "deduplicated"
    assert other.id != first.id
    assert app.store.get(first.id).dedupe_key == "classify:f1:ai@local"  # per owner


def test_dedupe_keys_are_per_owner_unless_shared(app: App) -> None:
    task = register_classify(app, dedupe_key="{file_id}")
    alice = task.configure(owner="alice").submit(file_id="f1")
    bob = task.configure(owner="bob").submit(file_id="f1")
    assert alice.created and bob.created and alice.id != bob.id
    shared = app.task(name="shared", dedupe_key="{file_id}", dedupe_scope="shared")(
        lambda progress, file_id: None
    )
    first = shared.configure(owner="alice").submit(file_id="f1")
    second = shared.configure(owner="bob").submit(file_id="f1")
    assert second.outcome == "deduplicated" and second.id == first.id
    assert app.store.get(first.id).dedupe_key == "shared:f1"


def test_dedupe_key_callable_gets_python_values(app: App) -> None:
    seen = []

    def key(file_id: str, limit: int, engine: Engine) -> str:
        seen.append((file_id, limit, engine))
        return f"{file_id.lower()}-{engine.value}"

    task = register_classify(app, dedupe_key=key)
    assert task.dedupe_key(task.validate({"file_id": "F1", "limit": "3"})) == "classify:f1-rule"
    assert seen == [("F1", 3, Engine.RULE)]
    a = app.submit("classify", {"file_id": "F1"})
    b = app.submit("classify", {"file_id": "f1", "limit": 2})
    assert b.id == a.id and b.outcome == "deduplicated"


def test_no_dedupe_key_without_options(app: App) -> None:
    task = register_classify(app)
    assert task.dedupe_key(task.validate({"file_id": "f1"})) is None
    a = app.submit("classify", {"file_id": "f1"})
    b = app.submit("classify", {"file_id": "f1"})
    assert a.id != b.id


def test_cache_ttl_alone_keys_on_all_arguments(app: App) -> None:
    task = register_classify(app, cache_ttl=60)
    k1 = task.dedupe_key(task.validate({"file_id": "f1", "limit": 5}))
    k2 = task.dedupe_key(task.validate({"limit": 5, "file_id": "f1"}))
    k3 = task.dedupe_key(task.validate({"file_id": "f1", "limit": 6}))
    assert k1 is not None and k1.startswith("classify:")
    assert k1 == k2
    assert k1 != k3


@pytest.mark.parametrize(
    "template", ["{dataset_id}:eda", "{file_id}-{kind}", "{file_id.x}", "{}", "{0}"]
)
def test_unknown_template_field_is_a_configuration_error(app: App, template: str) -> None:
    with pytest.raises(ConfigurationError, match="dedupe_key"):
        register_classify(app, dedupe_key=template)
    assert "classify" not in app.tasks


# -- registration ---------------------------------------------------------------------


def test_var_positional_is_rejected(app: App) -> None:
    def star(progress: Progress, *files: str) -> None: ...

    with pytest.raises(ConfigurationError, match="files"):
        app.task(name="star")(star)
    assert "star" not in app.tasks


@pytest.mark.parametrize("kind", ["kwargs", "positional_only"])
def test_other_non_plain_parameters_are_rejected(app: App, kind: str) -> None:
    if kind == "kwargs":

        def fn(progress: Progress, **options: int) -> None: ...
    else:

        def fn(x: int, /, progress: Progress) -> None: ...

    with pytest.raises(ConfigurationError, match="plain named parameter"):
        app.task(name=kind)(fn)


def test_duplicate_task_name_is_rejected(app: App) -> None:
    register_classify(app)
    with pytest.raises(ConfigurationError, match="already registered"):
        register_classify(app)


@pytest.mark.parametrize(
    "options",
    [
        {"max_concurrency": 0},
        {"per_owner_limit": 0},
        {"retries": -1},
        {"timeout": 0},
        {"retry_backoff": -1},
    ],
)
def test_invalid_options_are_rejected(app: App, options: dict) -> None:
    with pytest.raises(ConfigurationError):
        register_classify(app, **options)


def test_default_task_name_is_module_and_function(app: App) -> None:
    @app.task
    def summarise(progress: Progress) -> None: ...

    assert summarise.name.endswith(".summarise")
    assert app.get_task(summarise.name) is summarise


def test_configure_fresh_runs_a_new_job_instead_of_the_cached_one(app: App) -> None:
    @app.task(name="cached", cache_ttl=60)
    def cached(progress: Progress, x: int) -> int:
        return x

    with app:
        first = cached.submit(x=1).wait(10)
        assert cached.submit(x=1).outcome == "cached"
        again = cached.configure(fresh=True).submit(x=1)
        assert (again.outcome, again.created) == ("created", True)
        assert again.id != first.id
        again.wait(10)
        assert app.submit("cached", {"x": 1}, fresh=True).created
    assert app.store.cache_stats()["cached"] == (1, 3)


def test_export_options_are_task_options(app: App) -> None:
    def rows(result: dict) -> list[dict]:
        return result["rows"]

    task = register_classify(app, export_rows=rows, export_columns=["a", "b"])
    assert task.options.export_rows is rows
    assert task.options.export_columns == ("a", "b")
