"""Alembic environment: runs on the connection ``migrate.upgrade`` hands over.

The caller already holds a transaction and the migration lock, so the revisions run inside it
and commit (or roll back) as one unit on both backends.
"""

from __future__ import annotations

from alembic import context

from cds_service.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `cds-service db upgrade`, not the alembic command")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
