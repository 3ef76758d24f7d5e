"""Migrations: from an empty database to the schema the code describes, on both backends."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from cds_service.errors import AuditKeyError
from cds_service.store import SQLAuditStore
from cds_service.store.engine import create_engine
from cds_service.store.migrate import MIGRATIONS, current_revision, head_revision, upgrade
from cds_service.store.pseudonym import Pseudonymizer
from cds_service.store.report import build_report
from cds_service.store.schema import (
    card_rules,
    cards,
    feedback,
    feedback_suggestions,
    invocations,
    metadata,
    suggestion_rules,
    suggestions,
)
from tests.store.store_data import MR, RECENT, SR, accepted, card, invocation, settings

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


# -- Revision 0003: rules per card and per suggestion (issue 15) ---------------------------------

SERVICE = "nts-patient-view"
B12, FOLATE, VITAMIN_D = "b12-deficient", "folate-deficient", "vitamin-d-deficient"


async def write_0002_rows(engine: Any) -> None:
    """What a 0002 database holds: cards with their rule ids as JSON, suggestions and feedback
    knowing nothing of which rule a suggestion came from. Written with the 0002 columns only."""

    async def insert(conn: Any, table: sa.Table, **values: Any) -> Any:
        """Insert one row; return its generated id, if the table has one."""
        statement = sa.insert(table).values(**values)
        if "id" not in table.c:
            await conn.execute(statement)
            return None
        return (await conn.execute(statement.returning(table.c.id))).scalar_one()

    async with engine.begin() as conn:
        call = await insert(
            conn, invocations, hook_instance="legacy", service_id=SERVICE, hook="patient-view",
            started_at=RECENT, knowledge_version="0.6.0", latency_ms=5.0, status=200,
            recorded_at=RECENT,
        )  # fmt: skip
        for uuid, topic, rule_ids in [
            ("L1", "methylation", [B12, FOLATE]),  # two findings; its first suggestion taken
            ("L2", "methylation", [B12, B12]),  # one finding (named twice), overridden
            ("L3", "S1", []),  # an order card that named no rule, overridden
        ]:
            await insert(conn, cards, uuid=uuid, invocation_id=call, position=0,
                         indicator="info", topic=topic, rule_ids=rule_ids)  # fmt: skip
        for card_uuid, uuid, kind in [("L1", "s1", MR), ("L1", "s2", SR), ("L2", "s3", MR)]:
            await insert(conn, suggestions, card_uuid=card_uuid, uuid=uuid, position=0, kind=kind)
        common = {"service_id": SERVICE, "card_known": True, "outcome_at": RECENT,
                  "received_at": RECENT}  # fmt: skip
        taken = await insert(
            conn, feedback, identity="f1", card_uuid="L1", outcome="accepted", **common
        )
        await insert(conn, feedback_suggestions, feedback_id=taken, suggestion_uuid="s1")
        await insert(conn, feedback, identity="f2", card_uuid="L2", outcome="overridden",
                     reason_system="urn:example", reason_code="not-relevant", **common)  # fmt: skip
        await insert(conn, feedback, identity="f3", card_uuid="L3", outcome="overridden",
                     user_comment="free text", **common)  # fmt: skip


async def rule_counts(engine: Any) -> dict[str, tuple[int, int, int]]:
    report = (await build_report(engine)).to_json()
    [service] = report["services"]
    return {r["rule"]: (r["shown"], r["accepted"], r["overridden"]) for r in service["rules"]}


async def rows(engine: Any, *columns: Any) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        return sorted(tuple(r) for r in await conn.execute(sa.select(*columns)))


def _downgrade(conn: sa.Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    with conn.begin():
        command.downgrade(config, revision)


async def test_upgrade_from_0002_keeps_old_cards_reporting_by_their_card_rules(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine, "0002")
        await write_0002_rows(engine)
        await upgrade(engine)
        assert await current_revision(engine) == "0003"
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), metadata)
            )
        assert diff == []
        # Each card's rules from its JSON list, once each; nothing invented for suggestions.
        assert await rows(engine, card_rules.c.card_uuid, card_rules.c.rule_id) == [
            ("L1", B12), ("L1", FOLATE), ("L2", B12),
        ]  # fmt: skip
        assert await rows(engine, suggestions.c.rules_recorded) == [(False,)] * 3
        assert await rows(engine, suggestion_rules.c.rule_id) == []

        # A call recorded after the upgrade: one suggestion per rule, the vitamin D one taken.
        store = SQLAuditStore(engine, Pseudonymizer(None))
        new = card("methylation", kinds=(MR, MR), rules=(B12, VITAMIN_D))
        await store.record_invocation(invocation(new, service_id=SERVICE, started_at=RECENT))
        await store.record_feedback(SERVICE, [accepted(new.uuid, new.suggestions[1].uuid)])

        # The old accepted card counts for both its rules (which one was never recorded), the
        # new one for vitamin D only; the rule-less card counts under its topic.
        assert await rule_counts(engine) == {
            B12: (3, 1, 1),
            FOLATE: (1, 1, 0),
            VITAMIN_D: (1, 1, 0),
            "S1": (1, 0, 1),
        }
        report = (await build_report(engine)).to_json()
        topics = {t["topic"]: (t["shown"], t["accepted"], t["overridden"])
                  for t in report["services"][0]["topics"]}  # fmt: skip
        assert topics == {"methylation": (3, 2, 1), "S1": (1, 0, 1)}
    finally:
        await engine.dispose()


async def test_downgrade_to_0002_and_back_keeps_the_audit_trail(database_url: str) -> None:
    """Rolling back drops only what 0003 added; upgrading again rebuilds the card rules, and
    suggestions recorded in between count, like any older ones, for their card's rules."""
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        store = SQLAuditStore(engine, Pseudonymizer(None))
        shown = card("methylation", kinds=(MR, MR), rules=(B12, VITAMIN_D))
        await store.record_invocation(invocation(shown, service_id=SERVICE, started_at=RECENT))
        await store.record_feedback(SERVICE, [accepted(shown.uuid, shown.suggestions[1].uuid)])
        assert await rule_counts(engine) == {B12: (1, 0, 0), VITAMIN_D: (1, 1, 0)}

        async with engine.connect() as conn:
            await conn.run_sync(_downgrade, "0002")
        assert await current_revision(engine) == "0002"
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
            columns = await conn.run_sync(lambda c: sa.inspect(c).get_columns("suggestions"))
        assert not {"card_rules", "suggestion_rules"} & tables
        assert "rules_recorded" not in {c["name"] for c in columns}
        assert len(await rows(engine, suggestions.c.uuid)) == 2  # kept through the rebuild

        await upgrade(engine)
        assert await rule_counts(engine) == {B12: (1, 1, 0), VITAMIN_D: (1, 1, 0)}
    finally:
        await engine.dispose()


async def test_engines_opening_a_new_file_at_once_all_get_wal(tmp_path: Path) -> None:
    """Connections racing to switch a new file to WAL can deadlock; none of them may fail.

    One race in a dozen or so lost a connection before the switch was retried, so this runs
    the race many times over.
    """
    for trial in range(80):
        url = f"sqlite+aiosqlite:///{tmp_path}/race-{trial}.db"
        engines = [create_engine(url) for _ in range(6)]

        async def mode(engine: Any) -> str:
            async with engine.connect() as conn:
                return str((await conn.exec_driver_sql("PRAGMA journal_mode")).scalar())

        try:
            assert await asyncio.gather(*(mode(e) for e in engines)) == ["wal"] * 6
        finally:
            for engine in engines:
                await engine.dispose()
