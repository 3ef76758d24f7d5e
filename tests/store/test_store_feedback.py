"""Feedback and invocations in the store: idempotent, atomic, flagged, private."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import socket
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from cds_service.errors import BadRequest, ServiceUnavailable
from cds_service.store import SQLAuditStore, feedback_row
from cds_service.store.schema import cards, feedback, feedback_suggestions, invocations, suggestions
from tests.store.store_data import AUDIT_KEY, accepted, card, invocation, overridden, settings

pytestmark = pytest.mark.anyio

SERVICE = "nts-patient-view"


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SQLAuditStore]:
    store = await SQLAuditStore.open(settings(database_url))
    yield store
    await store.aclose()


async def rows(store: SQLAuditStore, table: sa.Table) -> list[sa.Row[tuple[object, ...]]]:
    async with store.engine.connect() as conn:
        return list(await conn.execute(sa.select(table)))


async def test_same_feedback_twice_is_stored_once(store: SQLAuditStore) -> None:
    shown = card()
    await store.record_invocation(invocation(shown))
    item = accepted(shown.uuid, shown.suggestions[0].uuid)
    await store.record_feedback(SERVICE, [item])
    await store.record_feedback(SERVICE, [item])
    # The same instant written another way, in a batch that repeats it: still the same item.
    same = accepted(shown.uuid, shown.suggestions[0].uuid, at="2026-11-20T10:05:31+00:00")
    await store.record_feedback(SERVICE, [same, same])
    stored = await rows(store, feedback)
    assert len(stored) == 1
    assert stored[0].card_known is True
    assert stored[0].outcome == "accepted"
    assert stored[0].outcome_at.isoformat() == "2026-11-20T10:05:31+00:00"
    assert [r.suggestion_uuid for r in await rows(store, feedback_suggestions)] == [
        shown.suggestions[0].uuid
    ]


async def test_different_feedback_for_one_card_is_kept(store: SQLAuditStore) -> None:
    shown = card()
    await store.record_invocation(invocation(shown))
    await store.record_feedback(
        SERVICE,
        [
            overridden(shown.uuid, "not-relevant", at="2026-11-20T10:00:00Z"),
            overridden(shown.uuid, "not-relevant", comment="seen", at="2026-11-20T10:00:00Z"),
            overridden(shown.uuid, "not-relevant", at="2026-11-20T10:00:01Z"),
            accepted(shown.uuid, shown.suggestions[0].uuid, at="2026-11-20T10:00:00Z"),
        ],
    )
    assert len(await rows(store, feedback)) == 4


async def test_a_batch_is_all_or_nothing(store: SQLAuditStore) -> None:
    """A database error on the last row of a batch leaves none of its rows behind."""
    shown = [card(), card(), card()]
    await store.record_invocation(invocation(*shown))
    async with store.engine.begin() as conn:
        if store.dialect == "sqlite":
            await conn.exec_driver_sql(
                "CREATE TRIGGER poison BEFORE INSERT ON feedback_suggestions "
                "WHEN NEW.suggestion_uuid = 'poison' BEGIN SELECT RAISE(ABORT, 'poison'); END"
            )
        else:
            await conn.exec_driver_sql(
                "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.suggestion_uuid = 'poison' THEN RAISE EXCEPTION 'poison'; END IF; "
                "RETURN NEW; END $$"
            )
            await conn.exec_driver_sql(
                "CREATE TRIGGER poison BEFORE INSERT ON feedback_suggestions "
                "FOR EACH ROW EXECUTE FUNCTION poison()"
            )
    batch = [
        overridden(shown[0].uuid),
        overridden(shown[1].uuid),
        accepted(shown[2].uuid, "poison"),
    ]
    with pytest.raises(ServiceUnavailable):
        await store.record_feedback(SERVICE, batch)
    assert await rows(store, feedback) == []
    # Without the poisoned item the rest of the batch goes in.
    await store.record_feedback(SERVICE, batch[:2])
    assert len(await rows(store, feedback)) == 2


async def test_unknown_cards_are_kept_flagged_and_joined_later(store: SQLAuditStore) -> None:
    late = card()
    await store.record_feedback(SERVICE, [overridden("not-a-card-of-ours"), overridden(late.uuid)])
    flags = {r.card_uuid: r.card_known for r in await rows(store, feedback)}
    assert flags == {"not-a-card-of-ours": False, late.uuid: False}
    # The invocation is written after the response, so its feedback may come first.
    await store.record_invocation(invocation(late))
    flags = {r.card_uuid: r.card_known for r in await rows(store, feedback)}
    assert flags == {"not-a-card-of-ours": False, late.uuid: True}


async def test_patient_id_is_stored_only_as_keyed_hash(store: SQLAuditStore) -> None:
    await store.record_invocation(invocation(card(), patient_id="Patient/mrn-000123"))
    (row,) = await rows(store, invocations)
    expected = hmac.new(AUDIT_KEY.encode(), b"Patient/mrn-000123", hashlib.sha256).hexdigest()
    assert row.patient_ref == expected
    assert row.patient_key_id and row.patient_key_id not in AUDIT_KEY
    async with store.engine.connect() as conn:
        for table in ("invocations", "cards", "suggestions"):
            dump = repr(list(await conn.execute(sa.text(f"SELECT * FROM {table}"))))
            assert "mrn-000123" not in dump
            assert AUDIT_KEY not in dump


async def test_without_a_key_no_patient_reference_is_kept(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/nokey.db"
    store = await SQLAuditStore.open(settings(url, key=None))
    try:
        await store.record_invocation(invocation(card(), patient_id="Patient/mrn-000123"))
        (row,) = await rows(store, invocations)
        assert row.patient_ref is None and row.patient_key_id is None
    finally:
        await store.aclose()
    assert b"mrn-000123" not in (tmp_path / "nokey.db").read_bytes()


async def test_invocation_keeps_cards_rules_and_suggestion_kinds(store: SQLAuditStore) -> None:
    shown = card("catecholaminergic", kinds=("create:MedicationRequest", "create:ServiceRequest"))
    quiet = card("cholinergic", kinds=(), indicator="warning")
    await store.record_invocation(invocation(shown, quiet))
    stored_cards = sorted(await rows(store, cards), key=lambda c: c.position)
    assert [(c.uuid, c.topic, c.indicator, c.rule_ids) for c in stored_cards] == [
        (shown.uuid, "catecholaminergic", "info", list(shown.rule_ids)),
        (quiet.uuid, "cholinergic", "warning", list(quiet.rule_ids)),
    ]
    stored = sorted(await rows(store, suggestions), key=lambda s: s.position)
    assert [(s.card_uuid, s.uuid, s.kind) for s in stored] == [
        (shown.uuid, s.uuid, s.kind) for s in shown.suggestions
    ]
    (row,) = await rows(store, invocations)
    assert (row.service_id, row.hook, row.status, row.knowledge_version) == (
        "nts-patient-view",
        "patient-view",
        200,
        "2026.11.0",
    )


async def test_oversized_ids_are_a_bad_request(store: SQLAuditStore) -> None:
    with pytest.raises(BadRequest):
        await store.record_feedback(SERVICE, [overridden("x" * 201)])
    assert await rows(store, feedback) == []


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_unreachable_database_is_service_unavailable(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/missing-dir/audit.db"
    else:
        with socket.socket() as sock:  # a port nobody listens on
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/cds"
    store = await SQLAuditStore.open(settings(url), migrate_schema=False)
    try:
        assert not await store.ready()
        with pytest.raises(ServiceUnavailable):
            await store.record_feedback(SERVICE, [overridden("some-card")])
        with pytest.raises(ServiceUnavailable):
            await store.record_invocation(invocation(card()))
    finally:
        await store.aclose()
    await _aiosqlite_threads_finished()


async def _aiosqlite_threads_finished() -> None:
    """Wait until aiosqlite's worker threads of failed connects have stopped.

    After a failed connect aiosqlite stops its thread without awaiting it; if the test's event
    loop closed first, the thread would fail to report back to it.
    """
    deadline = asyncio.get_running_loop().time() + 10
    while any(t.name.endswith("(_connection_worker_thread)") for t in threading.enumerate()):
        assert asyncio.get_running_loop().time() < deadline, "aiosqlite thread still running"
        await asyncio.sleep(0.01)


def test_feedback_identity_ignores_display_but_not_reason() -> None:
    base = feedback_row(SERVICE, overridden("c1", "a", display="Shown A"))
    assert base.identity == feedback_row(SERVICE, overridden("c1", "a", display="Other")).identity
    assert base.identity != feedback_row(SERVICE, overridden("c1", "b")).identity
    assert base.identity != feedback_row("other-service", overridden("c1", "a")).identity
