"""One bad value must never stop the engine.

A task that hands jobwire text no store can keep (a lone surrogate, as ``os.fsdecode`` makes
of a file name that is not UTF-8; a NUL, which PostgreSQL refuses) in its message, step, log,
error or result ends with a clear error code, while the healthy jobs around it go on and a
job submitted afterwards runs. A write the database itself refuses (here: a trigger) is
written again on its own, so the rest of its batch goes through.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from jobwire import App, Progress
from jobwire.storable import storable
from jobwire.store.sql import SQLStore

from .server_fixtures import running_server

SURROGATE = "file-" + b"\xff".decode("utf-8", "surrogateescape")
NUL = "a\x00b"
REFUSED = "the store refuses this"
HEALTHY = 6


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> str:
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


def make_app(url: str) -> tuple[App, threading.Event]:
    app = App(url, workers=HEALTHY + 8, progress_interval=0.02, poll_interval=0.05)
    released = threading.Event()

    @app.task(name="healthy")
    def healthy(progress: Progress, n: int = 20) -> int:
        # Runs through the poisoned writes, and ends only after them: its own progress and
        # outcome are written by an engine that met every bad value first.
        for i in progress.iter(range(n), step="working"):
            if i == n // 2:
                released.wait(60)
        return n

    @app.task(name="bad")
    def bad(progress: Progress, field: str, text: str) -> Any:
        value = {"surrogate": SURROGATE, "nul": NUL}[text]
        progress.update(1, total=3, message="starting")
        if field == "message":
            progress.update(2, message=value)
        elif field == "step":
            progress.step(value)
        elif field == "log":
            progress.log(value)
        elif field == "error":
            raise RuntimeError(f"could not open {value}")
        elif field == "result":
            return {"name": value}
        elif field == "attribute":  # past the methods' checks: made storable on its way out
            progress.message = value
            progress.step_name = value
            progress.advance()
            return "done"
        return "unreachable"

    @app.task(name="refused")
    def refused(progress: Progress) -> str:
        progress.update(1, total=2, message=REFUSED)
        return "never stored"

    return app, released


EXPECTED = {
    "message": ("failed", "unstorable_value"),
    "step": ("failed", "unstorable_value"),
    "log": ("failed", "unstorable_value"),
    "error": ("failed", "task_error"),
    "result": ("failed", "result_not_serializable"),
    "attribute": ("succeeded", None),
}


@pytest.fixture
def poisoned(database: str) -> Iterator[tuple[App, threading.Event, str]]:
    app, released = make_app(database)
    yield app, released, database
    released.set()
    app.close()


def test_bad_text_in_every_field_ends_its_job_and_nothing_else(
    poisoned: tuple[App, threading.Event, str],
) -> None:
    app, released, _ = poisoned
    with app:
        healthy = [app.submit("healthy", {"n": 40}) for _ in range(HEALTHY)]
        bad = {
            (field, text): app.submit("bad", {"field": field, "text": text})
            for field in EXPECTED
            for text in ("surrogate", "nul")
        }
        for (field, text), job in bad.items():
            job.wait(timeout=30)
            status, code = EXPECTED[field]
            assert job.status.value == status, (field, text, job.record.error_message)
            assert job.record.error_code == code, (field, text, job.record.error_message)
            if code is not None:
                # The error says what was wrong, in text every store keeps.
                message = job.record.error_message or ""
                assert message == storable(message)
                if code == "unstorable_value":
                    assert field in message
                    assert ("NUL" if text == "nul" else "surrogate") in message
        attribute = bad[("attribute", "surrogate")].refresh().record
        assert attribute.message == storable(SURROGATE) and "\ufffd" in attribute.message
        released.set()
        for job in healthy:
            job.wait(timeout=30)
            assert job.status.value == "succeeded", job.record.error_message
            assert job.record.current == job.record.total == 40
        after = app.submit("healthy", {"n": 4})
        assert after.result(timeout=30) == 4
        assert app.worker is not None and app.worker.stats["dropped"] == 0


def _refuse_in_database(store: SQLStore, message: str) -> None:
    """A trigger that refuses any job row update setting ``message``: a value the database
    will never take, whatever jobwire checks before."""
    with store._writer.begin() as conn:
        if store.dialect == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER jobwire_test_refuse BEFORE UPDATE ON jobwire_jobs "
                f"WHEN NEW.message = '{message}' "
                "BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION jobwire_test_refuse() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.message = '{message}' THEN "
                "RAISE EXCEPTION 'refused by a trigger' USING ERRCODE = '22023'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER jobwire_test_refuse BEFORE UPDATE ON jobwire_jobs "
                "FOR EACH ROW EXECUTE FUNCTION jobwire_test_refuse()"
            )


def test_a_write_the_database_refuses_is_dropped_and_the_rest_goes_through(
    poisoned: tuple[App, threading.Event, str],
) -> None:
    app, released, _ = poisoned
    store = app.store
    assert isinstance(store, SQLStore)
    store.upgrade()
    _refuse_in_database(store, REFUSED)
    with app:
        healthy = [app.submit("healthy", {"n": 40}) for _ in range(HEALTHY)]
        refused = [app.submit("refused") for _ in range(3)]
        for job in refused:
            job.wait(timeout=30)
            # Its progress and its outcome were refused; a plain failure of ours was stored.
            assert job.status.value == "failed"
            assert job.record.error_code == "store_refused"
        released.set()
        for job in healthy:
            job.wait(timeout=30)
            assert job.status.value == "succeeded", job.record.error_message
        assert app.submit("healthy", {"n": 3}).result(timeout=30) == 3
        assert app.worker is not None
        assert app.worker.stats["dropped"] >= 2 * len(refused)  # a report and an outcome each


def test_unstorable_arguments_are_refused_at_submit(database: str) -> None:
    # On PostgreSQL any API user could stall the worker with a NUL in an argument that the
    # task copies into its message: the submit itself is refused now, over HTTP too.
    app = App(database)

    @app.task(name="echo")
    def echo(progress: Progress, text: str = "", extra: dict[str, Any] | None = None) -> str:
        progress.update(message=text)
        return text

    bodies = [
        b'{"text": "a\\u0000b"}',
        b'{"text": "\\ud800"}',
        b'{"extra": {"k": ["\\udcff"]}}',
        b'{"extra": {"\\u0000": 1}}',
    ]
    try:
        with running_server(app) as url:
            for body in bodies:
                r = httpx.post(
                    f"{url}/api/tasks/echo/jobs",
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
                assert r.status_code == 422, (body, r.text)
                error = r.json()["error"]
                assert error["code"] == "invalid_arguments"
                assert error["details"]["errors"][0]["type"] == "unstorable_value"
            assert sum(app.store.counts().values()) == 0
            ok = httpx.post(f"{url}/api/tasks/echo/jobs", json={"text": "fine"})
            assert ok.status_code == 202
    finally:
        app.close()


def test_nan_never_goes_out_as_json(sqlite_url: str) -> None:
    # JSON has no NaN: a result holding one fails the job, and no answer ever carries it.
    app = App(sqlite_url)

    @app.task(name="ratio")
    def ratio(progress: Progress, a: float, b: float) -> dict[str, float]:
        progress.update(1, total=1)
        return {"ratio": a / b if b else float("nan")}

    try:
        with running_server(app) as url, httpx.Client(base_url=url, timeout=10) as client:
            raw = b'{"a": NaN, "b": 1}'
            refused = client.post(
                "/api/tasks/ratio/jobs", content=raw, headers={"Content-Type": "application/json"}
            )
            assert refused.status_code == 422, refused.text
            job = client.post("/api/tasks/ratio/jobs", json={"a": 1, "b": 0}).json()
            snap = app.get(job["id"]).wait(timeout=30).record
            assert snap.status.value == "failed"
            assert snap.error_code == "result_not_serializable"
            assert "ratio" in (snap.error_message or "") and "nan" in (snap.error_message or "")
            for path in (f"/api/jobs/{job['id']}", f"/api/jobs/{job['id']}/result", "/api/jobs"):
                answer = client.get(path)
                assert "NaN" not in answer.text, path
                answer.json()  # strict JSON
            assert client.get(f"/api/jobs/{job['id']}/result").status_code == 409
    finally:
        app.close()
