"""Time per step: the steps of a job's attempt with their times, and the seconds per step
of each successful run in the task's history

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobwire_jobs", sa.Column("steps", sa.Text))
    op.add_column("jobwire_history", sa.Column("steps", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("jobwire_history") as batch:
        batch.drop_column("steps")
    with op.batch_alter_table("jobwire_jobs") as batch:
        batch.drop_column("steps")
