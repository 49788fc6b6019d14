"""How a task waits for a webhook without holding a worker: durable waits.

A callback URL is signed with the shared secret (:mod:`jobwire.hooks`); the server records
each delivery in the store, numbered per attempt. When a task calls
``progress.wait_for_callback()``, :meth:`DurableWaits.wait` looks for the delivery of that
wait (the n-th wait of the attempt takes its n-th delivery). When it is there, the wait
returns it. When it is not, the wait raises :class:`~jobwire.progress.Suspended`: the attempt
ends as ``waiting`` (:func:`~jobwire.worker.outcomes.suspended`), due to go on at its next
poll or its timeout, and the worker runs other jobs. A delivery makes the job due at once;
any worker then claims it and runs the task again from the top, with the same attempt.

What the task did before the wait is kept by :meth:`DurableWaits.once` (memoized steps, in
the store per attempt), so it does not happen twice; when each wait began is kept the same
way, so a replay does not move its deadline. A poll runs when the job comes back at its
poll time: a short run of the task on a worker, never a thread that sleeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from . import hooks
from .errors import CallbackTimeout, ConfigurationError, JobCancelled, UnstorableValue
from .progress import Progress, Suspended
from .snapshot import dumps, loads
from .storable import find_unstorable

#: Seconds a wait without a timeout or a poll stays asleep at most: a job that waits for
#: good still comes back now and then, to see that it was not forgotten (about a day).
LONGEST_SLEEP = 86_400.0


class WaitRecords(Protocol):
    """The part of the store the waits use."""

    def callbacks(self, job_id: str, attempt: int) -> list[str]: ...

    def add_hook(self, job_id: str, key: str, payload: str) -> bool: ...

    def memos(self, job_id: str, attempt: int) -> dict[str, str]: ...

    def put_memo(
        self, worker_id: str, job_id: str, attempt: int, name: str, value: str
    ) -> bool: ...


class CallbackUrls:
    """Signed callback URLs for a worker's tasks."""

    def __init__(
        self, secret: Callable[[], str], providers: Callable[[], Mapping[str, str]] = dict
    ) -> None:
        self.secret = secret
        self.providers = providers
        """The ``webhook_secrets`` setting: the providers that sign their webhooks."""

    def url(self, job_id: str, provider: str | None = None) -> str:
        if provider is not None and provider not in self.providers():
            known = ", ".join(sorted(self.providers())) or "none"
            example = f'JOBWIRE_WEBHOOK_SECRETS=\'{{"{provider}": "whsec_…"}}\''
            raise ConfigurationError(
                f"No webhook secret is set for provider {provider!r} (set: {known}): add it "
                f"to the webhook_secrets setting ({example})",
                provider=provider,
            )
        return hooks.path(self.secret(), job_id, provider)


@dataclass(frozen=True, slots=True)
class WaitsSpec:
    """What a child process (the ``processes`` executor) needs for the waits of one attempt
    (it can be pickled): it opens its own store."""

    database_url: str | None
    """None when the store lives in the parent's memory (a child cannot reach it)."""
    secret: str
    providers: dict[str, str]
    worker_id: str
    job_id: str
    attempt: int


class ChildWaits:
    """The waits of a task in a child process: its own store, opened on first use."""

    def __init__(self, spec: WaitsSpec) -> None:
        self.spec = spec
        self._waits: DurableWaits | None = None
        self._store: Any = None

    def _open(self) -> DurableWaits:
        if self._waits is None:
            spec = self.spec
            if spec.database_url is None:
                raise ConfigurationError(
                    "Waits and progress.once of a task on the processes executor need a "
                    "database URL (sqlite:///… or postgresql://…): its child process cannot "
                    "reach a store in the parent's memory. Use the threads executor."
                )
            from .store import open_store

            self._store = open_store(spec.database_url)
            urls = CallbackUrls(lambda: spec.secret, lambda: spec.providers)
            self._waits = DurableWaits(
                self._store,
                urls,
                worker_id=spec.worker_id,
                job_id=spec.job_id,
                attempt=spec.attempt,
                clock=self._store.clock,
            )
        return self._waits

    def url(self, job_id: str, provider: str | None = None) -> str:
        return self._open().url(job_id, provider)

    def wait(
        self,
        progress: Progress,
        timeout: float | None,
        poll: Callable[[], Any] | None,
        poll_interval: float,
    ) -> Any:
        return self._open().wait(progress, timeout, poll, poll_interval)

    def once(self, progress: Progress, name: str, fn: Callable[[], Any]) -> Any:
        return self._open().once(progress, name, fn)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


