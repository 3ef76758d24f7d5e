"""Migrations: from an empty database to the schema the code describes, on both backends."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from cds_service.errors import AuditKeyError
from cds_service.store import SQLAuditStore
from cds_service.store.engine import create_engine
from cds_service.store.migrate import current_revision, head_revision, upgrade
from cds_service.store.schema import metadata
from tests.store.store_data import settings

pytestmark = pytest.mark.anyio


async def test_upgrade_from_empty_builds_the_declared_schema(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        assert await current_revision(engine) is None
        await upgrade(engine)
        assert await current_revision(engine) == head_revision() == "0003"
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), metadata)
            )
        assert {"invocations", "cards", "suggestions", "feedback", "feedback_suggestions"} <= (
            tables
        )
        assert diff == []
    finally:
        await engine.dispose()


async def test_upgrade_twice_is_a_no_op(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_concurrent_starts_migrate_once(database_url: str) -> None:
    """Several workers starting at once each run the upgrade; the lock serialises them."""
    engines = [create_engine(database_url) for _ in range(4)]
    try:
        await asyncio.gather(*(upgrade(e) for e in engines))
        assert await current_revision(engines[0]) == head_revision()
    finally:
        for engine in engines:
            await engine.dispose()


async def test_open_migrates_and_is_ready(database_url: str) -> None:
    store = await SQLAuditStore.open(settings(database_url))
    try:
        assert await store.ready()
        assert await current_revision(store.engine) == head_revision()
    finally:
        await store.aclose()


async def test_postgresql_without_audit_key_is_refused(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        store = await SQLAuditStore.open(settings(database_url, key=None))
        await store.aclose()  # allowed: patient references are simply not recorded
        return
    with pytest.raises(AuditKeyError, match="CDS_AUDIT_KEY"):
        await SQLAuditStore.open(settings(database_url, key=None))


async def test_short_audit_key_is_refused(database_url: str) -> None:
    with pytest.raises(AuditKeyError, match="CDS_AUDIT_KEY must be at least 32"):
        await SQLAuditStore.open(settings(database_url, key="too-short"))


async def test_sqlite_runs_in_wal_with_full_sync(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
    try:
        async with engine.connect() as conn:
            pragmas = {
                name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar_one()
                for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
            }
    finally:
        await engine.dispose()
    # synchronous 2 = FULL: every commit is fsynced before it returns.
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 2,
        "busy_timeout": 5000,
        "foreign_keys": 1,
    }
