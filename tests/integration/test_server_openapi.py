"""The OpenAPI description is one a client generator can trust: checked by a schemathesis run
over the whole API of a real server (authentication on, tasks registered, SQLite and
PostgreSQL), with every check, in every phase, and no failure allowed; then the points it
used to find, one by one, and what ``OPTIONS`` answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import pytest
from pydantic import BaseModel, Field

from jobwire import App, Progress

from .server_util import running_server

SEED = 20261130
#: Examples per operation in the fuzzing phase (the coverage phase adds its own cases).
MAX_EXAMPLES = 25


class Size(BaseModel):
    width: Annotated[int, Field(ge=1, le=1000)]
    height: Annotated[int, Field(ge=1, le=1000)]


def tasks_app(database_url: str) -> App:
    """Tasks that end at once whatever their (bounded) arguments, so that streams of their
    jobs end too; one of each kind of argument schema, and one that fails."""
    app = App(database_url, progress_interval=0.05, poll_interval=0.1)

    @app.task(name="echo")
    def echo(
        progress: Progress,
        text: Annotated[str, Field(max_length=40)] = "",
        times: Annotated[int, Field(ge=0, le=3)] = 1,
    ) -> dict[str, str]:
        """Says it back, a few times."""
        return {"text": text * times}

    @app.task(name="shapes", steps=("measuring",))
    def shapes(
        progress: Progress,
        size: Size,
        color: Literal["red", "blue"] = "red",
        tags: Annotated[list[Annotated[str, Field(max_length=20)]], Field(max_length=4)] = [],  # noqa: B006
        ratio: Annotated[float, Field(ge=0, le=10)] = 1.0,
        fill: bool = False,
    ) -> int:
        progress.step("measuring", total=1)
        progress.advance()
        return size.width * size.height

    @app.task(name="report", dedupe_key="{dataset}", cache_ttl=60)
    def report(progress: Progress, dataset: Annotated[str, Field(max_length=30)]) -> str:
        return dataset

    @app.task(name="fails")
    def fails(progress: Progress, code: Annotated[int, Field(ge=0, le=9)] = 0) -> None:
        raise ValueError(f"failing on purpose ({code})")

    return app


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def served(database_url: str) -> Iterator[tuple[str, str, App]]:
    app = tasks_app(database_url)
    app.store.upgrade()
    _, key = app.store.keys.create_key("alice")
    try:
        with running_server(
            app, auth="token", submit_rate=1000, submit_burst=1000, heartbeat_seconds=0.5
        ) as base:
            yield base, key, app
    finally:
        app.close()


def schemathesis_failures(base: str, key: str) -> list[str]:
    """Run schemathesis (every phase: examples, coverage, fuzzing, stateful; every check)
    against the server's own /openapi.json, as `st run` would; return its failures."""
    import schemathesis
    from schemathesis import engine
    from schemathesis.config import SchemathesisConfig
    from schemathesis.engine import events

    config = SchemathesisConfig.from_str(
        f"""
        seed = {SEED}
        headers = {{ Authorization = "Bearer {key}" }}
        workers = 1
        request-timeout = 20
        [checks]
        enabled = true
        [generation]
        max-examples = {MAX_EXAMPLES}
        deterministic = true
        database = "none"
        """
    )
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json", config=config)
    found: list[str] = []
    for event in engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.failure_info is not None:
                        failure = check.failure_info.failure
                        interaction = event.recorder.interactions.get(case_id)
                        response = interaction.response if interaction else None
                        answer = (
                            f"{response.status_code} {response.content[:300]!r}"
                            if response is not None
                            else "no response"
                        )
                        found.append(
                            f"{event.recorder.label}: {check.name}: {failure.title}\n"
                            f"{failure.message}\n{check.failure_info.code_sample}\n"
                            f"answered: {answer}"
                        )
        elif isinstance(event, events.NonFatalError):
            found.append(f"{event.label}: error: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            found.append(f"fatal: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            found += [f"{f.operation}: {f.title}: {f.message}" for f in event.failures]
    return sorted(set(found))


@pytest.mark.timeout(180)
def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(
    served: tuple[str, str, App],
) -> None:
    base, key, _ = served
    failures = schemathesis_failures(base, key)  # its length is bounded by the 180 s timeout
    assert not failures, f"{len(failures)} failure(s):\n\n" + "\n\n".join(failures)


# -- the points it found, one by one (SQLite only) --------------------------------------------


@pytest.fixture(scope="module")
def spec_and_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], str]]:
    db = Path(tmp_path_factory.mktemp("openapi")) / "jobwire.db"
    app = tasks_app(f"sqlite:///{db}")
    try:
        with running_server(app, auth="token") as base:
            r = httpx.get(f"{base}/openapi.json")
            assert r.status_code == 200
            yield r.json(), base
    finally:
        app.close()


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_each_task_has_a_submit_operation_whose_body_is_its_arguments(
    spec_and_base: tuple[dict[str, Any], str],
) -> None:
    spec, _ = spec_and_base
    paths = spec["paths"]
    assert "/api/tasks/{task}/jobs" not in paths
    submits = sorted(p for p in paths if p.startswith("/api/tasks/") and p.endswith("/jobs"))
    assert submits == [f"/api/tasks/{t}/jobs" for t in ("echo", "fails", "report", "shapes")]
    shapes = paths["/api/tasks/shapes/jobs"]["post"]
    body = shapes["requestBody"]
    assert body["required"] is True  # `size` has no default
    assert list(body["content"]) == ["application/json"]
    schema = resolve(spec, body["content"]["application/json"]["schema"])
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"size", "color", "tags", "ratio", "fill"}
    assert schema["required"] == ["size"]
    size = resolve(spec, schema["properties"]["size"])
    assert size["properties"]["width"]["maximum"] == 1000
    assert schema["properties"]["color"]["enum"] == ["red", "blue"]
    echo = paths["/api/tasks/echo/jobs"]["post"]
    assert echo["requestBody"]["required"] is False  # every argument has a default
    assert echo["description"] == "Says it back, a few times."
    text = resolve(spec, echo["requestBody"]["content"]["application/json"]["schema"])
    assert text["properties"]["text"]["pattern"] == "^[^\\u0000]*$"  # the stores refuse NUL
    assert {"415", "422"} <= set(echo["responses"])
    assert echo["responses"]["202"]["links"]["job"]["parameters"] == {
        "job_id": "$response.body#/id"
    }


