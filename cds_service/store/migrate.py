"""Apply the Alembic revisions shipped inside the package.

Used on every start (several workers or hosts may start at once) and by
``cds-service db upgrade``. The whole upgrade runs in one transaction under a lock, so
concurrent starts wait for each other instead of racing to create the same table: on
PostgreSQL a transaction-scoped advisory lock, on SQLite the write lock that
``BEGIN IMMEDIATE`` takes (on connections that wait up to two minutes for it, not the
five seconds a single write waits). Both backends have transactional DDL, so a failed revision leaves
the schema as it was.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from cds_service.store.engine import migration_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# An arbitrary constant naming this service's migration lock in pg_advisory_xact_lock.
_PG_LOCK_ID = 0x6364_735F_6462  # "cds_db"


def _config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database to the newest revision (or to ``revision``, which the migration
    tests use to build an older schema); a no-op when it is there already."""
    migrating = migration_engine(engine)
    try:
        async with migrating.connect() as conn:
            await conn.run_sync(_upgrade, revision)
    finally:
        if migrating is not engine:
            await migrating.dispose()


def _upgrade(conn: sa.Connection, revision: str) -> None:
    with conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK_ID})
        command.upgrade(_config(conn), revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
