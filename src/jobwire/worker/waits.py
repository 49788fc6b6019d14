"""How a running task waits for a webhook: a callback URL signed with the shared secret, and
a wait that looks in the store for the first delivery (the server records it there)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from .. import hooks
from ..errors import CallbackTimeout, ConfigurationError
from ..progress import Progress
from ..snapshot import loads


class Deliveries(Protocol):
    def hook(self, job_id: str) -> str | None:
        """The payload of the job's first webhook delivery, or None while there is none."""


class StoreCallbacks:
    """The :class:`~jobwire.progress.Callbacks` of a worker's tasks: the wait looks for a
    delivery every ``CHECK_EVERY`` seconds."""

    CHECK_EVERY = 0.25

    def __init__(
        self,
        store: Deliveries,
        secret: Callable[[], str],
        providers: Callable[[], Mapping[str, str]] = dict,
    ) -> None:
        self.store = store
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

    def wait(
        self,
        progress: Progress,
        timeout: float | None,
        poll: Callable[[], Any] | None,
        poll_interval: float,
    ) -> Any:
        start = time.monotonic()
        deadline = None if timeout is None else start + timeout
        next_poll = start + poll_interval if poll is not None else math.inf
        while True:
            progress.check()
            payload = self.store.hook(progress.job_id)
            if payload is not None:
                return loads(payload)
            now = time.monotonic()
            if poll is not None and now >= next_poll:
                value = poll()
                if value is not None:
                    return value
                next_poll = time.monotonic() + poll_interval
            if deadline is not None and now >= deadline:
                raise CallbackTimeout(
                    f"No callback for job {progress.job_id} within {timeout:g} s",
                    job_id=progress.job_id,
                    timeout=timeout,
                )
            wake = min(next_poll, deadline or math.inf, now + self.CHECK_EVERY)
            time.sleep(max(wake - time.monotonic(), 0.0))