def test_credentials_are_security_schemes(spec_and_base: tuple[dict[str, Any], str]) -> None:
    spec, _ = spec_and_base
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["streamToken"]["in"] == "query"
    paths = spec["paths"]
    both = [{"bearer": []}, {"streamToken": []}]
    assert paths["/api/jobs/{job_id}"]["get"]["security"] == both
    assert paths["/api/jobs/{job_id}/events"]["get"]["security"] == both
    assert paths["/api/jobs/{job_id}"]["delete"]["security"] == [{"bearer": []}]
    assert paths["/api/tasks"]["get"]["security"] == [{"bearer": []}]
    assert paths["/api/health"]["get"]["security"] == []
    assert paths["/api/hooks/{job_id}"]["post"]["security"] == []


def test_parameters_are_what_is_sent(spec_and_base: tuple[dict[str, Any], str]) -> None:
    spec, _ = spec_and_base
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for p in op.get("parameters", []):
                assert "anyOf" not in p["schema"], (method, path, p)  # never `null`
                assert p["name"] != "token", (method, path)  # a security scheme
    params = {p["name"]: p for p in spec["paths"]["/api/jobs"]["get"]["parameters"]}
    import re

    pattern = re.compile(params["cursor"]["schema"]["pattern"])
    assert pattern.match("") and pattern.match("1764476328.1234567~01a22ab3a2a53fe0")
    assert not pattern.match("abc") and not pattern.match("inf~x")
    events = spec["paths"]["/api/jobs/{job_id}/events"]["get"]
    last = next(p for p in events["parameters"] if p["name"] == "Last-Event-ID")
    assert last["schema"] == {**last["schema"], "type": "string", "pattern": "^[0-9]*$"}


def test_the_event_stream_is_documented_as_events(
    spec_and_base: tuple[dict[str, Any], str],
) -> None:
    spec, _ = spec_and_base
    answer = spec["paths"]["/api/jobs/{job_id}/events"]["get"]["responses"]["200"]
    assert list(answer["content"]) == ["text/event-stream"]
    event = answer["content"]["text/event-stream"]["schema"]
    assert event["required"] == ["id", "event", "data"]
    data = event["properties"]["data"]
    assert data["contentMediaType"] == "application/json"
    message = resolve(spec, data["contentSchema"])
    assert set(message["required"]) == {"type", "seq", "job"}


