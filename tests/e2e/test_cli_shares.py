"""`jobwire share`, `unshare`, `shares` and `jobs --shared` as subprocesses: on a SQLite file
(as the local user) and through a real server with API keys that carry roles and teams.
``--expires`` is parsed in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobwire import App, Client, Progress
from jobwire.cli.shares import parse_expiry
from tests.integration.server_fixtures import running_server

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


# -- --expires, in-process ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "later"),
    [
        ("7d", timedelta(days=7)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        ("90s", timedelta(seconds=90)),
        ("2w", timedelta(weeks=2)),
        ("1d12h", timedelta(days=1, hours=12)),
        (" 1.5H ", timedelta(hours=1.5)),
    ],
)
def test_expires_as_a_duration_counts_from_now(text: str, later: timedelta) -> None:
    assert parse_expiry(text, now=NOW) == NOW + later


def test_expires_as_an_iso_date_or_time() -> None:
    assert parse_expiry("2030-01-31T18:00Z", now=NOW) == datetime(2030, 1, 31, 18, tzinfo=UTC)
    assert parse_expiry("2030-01-31T18:00+02:00", now=NOW) == datetime(2030, 1, 31, 16, tzinfo=UTC)
    # Without a zone, local time; a date alone is its midnight.
    local = datetime(2030, 1, 31).astimezone(UTC)
    assert parse_expiry("2030-01-31", now=NOW) == local
    assert parse_expiry("2030-01-31T00:00", now=NOW) == local


@pytest.mark.parametrize("text", ["soon", "7", "d", "7x", "", "-1d", "2030-13-01", "7d later"])
def test_expires_that_is_not_a_time_says_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match=r"Expected a duration \(7d, 12h, 30m, 90s\)"):
        parse_expiry(text, now=NOW)


@pytest.mark.parametrize("text", ["0d", "0s", "2029-12-31", "2030-01-01T12:00Z"])
def test_expires_must_be_in_the_future(text: str) -> None:
    with pytest.raises(ValueError, match="not in the future"):
        parse_expiry(text, now=NOW)


# -- the commands, as subprocesses -------------------------------------------------------


def jobwire(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobwire", *args],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def make_app(database_url: str) -> App:
    app = App(database_url, poll_interval=0.1)

    @app.task(name="count")
    def count(progress: Progress, n: int = 3) -> int:
        """Counts to n."""
        for _ in progress.iter(range(n)):
            pass
        return n

    app.store.upgrade()
    return app


@pytest.fixture
def local(tmp_path: Path) -> Iterator[tuple[dict[str, str], str]]:
    """The environment of a CLI on a fresh SQLite file, and a succeeded job in it."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    app = make_app(url)
    with app:
        job = app.submit("count", {})
        app.result(job.id, timeout=30)
    app.close()
    env = {**os.environ, "JOBWIRE_DATABASE_URL": url, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    yield env, job.id


@pytest.mark.slow
def test_share_from_the_database_as_the_local_user(local) -> None:
    env, job_id = local
    shared = jobwire(env, "share", job_id, "--team", "platform", "--expires", "7d", "--json")
    assert shared.returncode == 0, shared.stderr
    share = json.loads(shared.stdout)
    assert share["job_id"] == job_id and share["team"] == "platform"
    assert share["shared_by"] == "local"  # the local user, default_owner
    assert (share["can_view"], share["can_download"]) == (True, True)
    ends = datetime.fromisoformat(share["expires_at"])
    assert abs(ends - (datetime.now(UTC) + timedelta(days=7))) < timedelta(minutes=1)

    # Sharing again changes that share; a second team gets its own.
    again = jobwire(env, "share", job_id, "-t", "platform", "--view-only")
    assert again.returncode == 0, again.stderr
    assert f"job {job_id} shared with platform: view only, no expiry" in again.stdout
    assert jobwire(env, "share", job_id, "--team", "ops").returncode == 0
    listed = jobwire(env, "shares", job_id, "--json")
    assert listed.returncode == 0, listed.stderr
    shares = json.loads(listed.stdout)["shares"]
    assert [(s["team"], s["can_download"], s["expires_at"]) for s in shares] == [
        ("ops", True, None),
        ("platform", False, None),
    ]

    # The jobs shared with a team: the team and who shared it, in a column each.
    table = jobwire(env, "jobs", "--shared", "--team", "platform")
    assert table.returncode == 0, table.stderr
    header = table.stdout.splitlines()[1]
    for column in ("team", "shared by", "rights", "until"):
        assert column in header
    row = next(line for line in table.stdout.splitlines() if job_id in line)
    assert "platform" in row and "local" in row and "view only" in row

    removed = jobwire(env, "unshare", job_id, "--team", "platform")
    assert removed.returncode == 0, removed.stderr
    assert f"job {job_id} no longer shared with platform" in removed.stdout
    after = jobwire(env, "jobs", "--shared", "--team", "platform", "--team", "ops", "--json")
    jobs = json.loads(after.stdout)["jobs"]
    assert [(j["id"], j["shared"]["team"]) for j in jobs] == [(job_id, "ops")]


@pytest.mark.slow
def test_errors_from_the_database_have_their_exit_codes(local) -> None:
    env, job_id = local
    bad = jobwire(env, "share", job_id, "--team", "platform", "--expires", "soon")
    assert bad.returncode == 2
    assert "--expires" in bad.stderr and "Expected a duration" in bad.stderr
    past = jobwire(env, "share", job_id, "--team", "platform", "--expires", "2001-01-01")
    assert past.returncode == 2 and "not in the future" in past.stderr

    missing = jobwire(env, "share", "0" * 32, "--team", "platform")
    assert missing.returncode == 4, missing.stderr
    assert "No job has the id" in missing.stderr
    not_shared = jobwire(env, "unshare", job_id, "--team", "nobody")
    assert not_shared.returncode == 4
    assert f"job {job_id} is not shared with nobody" in not_shared.stderr

    whose = jobwire(env, "jobs", "--shared")
    assert whose.returncode == 2 and "--team" in whose.stderr


# -- through a server --------------------------------------------------------------------


@dataclass
class Remote:
    env: dict[str, str]
    url: str
    lead: str  # API keys: a teamlead of platform
    member: str  # a member of platform
    alice: str  # no sharing role, no team
    job: str  # the lead's succeeded job
    alices: str  # alice's succeeded job


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Remote]:
    url = f"sqlite:///{tmp_path_factory.mktemp('cli-shares') / 'server.db'}"
    app = make_app(url)
    keys = app.store.keys
    _, lead = keys.create_key("lead", roles=["teamlead"], teams=["platform"])
    _, member = keys.create_key("mia", teams=["platform"])
    _, alice = keys.create_key("alice")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    env.pop("JOBWIRE_TOKEN", None)
    try:
        with running_server(app, auth="token") as base:
            jobs = []
            for key in (lead, alice):
                with Client(base, key) as client:
                    job = client.submit("count", {})
                    assert job.wait(timeout=30).status.value == "succeeded"
                    jobs.append(job.id)
            yield Remote(env, base, lead, member, alice, jobs[0], jobs[1])
    finally:
        app.close()


