"""jobs, events, results and history

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobwire_jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("task", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("args", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("step", sa.String(200)),
        sa.Column("current", sa.BigInteger, nullable=False),
        sa.Column("total", sa.BigInteger),
        sa.Column("message", sa.Text),
        sa.Column("eta_seconds", sa.Double),
        sa.Column("rate", sa.Double),
        sa.Column("estimated_seconds", sa.Double),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("started_at", sa.Double),
        sa.Column("finished_at", sa.Double),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("error_code", sa.String(64)),
        sa.Column("error_message", sa.Text),
        sa.Column("error_details", sa.Text),
        sa.Column("dedupe_key", sa.String(500)),
        sa.Column("live_key", sa.String(500)),
        sa.Column("run_after", sa.Double, nullable=False),
        sa.Column("timeout", sa.Double),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_expires_at", sa.Double),
    )
    op.create_index("jobwire_jobs_claim", "jobwire_jobs", ["status", "created_at", "id"])
    op.create_index("jobwire_jobs_owner", "jobwire_jobs", ["owner", "task", "status"])
    # Partial indexes: only jobs with a dedupe key have entries, so plain jobs pay nothing.
    # The unique one guarantees one live job per key under any concurrency.
    live = sa.text("live_key IS NOT NULL")
    keyed = sa.text("dedupe_key IS NOT NULL")
    op.create_index(
        "jobwire_jobs_live_key",
        "jobwire_jobs",
        ["live_key"],
        unique=True,
        sqlite_where=live,
        postgresql_where=live,
    )
    op.create_index(
        "jobwire_jobs_dedupe",
        "jobwire_jobs",
        ["dedupe_key", "status", "finished_at"],
        sqlite_where=keyed,
        postgresql_where=keyed,
    )
    op.create_index("jobwire_jobs_finished", "jobwire_jobs", ["status", "finished_at"])
    op.create_index("jobwire_jobs_created", "jobwire_jobs", ["created_at", "id"])
    op.create_table(
        "jobwire_events",
        sa.Column("job_id", sa.String(32), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
    )
    op.create_table(
        "jobwire_results",
        sa.Column("job_id", sa.String(32), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
    )
    op.create_table(
        "jobwire_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("task", sa.String(200), nullable=False),
        sa.Column("duration", sa.Double, nullable=False),
        sa.Column("total", sa.BigInteger),
        sa.Column("finished_at", sa.Double, nullable=False),
    )
    op.create_index("jobwire_history_task", "jobwire_history", ["task", "finished_at"])


def downgrade() -> None:
    op.drop_table("jobwire_history")
    op.drop_table("jobwire_results")
    op.drop_table("jobwire_events")
    op.drop_table("jobwire_jobs")