def test_errors_are_documented_in_the_one_shape(spec_and_base: tuple[dict[str, Any], str]) -> None:
    spec, _ = spec_and_base
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for status, answer in op["responses"].items():
                if status.startswith("4"):
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (
                        method,
                        path,
                        status,
                    )


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/api/jobs/some-id", "DELETE, GET, OPTIONS"),
        ("/api/jobs", "GET, OPTIONS"),
        ("/api/tasks/echo/jobs", "OPTIONS, POST"),
        ("/api/jobs/some-id/cancel", "OPTIONS, POST"),
        ("/api/health", "GET, OPTIONS"),
    ],
)
def test_options_answers_what_the_path_allows(
    spec_and_base: tuple[dict[str, Any], str], path: str, allow: str
) -> None:
    spec, base = spec_and_base
    r = httpx.options(base + path)  # no credentials needed: it says what /openapi.json says
    assert r.status_code == 204, r.text
    assert r.headers["allow"] == allow
    assert r.content == b""
    # A method the path does not serve: 405 with the same Allow.
    r = httpx.request("PATCH", base + path)
    assert r.status_code == 405
    assert r.headers["allow"] == allow
    assert r.json()["error"]["code"] == "method_not_allowed"
    documented = spec["paths"].get(path.replace("some-id", "{job_id}"), {})
    assert {m.upper() for m in documented} | {"OPTIONS"} == set(allow.split(", "))


def test_options_on_an_unknown_path_is_404(spec_and_base: tuple[dict[str, Any], str]) -> None:
    _, base = spec_and_base
    r = httpx.options(f"{base}/api/nope")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_a_cors_preflight_is_still_answered_by_cors(tmp_path: Path) -> None:
    # OPTIONS is answered where routing fails, inside the CORS layer: a preflight (Origin and
    # Access-Control-Request-Method) never reaches it; a plain OPTIONS does.
    front = "http://front.example"
    app = tasks_app(f"sqlite:///{tmp_path / 'jobwire.db'}")
    try:
        with running_server(app, auth="token", cors_origins=[front]) as base:
            url = f"{base}/api/jobs/some-id"
            preflight = {"Origin": front, "Access-Control-Request-Method": "DELETE"}
            r = httpx.options(url, headers=preflight)
            assert r.status_code == 200, r.text
            assert r.headers["access-control-allow-origin"] == front
            assert "DELETE" in r.headers["access-control-allow-methods"]
            r = httpx.options(url, headers={"Origin": front})
            assert (r.status_code, r.headers["allow"]) == (204, "DELETE, GET, OPTIONS")
    finally:
        app.close()


def test_downloads_and_fresh_submits_are_documented(
    spec_and_base: tuple[dict[str, Any], str],
) -> None:
    spec, _ = spec_and_base
    paths = spec["paths"]
    export = paths["/api/jobs/{job_id}/export"]["get"]
    fmt = next(p for p in export["parameters"] if p["name"] == "format")
    assert fmt["schema"]["enum"] == ["json", "csv", "zip"]
    assert set(export["responses"]["200"]["content"]) == {
        "application/json",
        "text/csv",
        "application/zip",
    }
    assert "Content-Disposition" in export["responses"]["200"]["headers"]
    assert {"409", "422"} <= set(export["responses"])
    file = paths["/api/jobs/{job_id}/files/{name}"]["get"]
    headers = {p["name"].lower() for p in file["parameters"] if p["in"] == "header"}
    assert headers == {"range", "if-range", "if-none-match"}
    assert {"200", "206", "304", "404", "416"} <= set(file["responses"])
    assert file["responses"]["206"]["content"]["*/*"]["schema"]["format"] == "binary"
    assert "Content-Range" in file["responses"]["206"]["headers"]
    both = [{"bearer": []}, {"streamToken": []}]
    assert file["security"] == export["security"] == both  # a download link with ?token=
    assert paths["/api/jobs/{job_id}/files"]["get"]["security"] == both
    submit = paths["/api/tasks/report/jobs"]["post"]
    fresh = next(p for p in submit["parameters"] if p["name"] == "fresh")
    assert (fresh["in"], fresh["schema"]["type"]) == ("query", "boolean")
    assert set(submit["responses"]["202"]["links"]) >= {"files", "export"}
