"""`jobwire export` and `jobwire files` as subprocesses, reading a real SQLite file through
the App (the --url side is in tests/integration/test_client_files.py)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobwire import App
from jobwire.snapshot import short_id
from tests.apps.outputs import NAMES, big_bytes, register

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.apps.outputs:app"
BIG = 2_500_000  # over the 1 MB from which a download draws a bar
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    db = tmp_path_factory.mktemp("cli-files") / "cli.db"
    return {
        **os.environ,
        "JOBWIRE_DATABASE_URL": f"sqlite:///{db}",
        "PYTHONPATH": str(ROOT),
        "COLUMNS": "200",
    }


@pytest.fixture(scope="module")
def app(env: dict[str, str]) -> Iterator[App]:
    app = App(env["JOBWIRE_DATABASE_URL"], workers=1, poll_interval=0.1)
    register(app)
    yield app
    app.close()


@pytest.fixture(scope="module")
def job_id(app: App) -> str:
    """A succeeded job of `report` with its files, big.bin included."""
    with app:
        job = app.submit("report", {"rows": 4, "big": BIG})
        app.result(job.id, timeout=60)
    return job.id


def cli(
    env: dict[str, str], *args: str, cwd: Path = ROOT, **more: str
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "jobwire", *args],
        env={**env, **more}, cwd=cwd, capture_output=True, timeout=60,
    )  # fmt: skip


def test_files_lists_the_jobs_files(env, app, job_id) -> None:
    out = cli(env, "files", job_id, "--app", APP)
    assert out.returncode == 0, out.stderr
    table = out.stdout.decode()
    infos = {info.name: info for info in app.files(job_id)}
    assert set(infos) == {*NAMES, "big.bin"}
    for name, info in infos.items():
        assert name in table
        assert info.sha256[:12] in table
    assert "2.5 MB" in table and "text/csv" in table

    listed = cli(env, "files", job_id, "--app", APP, "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == {"files": [info.entry() for info in app.files(job_id)]}


def test_files_get_writes_one_file_where_asked(env, app, job_id, tmp_path) -> None:
    out = cli(env, "files", job_id, "--app", APP, "--get", NAMES[1], "-o", str(tmp_path / "x.csv"))
    assert out.returncode == 0, out.stderr
    _, chunks = app.open_file(job_id, NAMES[1])
    assert (tmp_path / "x.csv").read_bytes() == b"".join(chunks)
    assert out.stdout.decode().strip() == str(tmp_path / "x.csv")  # the path, for scripts

    # Into a directory, or the current one: under the file's own name.
    into = cli(env, "files", job_id, "--app", APP, "--get", NAMES[0], "-o", str(tmp_path))
    assert into.returncode == 0, into.stderr
    assert (tmp_path / NAMES[0]).read_bytes() == b"4 rows\n"
    here = cli(env, "files", job_id, "--app", APP, "--get", NAMES[1], cwd=tmp_path)
    assert here.returncode == 0, here.stderr
    assert (tmp_path / NAMES[1]).read_bytes() == (tmp_path / "x.csv").read_bytes()

    piped = cli(env, "files", job_id, "--app", APP, "--get", NAMES[0], "-o", "-")
    assert piped.returncode == 0 and piped.stdout == b"4 rows\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([NAMES[0], NAMES[1], "x.csv"])


def test_export_each_format(env, app, job_id, tmp_path) -> None:
    out = cli(
        env, "export", job_id, "--app", APP, "--format", "csv", "-o", str(tmp_path / "out.csv")
    )
    assert out.returncode == 0, out.stderr
    data = (tmp_path / "out.csv").read_bytes()
    assert data == b"".join(app.export(job_id, "csv").chunks)
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM, for spreadsheets
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["name"] for r in rows] == [f"item {i}" for i in range(4)]

    default = cli(env, "export", job_id, "--app", APP, cwd=tmp_path)  # JSON, its own name
    assert default.returncode == 0, default.stderr
    named = tmp_path / f"report-{short_id(job_id)}.json"
    assert json.loads(named.read_bytes()) == json.loads(b"".join(app.export(job_id, "json").chunks))

    archive = cli(env, "export", job_id, "--app", APP, "-f", "zip", "-o", str(tmp_path))
    assert archive.returncode == 0, archive.stderr
    with zipfile.ZipFile(tmp_path / f"report-{short_id(job_id)}.zip") as z:
        members = {n.rsplit("/", 1)[-1]: n for n in z.namelist()}
        assert {*NAMES, "big.bin"} <= set(members)
        assert z.read(members["big.bin"]) == big_bytes(BIG)
        assert z.testzip() is None


def test_a_large_download_draws_a_bar_on_a_terminal(env, job_id, tmp_path) -> None:
    tty = {"TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1"}
    big = cli(env, "files", job_id, "--app", APP, "--get", "big.bin", "-o", str(tmp_path), **tty)
    assert big.returncode == 0, big.stderr
    assert (tmp_path / "big.bin").read_bytes() == big_bytes(BIG)
    drawn = big.stderr.decode()
    assert "big.bin" in drawn and "2.5/2.5 MB" in drawn  # bytes done / total
    small = cli(env, "files", job_id, "--app", APP, "--get", NAMES[0], "-o", str(tmp_path), **tty)
    assert small.returncode == 0 and "B/s" not in small.stderr.decode()
    plain = cli(env, "files", job_id, "--app", APP, "--get", "big.bin", "-o", str(tmp_path))
    assert plain.returncode == 0 and "2.5/2.5 MB" not in plain.stderr.decode()  # not a terminal


def test_errors_exit_with_code_2_and_leave_nothing(env, app, tmp_path) -> None:
    missing = cli(env, "export", "f" * 32, "--app", APP, "-o", str(tmp_path / "a.json"))
    assert missing.returncode == 2 and b"No job has the id" in missing.stderr
    queued = app.submit("report", {"rows": 1}).id  # no worker runs now: it stays queued
    early = cli(env, "export", queued, "--app", APP, "-o", str(tmp_path / "a.json"))
    assert early.returncode == 2 and b"only a succeeded job" in early.stderr
    app.cancel(queued)
    bad = cli(env, "export", queued, "--app", APP, "--format", "xml")
    assert bad.returncode == 2 and b"json, csv, zip" in bad.stderr
    nofile = cli(env, "files", queued, "--app", APP, "--get", "nope.txt", "-o", str(tmp_path))
    assert nofile.returncode == 2 and b"nope.txt" in nofile.stderr
    assert list(tmp_path.iterdir()) == []
