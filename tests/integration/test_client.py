"""jobwire.Client against a real server (uvicorn in a thread, SQLite file, workers in it):
REST round trips, the error mapping, watching over WebSocket and SSE, resuming after dropped
connections, and the CLI's --url mode as a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobwire import (
    App,
    Client,
    InvalidArguments,
    JobAlreadyFinished,
    JobCancelled,
    JobFailed,
    JobNotFinished,
    JobNotFound,
    JobStatus,
    JobwireError,
    Progress,
    ResultNotAvailable,
    UnknownTask,
    WaitTimeout,
)
from jobwire.client import RemoteJob, StreamLost
from jobwire.errors import InvalidCursor, RateLimited, Unauthorized
from tests.conftest import finishes_within
from tests.integration.server_fixtures import TcpProxy, free_socket, running_server

ROOT = Path(__file__).resolve().parents[2]
FINAL = {"completed", "failed", "cancelled"}


def make_app(path: Path) -> App:
    app = App(f"sqlite:///{path}", workers=4, poll_interval=0.1, progress_interval=0.02)

    @app.task(name="items")
    def items(progress: Progress, n: int = 300, delay: float = 0.002) -> dict[str, int]:
        """Reports ``n`` items, sleeping ``delay`` after each."""
        for _ in progress.iter(range(n), step="counting"):
            time.sleep(delay)
        return {"items": n}

    @app.task(name="boom")
    def boom(progress: Progress, message: str = "boom") -> None:
        progress.step("exploding")
        raise ValueError(message)

    @app.task(name="spin")
    def spin(progress: Progress, seconds: float = 30.0) -> str:
        """Loops until cancelled (or ``seconds`` pass)."""
        end = time.monotonic() + seconds
        progress.update(0, total=None, step="spinning")
        while time.monotonic() < end:
            progress.advance()
            time.sleep(0.005)
        return "finished"

    @app.task(name="square", cache_ttl=60)
    def square(progress: Progress, x: int) -> int:
        return x * x

    return app


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    app = make_app(tmp_path_factory.mktemp("client") / "jobwire.db")
    try:
        with running_server(app, submit_rate=1000.0, submit_burst=1000) as base:
            yield base
    finally:
        app.close()


@pytest.fixture
def client(url: str) -> Iterator[Client]:
    with Client(url, timeout=10.0) as c:
        yield c


@pytest.fixture
def spinning(client: Client) -> Iterator[RemoteJob]:
    """A running job that only ends when cancelled (cancelled at teardown if still live)."""
    job = client.submit("spin")
    deadline = time.monotonic() + 10
    while job.refresh().status != JobStatus.RUNNING or not job.snapshot["current"]:
        assert time.monotonic() < deadline, "the spin job did not start"
        time.sleep(0.02)
    yield job
    if not job.refresh().status.terminal:
        client.cancel(job.id)


def assert_complete_run(messages: list[dict], n: int = 300) -> None:
    seqs = [m["seq"] for m in messages]
    assert seqs == sorted(set(seqs)), f"seqs repeat or go back: {seqs}"
    assert [m["type"] for m in messages if m["type"] in FINAL] == ["completed"]
    assert messages[-1]["type"] == "completed"
    last = messages[-1]["job"]
    assert last["status"] == "succeeded"
    assert last["current"] == last["total"] == n


# -- REST ---------------------------------------------------------------------------------


def test_submit_get_list_result_delete_round_trip(client: Client) -> None:
    job = client.submit("items", {"n": 20})
    assert job.created and job.outcome == "created"
    assert job.task == "items" and job.owner == "local"
    assert job.stream_token and job.etag
    assert client.get(job.id).id == job.id

    assert job.wait(timeout=30) is job
    assert job.status == JobStatus.SUCCEEDED
    assert job.snapshot["current"] == job.snapshot["total"] == 20
    assert client.result(job.id) == {"items": 20}
    assert job.result() == {"items": 20}

    listed, _ = client.list(task="items", status="succeeded", limit=500)
    assert job.id in [j.id for j in listed]
    assert all(j.status == JobStatus.SUCCEEDED for j in listed)

    client.delete(job.id)
    with pytest.raises(JobNotFound):
        client.get(job.id)


def test_list_pages_with_a_cursor(client: Client) -> None:
    ids = [client.submit("square", {"x": 1000 + i}).id for i in range(3)]
    first, cursor = client.list(task="square", limit=2)
    assert len(first) == 2 and cursor is not None
    second, _ = client.list(task="square", limit=2, cursor=cursor)
    seen = [j.id for j in first + second]
    assert len(seen) == len(set(seen))
    assert set(ids) <= set(seen) | {j.id for j in client.list(task="square", limit=500)[0]}


def test_cached_submit_returns_the_existing_job(client: Client) -> None:
    first = client.submit("square", {"x": 7})
    assert first.result(timeout=30) == 49
    again = client.submit("square", {"x": 7})
    assert not again.created and again.outcome == "cached"
    assert again.id == first.id


def test_cancel_a_running_job(client: Client, spinning: RemoteJob) -> None:
    answer = spinning.cancel()
    assert answer is spinning
    assert spinning.snapshot["cancel_requested"] or spinning.status == JobStatus.CANCELLED
    assert spinning.wait(timeout=30).status == JobStatus.CANCELLED
    with pytest.raises(JobCancelled):
        spinning.result()


def test_wait_long_polls_until_the_job_ends(client: Client) -> None:
    job = client.submit("items", {"n": 50, "delay": 0.01})
    done = client.wait(job.id, timeout=30)
    assert done.status == JobStatus.SUCCEEDED
    assert done.snapshot["current"] == 50


def test_wait_times_out_and_the_job_goes_on(client: Client, spinning: RemoteJob) -> None:
    started = time.monotonic()
    with pytest.raises(WaitTimeout):
        finishes_within(10, lambda: client.wait(spinning.id, timeout=0.5), "wait(timeout=0.5)")
    assert time.monotonic() - started >= 0.45, "wait() gave up before its timeout"
    assert spinning.refresh().status == JobStatus.RUNNING


def test_a_failed_job(client: Client) -> None:
    job = client.submit("boom", {"message": "kaput"})
    with pytest.raises(JobFailed) as info:
        job.result(timeout=30)
    assert job.status == JobStatus.FAILED
    assert job.error is not None and job.error["code"] == "task_error"
    assert "kaput" in info.value.message
    messages = list(job.watch())
    assert messages[-1]["type"] == "failed"
    with pytest.raises(ResultNotAvailable) as not_available:
        client.result(job.id)
    assert not_available.value.details["status"] == "failed"


# -- errors -------------------------------------------------------------------------------


def test_errors_map_to_jobwire_exceptions(client: Client, spinning: RemoteJob) -> None:
    with pytest.raises(UnknownTask, match="No task is named 'nope'"):
        client.submit("nope")

    with pytest.raises(InvalidArguments) as bad:
        client.submit("items", {"n": "lots"})
    assert bad.value.code == "invalid_arguments"
    assert [e["loc"] for e in bad.value.details["errors"]] == [["n"]]

    with pytest.raises(JobNotFound):
        client.get("0" * 32)
    with pytest.raises(JobNotFound):
        client.cancel("0" * 32)
    with pytest.raises(JobNotFound):
        client.delete("0" * 32)

    with pytest.raises(JobNotFinished):
        client.delete(spinning.id)
    with pytest.raises(ResultNotAvailable):
        client.result(spinning.id)

    spinning.cancel().wait(timeout=30)
    with pytest.raises(JobAlreadyFinished):
        client.cancel(spinning.id)

    with pytest.raises(InvalidCursor):
        client.list(cursor="not-a-cursor")

    with pytest.raises(JobwireError) as too_large:
        client.submit("items", {"padding": "x" * (2 << 20)})
    assert too_large.value.code == "payload_too_large"


@pytest.mark.parametrize("transport", ["ws", "sse"])
def test_watch_of_an_unknown_job_raises(url: str, transport: str) -> None:
    with Client(url, transports=(transport,)) as client, pytest.raises(JobNotFound):
        next(iter(client.watch("0" * 32)))


def test_rate_limited_submits(tmp_path: Path) -> None:
    app = make_app(tmp_path / "limited.db")
    try:
        with running_server(app, submit_rate=0.2, submit_burst=1) as base, Client(base) as client:
            client.submit("square", {"x": 1})
            with pytest.raises(RateLimited) as info:
                client.submit("square", {"x": 2})
            assert info.value.retry_after >= 1
    finally:
        app.close()


# -- watching -----------------------------------------------------------------------------


def test_watch_over_websocket(client: Client) -> None:
    job = client.submit("items")
    watch = job.watch()
    messages = list(watch)
    assert watch.transport == "ws" and watch.reconnects == 0
    assert messages[0]["type"] == "connected"
    assert_complete_run(messages)
    assert watch.last == messages[-1]["seq"]


def test_watch_over_sse_only(url: str) -> None:
    with Client(url, transports=("sse",)) as client:
        job = client.submit("items")
        watch = client.watch(job.id)
        messages = list(watch)
    assert watch.transport == "sse" and watch.reconnects == 0
    assert messages[0]["type"] == "connected"
    assert_complete_run(messages)


def test_watch_falls_back_to_sse_when_websockets_are_refused(url: str) -> None:
    with TcpProxy(url, block_websockets=True) as proxy, Client(proxy.url) as client:
        job = client.submit("items")
        watch = job.watch()
        messages = list(watch)
        assert proxy.refused_upgrades == 1
    assert watch.transport == "sse"
    assert_complete_run(messages)


@pytest.mark.parametrize("transport", ["ws", "sse"])
def test_watch_resumes_after_dropped_connections(url: str, transport: str) -> None:
    with TcpProxy(url) as proxy, Client(proxy.url, transports=(transport,)) as client:
        job = client.submit("items", {"n": 300, "delay": 0.01})
        watch = client.watch(job.id)
        messages = []
        dropped_at = []
        drop_after = [3, 10, 11]  # counts of messages; 11: as soon as it is back
        for msg in watch:
            messages.append(msg)
            # Messages that arrived before a drop are still delivered: a drop happens once
            # the client is connected again.
            ready = drop_after and len(messages) >= drop_after[0] and msg["type"] not in FINAL
            if ready and proxy.drop():
                dropped_at.append(msg["seq"])
                drop_after.pop(0)
        assert proxy.connections >= 4  # the submit, then one stream per (re)connect
    assert len(dropped_at) == 3
    assert watch.reconnects == 3
    assert watch.transport == transport
    assert_complete_run(messages)
    # Resuming from the store lost nothing: every seq after each drop came.
    seqs = [m["seq"] for m in messages]
    for seq in dropped_at:
        assert seq + 1 in seqs


def test_watch_after_a_seq_replays_only_what_came_after(client: Client) -> None:
    job = client.submit("items", {"n": 40, "delay": 0.005}).wait(timeout=30)
    final = job.snapshot["seq"]
    for transport in ("ws", "sse"):
        with Client(client.url, transports=(transport,)) as c:
            tail = list(c.watch(job.id, after=final - 3))
        assert [m["seq"] for m in tail] == [final - 2, final - 1, final], transport
        assert tail[-1]["type"] == "completed"
        # Nothing comes after the final seq: the watch ends at once, it does not hang.
        with Client(client.url, transports=(transport,), retries=0) as c:
            rest = finishes_within(
                10, lambda: list(c.watch(job.id, after=final)), f"{transport} watch after the end"
            )
        assert rest == [], transport


def test_watch_gives_up_after_its_retries() -> None:
    with free_socket() as bound:  # bound, not listening: connections are refused
        client = Client(f"http://127.0.0.1:{bound.getsockname()[1]}", retries=2, backoff=0.01)
        watch = client.watch("0" * 32, after=5)
        with client, pytest.raises(StreamLost) as info:
            next(watch)
    assert watch.transport == "sse"  # the WebSocket could not be opened
    assert watch.reconnects == 2
    assert info.value.details == {"job_id": "0" * 32, "last_seq": 5}


def test_watch_sees_a_cancel(client: Client, spinning: RemoteJob) -> None:
    messages = []
    for msg in spinning.watch():
        messages.append(msg)
        if len(messages) == 2:
            client.cancel(spinning.id)
    assert messages[-1]["type"] == "cancelled"
    assert messages[-1]["job"]["status"] == "cancelled"


# -- authentication -----------------------------------------------------------------------


def test_tokens_and_stream_tokens(tmp_path: Path) -> None:
    app = make_app(tmp_path / "auth.db")
    app.store.upgrade()
    _, alice = app.store.keys.create_key("alice")
    _, bob = app.store.keys.create_key("bob")
    try:
        with running_server(app, auth="token") as base:
            with Client(base) as anonymous:
                with pytest.raises(Unauthorized):
                    anonymous.list()
                with pytest.raises(Unauthorized):
                    anonymous.submit("items")
            with Client(base, token=alice) as client:
                job = client.submit("items", {"n": 30})
                assert job.owner == "alice"
                assert_complete_run(list(job.watch()), n=30)
                assert [j.id for j in client.list()[0]] == [job.id]
            with Client(base, token=bob) as other:
                with pytest.raises(JobNotFound):
                    other.get(job.id)
                with pytest.raises(JobNotFound):
                    next(iter(other.watch(job.id)))
            for transport in ("ws", "sse"):
                # No credentials but the job's stream token, as a browser would have.
                with Client(base, transports=(transport,)) as viewer:
                    messages = list(viewer.watch(job.id, stream_token=job.stream_token))
                    assert messages[-1]["type"] == "completed", transport
                    assert viewer.get(job.id, stream_token=job.stream_token).id == job.id
                forged = Client(base, token="jw_forged", transports=(transport,))
                with forged, pytest.raises(Unauthorized):
                    next(iter(forged.watch(job.id)))
    finally:
        app.close()


# -- the CLI --------------------------------------------------------------------------------


def jobwire(*args: str, token: str | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(ROOT)}
    env.pop("JOBWIRE_TOKEN", None)
    if token is not None:
        env["JOBWIRE_TOKEN"] = token
    return subprocess.Popen(
        [sys.executable, "-m", "jobwire", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, out, err


@pytest.mark.slow
def test_cli_run_with_url(url: str) -> None:
    code, out, err = finished(jobwire("run", "--url", url, "items", "--arg", "n=300"))
    assert code == 0, err
    assert "submitted" in err
    assert "300/300 (100%)" in out
    assert "counting" in out
    assert json.loads(out[out.index("{") :]) == {"items": 300}

    code, _, err = finished(jobwire("run", "--url", url, "boom", "--arg", "message=kaput"))
    assert code == 1 and "task_error" in err and "kaput" in err
    code, _, err = finished(jobwire("run", "--url", url, "nope"))
    assert code == 2 and "No task is named 'nope'" in err
    code, _, err = finished(jobwire("run", "--url", url, "items", "--arg", "n=lots"))
    assert code == 2 and "integer" in err
    code, _, err = finished(jobwire("run", "--url", url, "tests.apps.sample:app", "items"))
    assert code == 2 and "give only TASK" in err


@pytest.mark.slow
def test_cli_run_with_url_ctrl_c_cancels_through_the_api(client: Client) -> None:
    proc = jobwire("run", "--url", client.url, "spin", "--arg", "seconds=60")
    try:
        deadline = time.monotonic() + 30
        job = None
        while job is None:
            assert time.monotonic() < deadline, "the job did not start"
            running = client.list(task="spin", status="running")[0]
            job = next((j for j in running if j.snapshot["current"] > 0), None)
            time.sleep(0.05)
        while not client.http.get("/api/stats").json()["streams"]["listeners"]:
            assert time.monotonic() < deadline, "the CLI did not start watching"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        code, _, err = finished(proc, timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 130, err
    assert "cancelling" in err
    assert client.get(job.id).status == JobStatus.CANCELLED


@pytest.mark.slow
def test_cli_jobs_with_url(client: Client, tmp_path: Path) -> None:
    job = client.submit("square", {"x": 12}).wait(timeout=30)
    code, out, err = finished(jobwire("jobs", "--url", client.url, "--task", "square", "--json"))
    assert code == 0, err
    listed = json.loads(out)
    assert job.id in [j["id"] for j in listed["jobs"]]
    code, out, err = finished(jobwire("jobs", "--url", client.url, "--task", "square"))
    assert code == 0, err
    assert job.id in out

    app = make_app(tmp_path / "auth.db")
    app.store.upgrade()
    _, secret = app.store.keys.create_key("carol")
    try:
        with running_server(app, auth="token") as base:
            with Client(base, token=secret) as carol:
                mine = carol.submit("square", {"x": 3}).wait(timeout=30)
            code, out, err = finished(jobwire("jobs", "--url", base, "--json", token=secret))
            assert code == 0, err
            assert [j["id"] for j in json.loads(out)["jobs"]] == [mine.id]
            code, _, err = finished(jobwire("jobs", "--url", base))
            assert code == 2 and "credentials" in err.lower()
    finally:
        app.close()
