"""Files that jobs produce, their chunks when kept in the database, the trash of files whose
job was deleted, and the result cache's counters per task

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobwire_files",
        sa.Column("job_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        # The attempt that saved it: only the job's current attempt's files are listed.
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        # Where its bytes are in the file storage (the database's chunks, a directory, S3).
        sa.Column("key", sa.String(255), nullable=False, unique=True),
    )
    op.create_table(
        "jobwire_file_chunks",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "jobwire_file_trash",
        # Bytes to delete from the file storage: their file row is gone (its job was deleted,
        # or it was replaced), the storage has not been told yet.
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("trashed_at", sa.Double, nullable=False),
    )
    op.create_table(
        "jobwire_task_stats",
        sa.Column("task", sa.String(200), primary_key=True),
        sa.Column("cache_hits", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("cache_misses", sa.BigInteger, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("jobwire_task_stats")
    op.drop_table("jobwire_file_trash")
    op.drop_table("jobwire_file_chunks")
    op.drop_table("jobwire_files")
