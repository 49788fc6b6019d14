"""Alembic environment for jobwire's own tables. Run through jobwire.store.migrate, which
passes an open connection in ``config.attributes["connection"]``."""

from __future__ import annotations

from alembic import context

from jobwire.store.tables import metadata

config = context.config
connection = config.attributes["connection"]
on_apply = config.attributes.get("on_version_apply")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table="jobwire_alembic_version",
    render_as_batch=True,
    on_version_apply=on_apply,
)
with context.begin_transaction():
    context.run_migrations()
