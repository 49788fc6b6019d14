"""Webhook deliveries for jobs waiting on an external system

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobwire_hooks",
        sa.Column("job_id", sa.String(32), primary_key=True),
        # The sender's Idempotency-Key, else a hash of the body: a repeat is recognised.
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("received_at", sa.Double, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("jobwire_hooks")
