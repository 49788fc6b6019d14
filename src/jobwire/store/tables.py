"""The tables, as SQLAlchemy Core metadata. Alembic migrations create them; this module is
what queries are written against."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

jobs = sa.Table(
    "jobwire_jobs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("task", sa.String(200), nullable=False),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("args", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("step", sa.String(200)),
    sa.Column("current", sa.BigInteger, nullable=False, default=0),
    sa.Column("total", sa.BigInteger),
    sa.Column("message", sa.Text),
    sa.Column("eta_seconds", sa.Double),
    sa.Column("rate", sa.Double),
    sa.Column("estimated_seconds", sa.Double),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("started_at", sa.Double),
    sa.Column("finished_at", sa.Double),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False, default=0),
    sa.Column("max_attempts", sa.Integer, nullable=False, default=1),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, default=False),
    sa.Column("seq", sa.BigInteger, nullable=False, default=0),
    sa.Column("error_code", sa.String(64)),
    sa.Column("error_message", sa.Text),
    sa.Column("error_details", sa.Text),
    sa.Column("dedupe_key", sa.String(500)),
    # Equal to dedupe_key while the job is live, NULL once it ended: the unique index on it
    # is what guarantees one live job per key, under any concurrency, on every database.
    sa.Column("live_key", sa.String(500)),
    sa.Column("run_after", sa.Double, nullable=False),
    sa.Column("timeout", sa.Double),
    sa.Column("lease_owner", sa.String(64)),
    sa.Column("lease_expires_at", sa.Double),
    sa.Column("notify_url", sa.Text),
    # The steps of the attempt with their times, as JSON (jobwire.steps).
    sa.Column("steps", sa.Text),
    sa.Index("jobwire_jobs_claim", "status", "created_at", "id"),
    sa.Index("jobwire_jobs_owner", "owner", "task", "status"),
    # Partial indexes: only jobs with a dedupe key have entries, so plain jobs pay nothing.
    sa.Index(
        "jobwire_jobs_live_key",
        "live_key",
        unique=True,
        sqlite_where=sa.text("live_key IS NOT NULL"),
        postgresql_where=sa.text("live_key IS NOT NULL"),
    ),
    sa.Index(
        "jobwire_jobs_dedupe",
        "dedupe_key",
        "status",
        "finished_at",
        sqlite_where=sa.text("dedupe_key IS NOT NULL"),
        postgresql_where=sa.text("dedupe_key IS NOT NULL"),
    ),
    sa.Index("jobwire_jobs_finished", "status", "finished_at"),
    sa.Index("jobwire_jobs_created", "created_at", "id"),
    # Waiting jobs by when they go on: a claim finds the due ones without reading the rest.
    sa.Index("jobwire_jobs_wake", "status", "run_after"),
)

events = sa.Table(
    "jobwire_events",
    metadata,
    sa.Column("job_id", sa.String(32), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
)

results = sa.Table(
    "jobwire_results",
    metadata,
    sa.Column("job_id", sa.String(32), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
)

history = sa.Table(
    "jobwire_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task", sa.String(200), nullable=False),
    sa.Column("duration", sa.Double, nullable=False),
    sa.Column("total", sa.BigInteger),
    sa.Column("finished_at", sa.Double, nullable=False),
    # Seconds per step of the run, as a JSON object (jobwire.steps.durations).
    sa.Column("steps", sa.Text),
    sa.Index("jobwire_history_task", "task", "finished_at"),
)

api_keys = sa.Table(
    "jobwire_api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
    sa.Column("user", sa.String(200), nullable=False),
    sa.Column("roles", sa.Text, nullable=False),
    sa.Column("teams", sa.Text, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("revoked_at", sa.Double),
)

meta = sa.Table(
    "jobwire_meta",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

hooks = sa.Table(
    "jobwire_hooks",
    metadata,
    sa.Column("job_id", sa.String(32), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("received_at", sa.Double, nullable=False),
    # The job's attempt it was delivered to, and its place among the job's deliveries: the
    # n-th wait of an attempt takes its n-th, the same at every replay.
    sa.Column("attempt", sa.Integer),
    sa.Column("n", sa.Integer),
)

memos = sa.Table(
    "jobwire_memos",
    metadata,
    sa.Column("job_id", sa.String(32), primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
)

files = sa.Table(
    "jobwire_files",
    metadata,
    sa.Column("job_id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("content_type", sa.String(255), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("key", sa.String(255), nullable=False, unique=True),
)

file_chunks = sa.Table(
    "jobwire_file_chunks",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("offset", sa.BigInteger, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

file_trash = sa.Table(
    "jobwire_file_trash",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("trashed_at", sa.Double, nullable=False),
)

task_stats = sa.Table(
    "jobwire_task_stats",
    metadata,
    sa.Column("task", sa.String(200), primary_key=True),
    sa.Column("cache_hits", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("cache_misses", sa.BigInteger, nullable=False, server_default="0"),
)

shares = sa.Table(
    "jobwire_shares",
    metadata,
    sa.Column("job_id", sa.String(32), primary_key=True),
    sa.Column("team", sa.String(200), primary_key=True),
    sa.Column("can_view", sa.Boolean, nullable=False),
    sa.Column("can_download", sa.Boolean, nullable=False),
    sa.Column("expires_at", sa.Double),
    sa.Column("shared_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Column("revoked_at", sa.Double),
    sa.Index("jobwire_shares_team", "team", "job_id"),
    sa.Index("jobwire_shares_updated", "updated_at"),
)

deliveries = sa.Table(
    "jobwire_deliveries",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("job_id", sa.String(32), nullable=False),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Column("next_attempt_at", sa.Double),
    sa.Column("lease_owner", sa.String(64)),
    sa.Column("lease_expires_at", sa.Double),
    sa.Index("jobwire_deliveries_due", "status", "next_attempt_at"),
    sa.Index("jobwire_deliveries_job", "job_id"),
)

delivery_attempts = sa.Table(
    "jobwire_delivery_attempts",
    metadata,
    sa.Column("delivery_id", sa.String(32), primary_key=True),
    sa.Column("n", sa.Integer, primary_key=True),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("duration", sa.Double, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column("outcome", sa.String(16), nullable=False),
)
