"""The code-analysis example's task, run by a real App on SQLite and through a real uvicorn
server: its steps file by file, its result, the CSV and the ZIP of pure functions, the
result cache and its statistics, and the page's own routes (the trees, the demo users and
when they are offered). Every analysis is of ``json``, the smallest tree."""

from __future__ import annotations

import csv
import io
import typing
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from jobwire import App, JobStatus
from jobwire.examples import code_analysis
from jobwire.examples import register as register_examples
from jobwire.examples import routes as example_routes
from jobwire.examples.code_analysis.task import TASK, TreeName
from jobwire.examples.code_analysis.web import DEMO_USERS, DemoKeys
from jobwire.server import create_app
from jobwire.settings import Settings

from .server_fixtures import free_socket, serving

CSV_HEADER = ["File Path", "LOC", "UI %", "Pure Functions", "Classification", "Web Ready"]
#: With Python 3.11 to 3.13 json has these files; the ones with pure functions get a ZIP
#: member (the unit tests pin the counts).
JSON_FILES = {"json/__init__.py", "json/decoder.py", "json/encoder.py", "json/scanner.py"}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    # progress_interval=0: every file is an event, so the steps can be followed file by file.
    app = App(f"sqlite:///{tmp_path}/ca.db", progress_interval=0, poll_interval=0.05)
    try:
        yield app
    finally:
        app.close()


def served(app: App, **settings: Any) -> typing.ContextManager[str]:
    """``jobwire serve --examples`` as the CLI builds it, on a free loopback port: the
    examples are registered on ``app``."""
    merged = Settings.model_validate({**app.settings.model_dump(), **settings})
    api = create_app(app, merged, pages=register_examples(app))
    api.router.routes.extend(example_routes(app))
    config = uvicorn.Config(api, log_level="warning", ws_ping_interval=None, lifespan="on")
    return serving(uvicorn.Server(config), free_socket())


def test_the_tree_names_are_the_sources_trees() -> None:
    assert typing.get_args(TreeName) == code_analysis.TREE_IDS


def test_steps_file_by_file_result_exports_and_cache(app: App) -> None:
    code_analysis.register(app)
    with app:
        job = app.submit(TASK, {"tree": "json"}, owner="ana").wait(timeout=60)
        assert job.status == JobStatus.SUCCEEDED
        result = job.result()
        again = app.submit(TASK, {"tree": "json"}, owner="ana")
        assert again.id == job.id  # the same tree and Python: the cached job, at once
        assert again.status == JobStatus.SUCCEEDED
        stats = app.store.cache_stats()[TASK]
        assert (stats.hits, stats.misses) == (1, 1)

        # Someone else's analysis is their own (dedupe keys are per owner): a miss.
        other = app.submit(TASK, {"tree": "json"}, owner="bo").wait(timeout=60)
        assert other.id != job.id
        assert app.store.cache_stats()[TASK].misses == 2

        events = [e["job"] for e in app.store.events(job.id)]
        csv_bytes = b"".join(app.export(job.id, "csv"))
        zip_bytes = b"".join(app.export(job.id, "zip"))

    # The steps in order, each file counted in parsing and in classifying.
    steps = [e["step"] for e in events if e["step"]]
    assert list(dict.fromkeys(steps)) == list(code_analysis.STEPS)
    files = result["summary"]["files"]
    assert files == len(result["files"]) >= len(JSON_FILES)
    for step in ("parsing", "classifying"):
        counts = [e["current"] for e in events if e["step"] == step]
        assert counts == list(range(files + 1)), step
        assert {e["total"] for e in events if e["step"] == step} == {files}
    assert any(e["message"] == "json/decoder.py" for e in events if e["step"] == "parsing")
    assert (
        job.snapshot["message"]
        == f"json · {files} files · {result['summary']['pure_functions']} pure functions"
    )

    # The result: every file, all of them Logic, the pure functions found in json.
    paths = {f["path"] for f in result["files"]}
    assert paths >= JSON_FILES
    assert {f["classification"] for f in result["files"]} == {"Logic"}
    assert result["tree"] == "json"
    assert (
        result["summary"]["pure_functions"]
        == sum(len(f["pure_functions"]) for f in result["files"])
        > 0
    )
    assert len(result["fingerprint"]) == 64

    check_csv(csv_bytes, result)
    check_zip(zip_bytes, result)


def check_csv(data: bytes, result: dict[str, Any]) -> None:
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data[3:].decode("utf-8"))))
    assert rows[0] == CSV_HEADER
    by_path = {f["path"]: f for f in result["files"]}
    assert len(rows) == len(by_path) + 1
    for path, loc, ui, pure, classification, ready in rows[1:]:
        report = by_path[path]
        assert int(loc) == report["loc"] > 0
        assert float(ui) == report["ui_percent"] == 0.0
        assert int(pure) == len(report["pure_functions"])
        assert classification == report["classification"]
        assert ready == ("true" if report["web_ready"] else "false")


