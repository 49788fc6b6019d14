"""Client.share / unshare / shares / access, list(shared=True) and RemoteJob.shared against a
real server (uvicorn in a thread, SQLite file, auth=token) with API keys that carry roles and
teams; and a member's watch, over WebSocket and SSE, ending when the share is removed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jobwire import Client, JobNotFound, JobwireError
from jobwire.client import RemoteJob
from jobwire.errors import ConfigurationError, Forbidden

from .server_util import make_app, running_server

SHARE_KEYS = {
    "job_id",
    "team",
    "can_view",
    "can_download",
    "expires_at",
    "shared_by",
    "created_at",
    "updated_at",
}


@dataclass
class World:
    url: str
    lead: Client  # a teamlead of platform
    mia: Client  # a member of platform
    otto: Client  # a member of ops only
    alice: Client  # no sharing role, no team
    done: RemoteJob  # the lead's succeeded job


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    app = make_app(tmp_path_factory.mktemp("client-shares"))
    app.store.upgrade()
    keys = app.store.keys
    secrets = {
        "lead": keys.create_key("lead", roles=["teamlead"], teams=["platform"])[1],
        "mia": keys.create_key("mia", teams=["platform"])[1],
        "otto": keys.create_key("otto", teams=["ops"])[1],
        "alice": keys.create_key("alice")[1],
    }
    try:
        with running_server(app, auth="token", heartbeat_seconds=0.5) as url:
            clients = {name: Client(url, secret, timeout=10) for name, secret in secrets.items()}
            done = clients["lead"].submit("count", {"n": 3}).wait(timeout=30)
            yield World(url, done=done, **clients)
            for client in clients.values():
                client.close()
    finally:
        app.close()


def test_a_view_only_share_then_with_downloads(world: World) -> None:
    lead, mia, done = world.lead, world.mia, world.done
    share = lead.share(done.id, "platform", can_download=False, expires_at=timedelta(hours=1))
    try:
        assert set(share) == SHARE_KEYS
        assert (share["job_id"], share["team"], share["shared_by"]) == (done.id, "platform", "lead")
        assert (share["can_view"], share["can_download"]) == (True, False)
        assert share["expires_at"] is not None
        ends = datetime.fromisoformat(share["expires_at"])
        assert abs(ends - datetime.now(UTC) - timedelta(hours=1)) < timedelta(minutes=1)

        # The member finds it among the jobs shared with their teams, with how it came.
        found, _ = mia.list(shared=True)
        job = next(j for j in found if j.id == done.id)
        assert job.shared == {
            "team": "platform",
            "shared_by": "lead",
            "can_view": True,
            "can_download": False,
            "expires_at": share["expires_at"],
        }
        assert mia.list()[0] == []  # their own jobs: none
        assert lead.list(shared=True)[0] == []  # the owner's own jobs are left out
        assert done.shared is None  # a job not listed with shared=True

        assert mia.get(done.id).status.value == "succeeded"
        assert mia.result(done.id) == 3
        access = mia.access(done.id)
        assert access == {
            "view": True,
            "download": False,
            "cancel": False,
            "manage": False,
            "share": False,
            "via": "share",
            "team": "platform",
            "expires_at": share["expires_at"],
        }
        with pytest.raises(Forbidden):
            mia.files(done.id)
        with pytest.raises(Forbidden):
            mia.download(done.id, "json")

        # Shared again, with downloads: the same share, changed.
        again = done.share("platform")
        assert again["can_download"] is True and again["expires_at"] is None
        assert again["created_at"] == share["created_at"]
        assert again["updated_at"] >= share["updated_at"]
        assert [s["team"] for s in lead.shares(done.id)] == ["platform"]
        assert mia.download(done.id, "json") == lead.download(done.id, "json")
        assert mia.files(done.id) == []
        assert mia.access(done.id)["download"] is True

        owner = done.access()
        assert owner == {
            "view": True,
            "download": True,
            "cancel": True,
            "manage": True,
            "share": True,
            "via": "owner",
            "team": None,
            "expires_at": None,
        }
    finally:
        lead.unshare(done.id, "platform")

    # Removed: the member loses it at once.
    with pytest.raises(JobNotFound):
        mia.get(done.id)
    assert all(j.id != done.id for j in mia.list(shared=True)[0])


def test_outside_the_team_the_job_does_not_exist(world: World) -> None:
    world.lead.share(world.done.id, "platform")
    try:
        with pytest.raises(JobNotFound):
            world.otto.get(world.done.id)
        with pytest.raises(JobNotFound):
            world.otto.access(world.done.id)
        assert world.otto.list(shared=True)[0] == []
    finally:
        world.lead.unshare(world.done.id, "platform")


def test_who_may_share_and_unshare(world: World) -> None:
    lead, mia, alice, done = world.lead, world.mia, world.alice, world.done
    own = alice.submit("count", {"n": 1})
    with pytest.raises(Forbidden):
        alice.share(own.id, "platform")  # no sharing role
    with pytest.raises(JobNotFound):
        alice.share(done.id, "platform")  # not hers, not shared with her
    lead.share(done.id, "platform", can_download=False)
    try:
        with pytest.raises(Forbidden):
            mia.share(done.id, "platform")  # sees it, may not share it
        with pytest.raises(Forbidden):
            mia.shares(done.id)
        with pytest.raises(Forbidden):
            mia.unshare(done.id, "platform")  # a member, not the team's lead
        with pytest.raises(JobwireError) as missing:
            lead.unshare(done.id, "nobody")
        assert missing.value.code == "share_not_found"
        assert type(missing.value).__name__ == "ShareNotFound"
    finally:
        lead.unshare(done.id, "platform")
    with pytest.raises(JobwireError) as twice:
        done.unshare("platform")
    assert twice.value.code == "share_not_found"


def test_bad_shares_are_refused(world: World) -> None:
    lead, done = world.lead, world.done
    with pytest.raises(ConfigurationError, match="team name"):
        lead.share(done.id, "")
    with pytest.raises(ConfigurationError, match="positive duration"):
        lead.share(done.id, "platform", expires_at=timedelta(0))
    with pytest.raises(ConfigurationError, match="datetime, a timedelta or None"):
        lead.share(done.id, "platform", expires_at="tomorrow")  # type: ignore[arg-type]
    past = datetime.now(UTC) - timedelta(hours=1)
    with pytest.raises(JobwireError) as refused:
        lead.share(done.id, "platform", expires_at=past)
    assert refused.value.code in ("bad_request", "validation_error")
    assert lead.shares(done.id) == []


@pytest.mark.parametrize("transport", ["ws", "sse"])
def test_a_members_watch_ends_when_the_share_is_removed(world: World, transport: Any) -> None:
    running = world.lead.submit("spin", {"seconds": 30})
    world.lead.share(running.id, "platform")
    outcome: dict[str, Any] = {"messages": 0}
    started = threading.Event()

    def follow() -> None:
        with Client(world.url, world.mia.token, transports=(transport,), timeout=10) as mia:
            try:
                for _ in mia.watch(running.id):
                    outcome["messages"] += 1
                    started.set()
            except JobwireError as exc:
                outcome["error"] = exc
            finally:
                started.set()

    thread = threading.Thread(target=follow, daemon=True)
    try:
        thread.start()
        assert started.wait(10), "the member's watch got no message"
        removed = time.monotonic()
        world.lead.unshare(running.id, "platform")
        thread.join(10)
        assert not thread.is_alive(), "the watch went on after the share was removed"
        assert time.monotonic() - removed < 3
        error = outcome.get("error")
        assert isinstance(error, Forbidden), outcome
        assert error.code == "share_ended"
        assert outcome["messages"] >= 1
    finally:
        world.lead.cancel(running.id)