@pytest.mark.slow
def test_share_through_a_server_with_a_teamlead_key(remote: Remote) -> None:
    env, url = remote.env, remote.url
    shared = jobwire(
        env, "share", remote.job, "--team", "platform", "--view-only", "--expires", "12h",
        "--url", url, "--token", remote.lead,
    )  # fmt: skip
    assert shared.returncode == 0, shared.stderr
    assert f"job {remote.job} shared with platform: view only, until " in shared.stdout

    # The member lists it, with the team and who shared it; JOBWIRE_TOKEN works too.
    member = {**env, "JOBWIRE_TOKEN": remote.member}
    listed = jobwire(member, "jobs", "--shared", "--url", url)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if remote.job in line)
    assert "platform" in row and "lead" in row and "view only" in row
    as_json = jobwire(member, "jobs", "--shared", "--url", url, "--json")
    (job,) = json.loads(as_json.stdout)["jobs"]
    assert job["id"] == remote.job
    assert job["shared"]["team"] == "platform" and job["shared"]["shared_by"] == "lead"
    assert job["shared"]["can_download"] is False

    # The lead sees the share; the member may not remove it (not a teamlead).
    shares = jobwire(env, "shares", remote.job, "--json", "--url", url, "--token", remote.lead)
    assert [s["team"] for s in json.loads(shares.stdout)["shares"]] == ["platform"]
    refused = jobwire(member, "unshare", remote.job, "--team", "platform", "--url", url)
    assert refused.returncode == 3, refused.stderr

    removed = jobwire(
        env, "unshare", remote.job, "-t", "platform", "--url", url, "--token", remote.lead
    )
    assert removed.returncode == 0, removed.stderr
    again = jobwire(
        env, "unshare", remote.job, "-t", "platform", "--url", url, "--token", remote.lead
    )
    assert again.returncode == 4 and "error" in again.stderr
    empty = jobwire(member, "jobs", "--shared", "--url", url, "--json")
    assert json.loads(empty.stdout)["jobs"] == []


@pytest.mark.slow
def test_errors_through_a_server_have_their_exit_codes(remote: Remote) -> None:
    env, url = remote.env, remote.url
    # alice has no sharing role: 403 on her own job, 404 on one she cannot see.
    own = jobwire(
        env, "share", remote.alices, "-t", "platform", "--url", url, "--token", remote.alice
    )
    assert own.returncode == 3, own.stderr
    assert "error" in own.stderr
    other = jobwire(
        env, "share", remote.job, "-t", "platform", "--url", url, "--token", remote.alice
    )
    assert other.returncode == 4, other.stderr
    assert "No job has the id" in other.stderr
    # --team and --url do not go together for jobs --shared; nothing is asked of the server.
    both = jobwire(env, "jobs", "--shared", "--team", "x", "--url", url, "--token", remote.lead)
    assert both.returncode == 2 and "--team" in both.stderr
    gone = jobwire(
        env, "share", remote.job, "-t", "x", "--url", "http://127.0.0.1:9", "--token", "k"
    )
    assert gone.returncode == 2 and "cannot reach" in gone.stderr