class DurableWaits:
    """The :class:`~jobwire.progress.Callbacks` of one attempt: its waits and its memos."""

    def __init__(
        self,
        store: WaitRecords,
        urls: CallbackUrls,
        *,
        worker_id: str,
        job_id: str,
        attempt: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.urls = urls
        self.worker_id = worker_id
        self.job_id = job_id
        self.attempt = attempt
        self.clock = clock
        self._memos: dict[str, str] | None = None
        self._waits = 0  # the waits this run made so far

    def url(self, job_id: str, provider: str | None = None) -> str:
        return self.urls.url(job_id, provider)

    def spec(self, database_url: str | None) -> WaitsSpec:
        """What a child process needs to wait for this attempt."""
        return WaitsSpec(
            database_url,
            self.urls.secret(),
            dict(self.urls.providers()),
            self.worker_id,
            self.job_id,
            self.attempt,
        )

    # -- memoized steps --------------------------------------------------------------------

    def _kept(self) -> dict[str, str]:
        if self._memos is None:
            self._memos = self.store.memos(self.job_id, self.attempt)
        return self._memos

    def _keep(self, name: str, value: Any) -> Any:
        """Store ``value`` under ``name`` (once); return it as stored."""
        found = find_unstorable(value)
        if found is not None:
            where = "/".join(str(p) for p in found[0]) or "the value"
            raise UnstorableValue(f"progress.once({name!r}): {where}: {found[1]}", name=name)
        try:
            text = dumps(value)
        except (TypeError, ValueError) as exc:
            raise UnstorableValue(
                f"progress.once({name!r}) needs a JSON value, but got {type(value).__name__}: "
                f"{exc}",
                name=name,
            ) from None
        if not self.store.put_memo(self.worker_id, self.job_id, self.attempt, name, text):
            raise JobCancelled()  # the lease is lost: another attempt may run it
        self._kept()[name] = text
        return loads(text)

    def once(self, progress: Progress, name: str, fn: Callable[[], Any]) -> Any:
        kept = self._kept()
        if name in kept:
            return loads(kept[name])
        progress.check()
        return self._keep(name, fn())

    # -- waits -------------------------------------------------------------------------------

    def wait(
        self,
        progress: Progress,
        timeout: float | None,
        poll: Callable[[], Any] | None,
        poll_interval: float,
    ) -> Any:
        index = self._waits
        self._waits += 1
        delivered = self.store.callbacks(self.job_id, self.attempt)
        if index < len(delivered):
            return loads(delivered[index])
        # Not there. When this wait began is kept at its first look, so that a run that
        # comes back later keeps its deadline.
        name = f"jobwire.wait.{index}"
        kept = self._kept()
        now = self.clock()
        began = loads(kept[name]) if name in kept else self._keep(name, now)
        if timeout is not None and now >= began + timeout:
            raise CallbackTimeout(
                f"No callback for job {self.job_id} within {timeout:g} s",
                job_id=self.job_id,
                timeout=timeout,
            )
        wake = now + LONGEST_SLEEP
        if poll is not None:
            # The run comes back only for this wait: a delivery (returned above), its
            # timeout (raised above), or its poll. The first is an interval after it began.
            if now >= began + poll_interval:
                value = poll()
                if value is not None:
                    # Kept as a delivery: a replay of this run finds it at the same place.
                    self.store.add_hook(self.job_id, f"poll:{self.attempt}:{index}", dumps(value))
                    return loads(self.store.callbacks(self.job_id, self.attempt)[index])
                wake = now + poll_interval
            else:
                wake = began + poll_interval
        if timeout is not None:
            wake = min(wake, began + timeout)
        progress.check()
        raise Suspended(index, wake)
