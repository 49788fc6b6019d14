"""The store contract's part about jobs shared with teams: :class:`SharesContract` is mixed
into ``StoreContract`` (test_store_contract.py), so it runs on memory, SQLite and PostgreSQL
alike. It uses that class's helpers (``submit``, ``claim_one``, ``succeed``, ``clock``)."""

from __future__ import annotations

import pytest

from jobwire.errors import InvalidCursor, JobNotFound
from jobwire.status import JobStatus
from jobwire.store import Store

S = JobStatus


class SharesContract:
    """Share, change, revoke, list what is shared with teams, retention."""

    def test_a_new_share_is_created_and_a_second_one_updates_it(self, store: Store) -> None:
        job = self.submit(store)  # type: ignore[attr-defined]
        now = self.clock()  # type: ignore[attr-defined]
        share, created = store.share(
            job.id, "platform", can_download=False, expires_at=now + 60, shared_by="alice"
        )
        assert created is True
        assert (share.job_id, share.team, share.shared_by) == (job.id, "platform", "alice")
        assert (share.can_view, share.can_download, share.expires_at) == (True, False, now + 60)
        assert share.created_at == share.updated_at == now
        assert share.revoked_at is None

        self.clock.advance(5)  # type: ignore[attr-defined]
        again, created = store.share(job.id, "platform", can_download=True, shared_by="alice")
        assert created is False
        assert (again.can_download, again.expires_at) == (True, None)
        assert again.created_at == now and again.updated_at == now + 5
        assert store.shares(job.id) == [again]

    def test_sharing_an_unknown_job_raises_and_stores_nothing(self, store: Store) -> None:
        with pytest.raises(JobNotFound):
            store.share("0" * 32, "platform", shared_by="alice")
        with pytest.raises(JobNotFound):
            store.share("a\x00b", "platform", shared_by="alice")
        assert store.team_shares(["platform"], self.clock()) == []  # type: ignore[attr-defined]

    def test_shares_are_listed_by_team(self, store: Store) -> None:
        job = self.submit(store)  # type: ignore[attr-defined]
        for team in ("zeta", "alpha", "mid"):
            store.share(job.id, team, shared_by="alice")
        assert [s.team for s in store.shares(job.id)] == ["alpha", "mid", "zeta"]
        assert store.shares("0" * 32) == []

    def test_unshare_leaves_a_tombstone_that_changes_report(self, store: Store) -> None:
        job = self.submit(store)  # type: ignore[attr-defined]
        store.share(job.id, "platform", shared_by="alice")
        since = self.clock.advance(1)  # type: ignore[attr-defined]
        revoked = store.unshare(job.id, "platform")
        assert revoked is not None and revoked.revoked_at == since
        assert store.unshare(job.id, "platform") is None  # only once
        assert store.unshare(job.id, "nobody") is None
        assert store.shares(job.id) == []
        assert store.team_shares(["platform"], since) == []
        changes = store.share_changes(since)
        assert [(s.team, s.revoked_at) for s in changes] == [("platform", since)]

    def test_a_revoked_share_comes_back_as_a_new_one(self, store: Store) -> None:
        job = self.submit(store)  # type: ignore[attr-defined]
        store.share(job.id, "platform", shared_by="alice")
        store.unshare(job.id, "platform")
        later = self.clock.advance(3)  # type: ignore[attr-defined]
        share, created = store.share(job.id, "platform", shared_by="bob")
        assert created is True
        assert share.created_at == later and share.revoked_at is None
        assert share.shared_by == "bob"

    def test_team_shares_are_the_live_ones_of_those_teams(self, store: Store) -> None:
        a, b, c = (self.submit(store) for _ in range(3))  # type: ignore[attr-defined]
        now = self.clock()  # type: ignore[attr-defined]
        store.share(a.id, "platform", shared_by="alice")
        store.share(b.id, "platform", expires_at=now + 10, shared_by="alice")
        store.share(c.id, "sales", shared_by="alice")
        store.share(c.id, "platform", can_view=False, can_download=False, shared_by="alice")
        live = {(s.job_id, s.team) for s in store.team_shares(["platform"], now)}
        assert live == {(a.id, "platform"), (b.id, "platform")}
        # expiry is exclusive: at expires_at the share grants nothing
        assert {s.job_id for s in store.team_shares(["platform"], now + 10)} == {a.id}
        assert {s.job_id for s in store.team_shares(["platform", "sales"], now)} == {
            a.id,
            b.id,
            c.id,
        }
        assert store.team_shares([], now) == []

    def test_shared_with_pages_newest_first_with_the_best_share(self, store: Store) -> None:
        jobs = [self.submit(store, owner=f"u{i % 3}") for i in range(7)]  # type: ignore[attr-defined]
        now = self.clock()  # type: ignore[attr-defined]
        for job in jobs:
            store.share(job.id, "platform", can_download=False, shared_by=job.owner)
        # a second team of the caller grants more on one job: that share is the one shown
        store.share(jobs[2].id, "infra", can_download=True, shared_by="u2")
        seen: list[str] = []
        cursor = None
        while True:
            page = store.shared_with(["platform", "infra"], now=now, cursor=cursor, limit=3)
            assert len(page.jobs) <= 3
            seen += [j.id for j in page.jobs]
            for j in page.jobs:
                best = page.shares[j.id]
                assert best.job_id == j.id
                assert best.team == ("infra" if j.id == jobs[2].id else "platform")
                assert best.can_download is (j.id == jobs[2].id)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == [j.id for j in reversed(jobs)]

    def test_shared_with_filters(self, store: Store) -> None:
        mine = self.submit(store, owner="me")  # type: ignore[attr-defined]
        theirs = self.submit(store, owner="lead", task="report")  # type: ignore[attr-defined]
        gone = self.submit(store, owner="lead")  # type: ignore[attr-defined]
        other = self.submit(store, owner="lead")  # type: ignore[attr-defined]
        now = self.clock()  # type: ignore[attr-defined]
        for job in (mine, theirs, gone):
            store.share(job.id, "platform", shared_by=job.owner)
        store.share(other.id, "sales", shared_by="lead")
        store.unshare(gone.id, "platform")

        def ids(**kw: object) -> list[str]:
            return [j.id for j in store.shared_with(["platform"], now=now, **kw).jobs]  # type: ignore[arg-type]

        assert ids() == [theirs.id, mine.id]
        assert ids(not_owner="me") == [theirs.id]
        assert ids(task="report") == [theirs.id]
        assert ids(owner="me") == [mine.id]
        assert ids(status=[S.RUNNING.value]) == []
        assert store.shared_with([], now=now).jobs == []

    def test_shared_with_leaves_out_expired_shares(self, store: Store) -> None:
        job = self.submit(store)  # type: ignore[attr-defined]
        now = self.clock()  # type: ignore[attr-defined]
        store.share(job.id, "platform", expires_at=now + 2, shared_by="alice")
        assert [j.id for j in store.shared_with(["platform"], now=now + 1).jobs] == [job.id]
        assert store.shared_with(["platform"], now=now + 2).jobs == []

    def test_a_bad_cursor_is_refused_even_without_teams(self, store: Store) -> None:
        with pytest.raises(InvalidCursor):
            store.shared_with([], now=0.0, cursor="nonsense")

    def test_deleting_a_job_drops_its_shares(self, store: Store) -> None:
        job = self.submit(store)  # type: ignore[attr-defined]
        store.share(job.id, "platform", shared_by="alice")
        claimed = self.claim_one(store)  # type: ignore[attr-defined]
        self.succeed(store, claimed)  # type: ignore[attr-defined]
        store.delete(job.id)
        assert store.shares(job.id) == []
        assert store.team_shares(["platform"], self.clock()) == []  # type: ignore[attr-defined]
        assert store.share_changes(0.0) == []

    def test_retention_removes_ended_shares_and_keeps_live_ones(self, store: Store) -> None:
        job = self.submit(store)  # type: ignore[attr-defined]
        now = self.clock()  # type: ignore[attr-defined]
        store.share(job.id, "expired", expires_at=now + 1, shared_by="alice")
        store.share(job.id, "revoked", shared_by="alice")
        store.unshare(job.id, "revoked")
        store.share(job.id, "later", expires_at=now + 1000, shared_by="alice")
        store.share(job.id, "forever", shared_by="alice")
        store.purge(older_than=now + 100)
        left = {s.team for s in store.share_changes(0.0)}
        assert left == {"later", "forever"}
        assert store.get(job.id) is not None  # a live job is not purged
