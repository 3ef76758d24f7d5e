"""Retention: rows older than the cutoff go, with their children; newer rows stay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from cds_service.store import SQLAuditStore
from cds_service.store.pseudonym import Pseudonymizer
from cds_service.store.retention import prune
from cds_service.store.schema import (
    card_rules,
    cards,
    feedback,
    feedback_suggestions,
    invocations,
    suggestion_rules,
    suggestions,
)
from tests.store.store_data import accepted, card, invocation, overridden, settings

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=400)
RECENT = NOW - timedelta(days=10)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SQLAuditStore]:
    store = await SQLAuditStore.open(settings(database_url))
    yield store
    await store.aclose()


async def counts(store: SQLAuditStore) -> dict[str, int]:
    tables = (
        invocations,
        cards,
        card_rules,
        suggestions,
        suggestion_rules,
        feedback,
        feedback_suggestions,
    )
    async with store.engine.connect() as conn:
        return {
            t.name: (await conn.execute(sa.select(sa.func.count()).select_from(t))).scalar_one()
            for t in tables
        }


async def test_prune_deletes_old_rows_in_batches(store: SQLAuditStore) -> None:
    old_cards = [
        card(kinds=("create:MedicationRequest", "create:ServiceRequest")) for _ in range(5)
    ]
    for c in old_cards:
        await store.record_invocation(invocation(c, started_at=OLD))
    recent = card()
    await store.record_invocation(invocation(recent, started_at=RECENT))

    old_clock = SQLAuditStore(store.engine, Pseudonymizer(None), clock=lambda: OLD)
    for c in old_cards:
        await old_clock.record_feedback("svc", [accepted(c.uuid, c.suggestions[0].uuid)])
    await store.record_feedback("svc", [accepted(recent.uuid, recent.suggestions[0].uuid)])
    await store.record_feedback("svc", [overridden(recent.uuid)])

    result = await prune(store.engine, NOW - timedelta(days=365), batch=2)

    assert result.deleted == {
        "invocations": 5,
        "cards": 5,
        "card_rules": 10,
        "suggestions": 10,
        "suggestion_rules": 10,
        "feedback": 5,
        "feedback_suggestions": 5,
        "app_opens": 0,
    }
    assert await counts(store) == {
        "invocations": 1,
        "cards": 1,
        "card_rules": 2,
        "suggestions": 1,
        "suggestion_rules": 1,
        "feedback": 2,
        "feedback_suggestions": 1,
    }
    async with store.engine.connect() as conn:
        assert (await conn.execute(sa.select(cards.c.uuid))).scalars().all() == [recent.uuid]
    # Nothing left to prune: a second run deletes nothing.
    again = await prune(store.engine, NOW - timedelta(days=365))
    assert set(again.deleted.values()) == {0}
