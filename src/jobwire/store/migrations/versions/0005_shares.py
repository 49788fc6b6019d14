"""Jobs shared with teams: can_view, can_download, an expiry, and a tombstone for a revoked
share, kept until retention so that every server learns of the revoke

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobwire_shares",
        sa.Column("job_id", sa.String(32), primary_key=True),
        sa.Column("team", sa.String(200), primary_key=True),
        sa.Column("can_view", sa.Boolean, nullable=False),
        sa.Column("can_download", sa.Boolean, nullable=False),
        sa.Column("expires_at", sa.Double),
        sa.Column("shared_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        # Every change (a new share, new rights, a revoke) sets it: servers read the shares
        # changed since their last look, as they read revoked API keys.
        sa.Column("updated_at", sa.Double, nullable=False),
        # A revoked share stays as a tombstone until retention removes it.
        sa.Column("revoked_at", sa.Double),
    )
    # "Shared with teams T": the team's rows, joined to the jobs by id (newest first there).
    op.create_index("jobwire_shares_team", "jobwire_shares", ["team", "job_id"])
    op.create_index("jobwire_shares_updated", "jobwire_shares", ["updated_at"])


def downgrade() -> None:
    op.drop_index("jobwire_shares_updated", "jobwire_shares")
    op.drop_index("jobwire_shares_team", "jobwire_shares")
    op.drop_table("jobwire_shares")
