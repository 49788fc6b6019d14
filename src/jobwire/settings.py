"""Configuration: ``JOBWIRE_*`` environment variables, or the same keys in ``jobwire.toml``."""

from __future__ import annotations

import ipaddress
import json
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .hooks import check_provider, check_secret
from .notify.policy import check_url


class Settings(BaseSettings):
    """Every key can be set as ``JOBWIRE_<KEY>`` or as ``<key> = …`` in ``jobwire.toml``."""

    model_config = SettingsConfigDict(
        env_prefix="JOBWIRE_",
        toml_file="jobwire.toml",
        extra="ignore",
        hide_input_in_errors=True,  # a bad value may be a secret: errors never repeat it
    )

    database_url: str = "sqlite:///jobwire.db"
    bus_url: str = "memory://"
    workers: int = Field(2, ge=1, le=1024)
    executor: Literal["threads", "processes", "celery"] = "threads"
    """Where attempts run: this process's threads or processes, or Celery workers."""
    progress_interval: float = Field(0.1, ge=0.0, le=60.0)
    lease_seconds: float = Field(30.0, gt=0.0)
    poll_interval: float = Field(0.5, gt=0.0)
    retention_days: float = Field(7.0, gt=0.0)
    default_owner: str = "local"
    cancel_grace: float = Field(10.0, ge=0.0)
    """Seconds a running job gets to stop after a cancel before it is stopped for good."""

    # -- files that jobs save (Progress.save_file) ----------------------------------------
    files_url: str | None = None
    """Where their bytes go: none for the job database (every server of a scaled deployment
    serves them), ``file:///dir`` for a directory, ``s3://bucket/prefix`` for an
    S3-compatible bucket (``pip install 'jobwire[s3]'``)."""
    max_file_bytes: int = Field(512 << 20, gt=0)
    """Bytes one saved file may have (512 MiB); a larger one raises FileTooLarge."""
    max_job_file_bytes: int = Field(2 << 30, gt=0)
    """Bytes the files of one job may have together (2 GiB)."""

    # -- Celery (executor = "celery") ---------------------------------------------------
    celery_broker_url: str | None = None
    """The Celery broker (``redis://…`` or ``amqp://…``). Required with executor=celery."""
    celery_queue: str = "jobwire"
    celery_visibility_timeout: float = Field(300.0, gt=0.0)
    """Redis broker only: seconds before an unacknowledged message (its worker was killed)
    is delivered again. A duplicate delivered while the job still runs waits for its lease."""
    celery_resend_after: float = Field(3600.0, gt=0.0)
    """Seconds a due job may stay queued before its message is sent again, in case the broker
    lost it (a Redis broker restarted without persistence)."""

    # -- server -------------------------------------------------------------------------
    auth: Literal["none", "token"] = "none"
    """``none``: no credentials (loopback only); ``token``: API keys or JWTs required."""
    jwt_secret: str | None = None
    """HS256 secret for users' JWTs."""
    jwt_public_key: str | None = None
    """RS256 public key (PEM text, or a path to a PEM file) for users' JWTs."""
    jwt_audience: str | None = None
    secret_key: str | None = None
    """Signs stream tokens. Default: a random secret kept in the database, shared by every
    process that uses it."""
    stream_token_seconds: int = Field(3600, gt=0)
    submit_rate: float = Field(10.0, gt=0)
    """Submits per second per owner (a token bucket)…"""
    submit_burst: int = Field(20, ge=1)
    """…with bursts up to this many."""
    max_body_bytes: int = Field(1 << 20, gt=0)
    heartbeat_seconds: float = Field(15.0, gt=0)
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Host names served besides the loopback ones (``jobs.example.com``; ``*.example.com``
    for its subdomains; ``*`` for any). Without authentication only loopback names and these
    are served (a page's DNS-rebinding name is not); with authentication, when set, too.
    From the environment: a JSON list or comma-separated names."""
    share_roles: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["teamlead", "admin"]
    )
    """Roles that may share their own jobs with teams (``POST /api/jobs/{id}/shares``); a
    holder of one of them who is a member of a team may also end that team's shares. From
    the environment: a JSON list or comma-separated roles."""
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Origins (``https://app.example.com``) of front ends served from elsewhere: their
    requests get CORS headers and their pages may open the streams (WebSocket, SSE)."""
    # -- notifications out (a signed job.* event POSTed when a job ends) -------------------
    notify_url: str | None = None
    """Where the end of every job is notified, unless its task (``@app.task(notify_url=)``)
    or its submit (``notify_url=``) says otherwise: an ``http(s)`` URL."""
    notify_secret: str | None = None
    """The Standard Webhooks secret (``whsec_…``) notifications are signed with. Default: a
    random one kept in the database (``App.notify_secret``), shared by every process."""
    notify_retry_hours: float = Field(24.0, gt=0)
    """Hours a notification is tried again (until answered 2xx or 410) before it fails."""
    notify_backoff: float = Field(5.0, gt=0)
    """Seconds before the first retry; doubled at each further one (times a random 0.5 to 1)…"""
    notify_backoff_max: float = Field(3600.0, gt=0)
    """…up to this many."""
    notify_timeout: float = Field(10.0, gt=0, le=120)
    """Seconds each step of an attempt (connect, send, the answer's headers) may take."""
    notify_allow_private: bool = False
    """Allow notifications to private, loopback and link-local addresses (a receiver on this
    machine or the local network). Off, such an address is refused: a literal one when the
    job is submitted (422), one a host name resolves to when the notification is sent."""

    webhook_secrets: dict[str, str] = Field(default_factory=dict)
    """The Standard Webhooks secret (``whsec_…``) of each provider that signs its callbacks,
    by provider name: ``{"luma": "whsec_…"}`` (from the environment: JSON). A task hands such
    a provider ``progress.callback_url_for("luma")``."""

    @field_validator("allowed_hosts", "cors_origins", "share_roles", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        """``a,b`` or ``["a", "b"]`` from the environment; a list from TOML or code."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _check_hosts(cls, hosts: list[str]) -> list[str]:
        out = []
        for host in hosts:
            name = host.strip().lower().removesuffix(".")
            if name.startswith("[") and name.endswith("]"):
                name = name[1:-1]  # an IPv6 address, as written in URLs
            wildcard = name.startswith("*.") and "*" not in name[2:]
            bad = not name or "/" in name or ("*" in name and name != "*" and not wildcard)
            if not bad and ":" in name:  # only an IPv6 address has one
                try:
                    ipaddress.IPv6Address(name)
                except ValueError:
                    bad = True
            if bad:
                raise ValueError(
                    "Expected host names such as 'jobs.example.com' or '*.example.com' "
                    f"(no scheme, no port), but got {host!r}"
                )
            out.append(name)
        return out

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        out = []
        for origin in origins:
            text = origin.strip().lower().removesuffix("/")
            if text != "*":
                try:
                    parts = urlsplit(text)
                    parts.port  # noqa: B018 -- raises ValueError on a bad port
                except ValueError:
                    parts = urlsplit("")
                extra = parts.path or parts.query or parts.fragment or parts.username
                if parts.scheme not in ("http", "https") or not parts.hostname or extra:
                    raise ValueError(
                        "Expected origins such as 'https://app.example.com' or "
                        f"'http://localhost:3000' (scheme, host, port; no path), but got {origin!r}"
                    )
            out.append(text)
        return out

    @field_validator("webhook_secrets")
    @classmethod
    def _check_webhook_secrets(cls, secrets: dict[str, str]) -> dict[str, str]:
        for provider, secret in secrets.items():
            check_provider(provider)
            try:
                check_secret(secret)
            except ValueError as exc:  # the message never repeats the secret
                raise ValueError(f"webhook_secrets[{provider!r}]: {exc}") from None
        return secrets

    @field_validator("notify_secret")
    @classmethod
    def _check_notify_secret(cls, secret: str | None) -> str | None:
        return None if secret is None else check_secret(secret)

    @model_validator(mode="after")
    def _check_notify_url(self) -> Settings:
        if self.notify_url is not None:
            check_url(self.notify_url, allow_private=self.notify_allow_private)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))
