"""Notifications out: a job's notify_url, and the deliveries of its end (a signed job.*
event POSTed there, retried with backoff) with every attempt

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Where the job's end is notified; NULL: nowhere (every job before this revision).
    op.add_column("jobwire_jobs", sa.Column("notify_url", sa.Text))
    op.create_table(
        "jobwire_deliveries",
        # Also the webhook-id of every attempt: the receiver recognises a retry by it.
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        # The body, made in the transaction that ended the job: the same at every attempt.
        sa.Column("payload", sa.Text, nullable=False),
        # pending, delivered, gone (410), refused (address not allowed), failed (too old).
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Column("next_attempt_at", sa.Double),
        # The sender attempting it now, until when: no other sender claims it meanwhile.
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_expires_at", sa.Double),
    )
    # "What is due": pending ones by due time; and a job's deliveries.
    op.create_index("jobwire_deliveries_due", "jobwire_deliveries", ["status", "next_attempt_at"])
    op.create_index("jobwire_deliveries_job", "jobwire_deliveries", ["job_id"])
    op.create_table(
        "jobwire_delivery_attempts",
        sa.Column("delivery_id", sa.String(32), primary_key=True),
        sa.Column("n", sa.Integer, primary_key=True),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("duration", sa.Double, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("outcome", sa.String(16), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("jobwire_delivery_attempts")
    op.drop_index("jobwire_deliveries_job", "jobwire_deliveries")
    op.drop_index("jobwire_deliveries_due", "jobwire_deliveries")
    op.drop_table("jobwire_deliveries")
    op.drop_column("jobwire_jobs", "notify_url")