def check_zip(data: bytes, result: dict[str, Any]) -> None:
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    names = archive.namelist()
    with_pure = [f for f in result["files"] if f["pure_functions"]]
    assert with_pure
    assert names == [f["path"].removesuffix(".py") + "_pure.py" for f in with_pure] + ["README.md"]
    for report in with_pure:
        text = archive.read(report["path"].removesuffix(".py") + "_pure.py").decode()
        compile(text, report["path"], "exec")  # each one is Python
        lines = text.splitlines()
        for function in report["pure_functions"]:
            # Each function follows a comment naming its file and its lines.
            comment = f"# from {report['path']}, lines "
            at = next(
                i
                for i, line in enumerate(lines)
                if line.strip().startswith(comment)
                and line.strip().endswith(f"-{function['end_lineno']}")
            )
            name = function["name"].rpartition(".")[2]
            assert f"def {name}(" in "\n".join(lines[at + 1 : at + 4])
    readme = archive.read("README.md").decode()
    assert readme.startswith("# Pure functions of json")
    assert "## Moving the logic to a web service" in readme
    assert f"Pure functions: {result['summary']['pure_functions']} of" in readme


def test_served_cache_statistics_exports_and_page(app: App) -> None:
    with served(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        first = http.post(f"/api/tasks/{TASK}/jobs", json={"tree": "json"})
        assert first.status_code == 202, first.text
        job_id = first.json()["id"]
        status = first.json()["status"]
        while status not in ("succeeded", "failed", "cancelled"):
            status = http.get(f"/api/jobs/{job_id}", params={"wait": 10}).json()["status"]
        assert status == "succeeded"

        second = http.post(f"/api/tasks/{TASK}/jobs", json={"tree": "json"})
        assert second.status_code == 200, second.text
        assert (second.json()["id"], second.json()["outcome"]) == (job_id, "cached")
        cache = http.get("/api/stats").json()["cache"][TASK]
        assert cache == {"hits": 1, "misses": 1, "hit_rate": 0.5}

        exported = http.get(f"/api/jobs/{job_id}/export", params={"format": "csv"})
        assert exported.status_code == 200
        assert exported.content.startswith(b"\xef\xbb\xbfFile Path,LOC,UI %,Pure Functions,")
        archive = http.get(f"/api/jobs/{job_id}/export", params={"format": "zip"})
        assert "README.md" in zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
        result = http.get(f"/api/jobs/{job_id}/result").json()
        assert http.get(f"/api/jobs/{job_id}/export").json() == result

        refused = http.post(f"/api/tasks/{TASK}/jobs", json={"tree": "../etc"})
        assert refused.status_code == 422
        steps = {t["name"]: t for t in http.get("/api/tasks").json()["tasks"]}[TASK]["steps"]
        assert steps == list(code_analysis.STEPS)

        page = http.get("/examples/code-analysis")
        assert page.status_code == 200
        assert "../static/jobwire.js" in page.text
        trees = http.get("/examples/code-analysis/trees").json()["trees"]
        assert [t["id"] for t in trees] == list(code_analysis.TREE_IDS)
        assert all("path" not in t for t in trees)


def test_demo_users_on_a_loopback_server(app: App) -> None:
    with served(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        answer = http.get("/examples/code-analysis/demo-users")
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "no-store"
        users = {u["id"]: u for u in answer.json()["users"]}
        assert users["lead"]["roles"] == ["teamlead"]
        assert users["lead"]["teams"] == users["member"]["teams"] == ["platform"]
        assert "platform" not in users["outsider"]["teams"]
        # The same keys on the next request.
        again = http.get("/examples/code-analysis/demo-users").json()["users"]
        assert [u["token"] for u in again] == [users[d.id]["token"] for d in DEMO_USERS]
        # Without authentication, a demo user's key is that user: the lead's job is theirs.
        lead = {"Authorization": f"Bearer {users['lead']['token']}"}
        submitted = http.post(f"/api/tasks/{TASK}/jobs", json={"tree": "json"}, headers=lead)
        assert submitted.json()["owner"] == "demo-lead"
        # Through a proxy, the request did not come from this machine.
        proxied = http.get(
            "/examples/code-analysis/demo-users", headers={"X-Forwarded-For": "203.0.113.9"}
        )
        assert proxied.status_code == 404
        assert "loopback" in proxied.json()["error"]["message"]

    # The keys are real keys of the store, with their roles and teams.
    for demo in DEMO_USERS:
        key = app.store.keys.find_key(users[demo.id]["token"])
        assert key is not None
        assert (key.user, set(key.roles), set(key.teams)) == (
            demo.user,
            set(demo.roles),
            set(demo.teams),
        )


def test_demo_users_are_not_offered_with_authentication(app: App) -> None:
    with served(app, auth="token") as url:
        answer = httpx.get(f"{url}/examples/code-analysis/demo-users")
    assert answer.status_code == 404
    assert not [k for k, _, _ in app.store.keys.list_keys() if k.user.startswith("demo-")]


def test_demo_keys_are_found_again_and_replaced_once_revoked(app: App) -> None:
    first = DemoKeys(app).secrets()
    assert DemoKeys(app).secrets() == first  # as after a restart: found by user, reused
    lead = app.store.keys.find_key(first["lead"])
    assert lead is not None
    assert app.store.keys.revoke_key(lead.id)
    after = DemoKeys(app).secrets()
    assert after["lead"] != first["lead"]
    assert {k: v for k, v in after.items() if k != "lead"} == {
        k: v for k, v in first.items() if k != "lead"
    }
    live = [k for k, _, revoked in app.store.keys.list_keys() if revoked is None]
    assert sorted(k.user for k in live) == sorted(d.user for d in DEMO_USERS)
