"""The example as ``jobwire serve --examples`` runs it: the simulated provider in the same
process, its secret in the app's ``webhook_secrets``, so the whole scenario needs one command.

The provider starts on the first generation (in a background thread, on a free port) and
stops with the process. The environment adjusts it:

- ``JOBWIRE_VIDEO_PUBLIC_URL``: jobwire's address as the provider reaches it (default: the
  address ``jobwire serve`` binds, else ``http://127.0.0.1:8000``);
- ``JOBWIRE_VIDEO_PROVIDER_URL``: use a provider running elsewhere instead
  (``python -m jobwire.examples.video --port 8100 --secret whsec_…``), whose secret is then
  the ``luma`` one in ``JOBWIRE_WEBHOOK_SECRETS``;
- ``JOBWIRE_VIDEO_DREAM_SECONDS`` (``20,40``): how long the in-process provider dreams;
- ``JOBWIRE_VIDEO_POLL_SECONDS`` (``15``) and ``JOBWIRE_VIDEO_TIMEOUT`` (``600``): the task's
  poll fallback and how long each wait may take.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .provider import ProviderSettings, RunningProvider, new_secret, start_provider
from .task import PROVIDER, VideoSettings, register

if TYPE_CHECKING:
    from ...app import App


class LocalProvider:
    """A simulated provider started on first use (``url()``), once, in this process."""

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings
        self.running: RunningProvider | None = None
        self._lock = threading.Lock()

    def url(self) -> str:
        with self._lock:
            if self.running is None:
                self.running = start_provider(self.settings)
            return self.running.url

    def stop(self) -> None:
        with self._lock:
            if self.running is not None:
                self.running.stop()
                self.running = None


def _pair(text: str) -> tuple[float, float]:
    low, _, high = text.partition(",")
    return float(low), float(high or low)


def register_local(
    app: App, *, public_url: str | None = None, environ: Mapping[str, str] = os.environ
) -> dict[str, Path]:
    """Register ``video.generate`` on ``app`` with a provider in this process (or the one
    ``JOBWIRE_VIDEO_PROVIDER_URL`` names), its secret added to ``app.settings``; return the
    page. ``public_url`` is where this server is reached (``jobwire serve`` passes its own)."""
    secrets = dict(app.settings.webhook_secrets)
    external = environ.get("JOBWIRE_VIDEO_PROVIDER_URL")
    if external and PROVIDER in secrets:
        provider_url: str | LocalProvider = external
    else:
        secret = secrets.setdefault(PROVIDER, new_secret())
        dream = _pair(environ.get("JOBWIRE_VIDEO_DREAM_SECONDS", "20,40"))
        provider_url = LocalProvider(ProviderSettings(secret=secret, dream_seconds=dream))
        app.settings = app.settings.model_copy(update={"webhook_secrets": secrets})
    settings = VideoSettings(
        provider_url=provider_url if isinstance(provider_url, str) else provider_url.url,
        public_url=environ.get("JOBWIRE_VIDEO_PUBLIC_URL")
        or public_url
        or VideoSettings.public_url,
        timeout=float(environ.get("JOBWIRE_VIDEO_TIMEOUT", "600")),
        poll_interval=float(environ.get("JOBWIRE_VIDEO_POLL_SECONDS", "15")),
    )
    return register(app, settings)
