"""Durable waits: waiting jobs found by when they go on, webhook deliveries in order per
attempt, and the values a task kept with ``progress.once``

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("jobwire_jobs_wake", "jobwire_jobs", ["status", "run_after"])
    with op.batch_alter_table("jobwire_hooks") as batch:
        batch.add_column(sa.Column("attempt", sa.Integer))
        batch.add_column(sa.Column("n", sa.Integer))
    op.create_table(
        "jobwire_memos",
        sa.Column("job_id", sa.String(32), primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("jobwire_memos")
    with op.batch_alter_table("jobwire_hooks") as batch:
        batch.drop_column("n")
        batch.drop_column("attempt")
    op.drop_index("jobwire_jobs_wake", "jobwire_jobs")
