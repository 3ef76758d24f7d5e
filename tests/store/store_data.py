"""Builders for audit records and feedback items used by the storage tests."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from cds_service.cards.record import CardAudit, SuggestionAudit
from cds_service.protocol.messages import Feedback
from cds_service.settings import Settings
from cds_service.store import SQLAuditStore
from cds_service.store.engine import create_engine
from cds_service.store.records import InvocationAudit

AUDIT_KEY = "k" * 16 + "-test-audit-key-0123456789"


def settings(database_url: str, *, key: str | None = AUDIT_KEY, **extra: Any) -> Settings:
    return Settings(database_url=database_url, audit_key=key, **extra)


def card(
    topic: str = "serotonergic",
    *,
    kinds: tuple[str, ...] = ("create:MedicationRequest",),
    indicator: str = "info",
    card_uuid: str | None = None,
    rules: tuple[str, ...] | None = None,
    suggestion_rules: tuple[tuple[str, ...], ...] | None = None,
) -> CardAudit:
    """A card with two rules by default; its n-th suggestion comes from its n-th rule (cycling),
    as a patient-view card with one suggestion per finding has it."""
    rules = (f"{topic}.rule.1", f"{topic}.rule.2") if rules is None else rules
    if suggestion_rules is None:
        suggestion_rules = tuple(
            (rules[n % len(rules)],) if rules else () for n in range(len(kinds))
        )
    return CardAudit(
        uuid=card_uuid or str(uuid.uuid4()),
        indicator=indicator,
        topic=topic,
        rule_ids=rules,
        suggestions=tuple(
            SuggestionAudit(str(uuid.uuid4()), kind, tuple(from_rules))
            for kind, from_rules in zip(kinds, suggestion_rules, strict=True)
        ),
    )


def invocation(
    *cards: CardAudit,
    service_id: str = "nts-patient-view",
    patient_id: str = "Patient/example-123",
    started_at: datetime | None = None,
) -> InvocationAudit:
    return InvocationAudit(
        hook_instance=str(uuid.uuid4()),
        service_id=service_id,
        hook="patient-view",
        patient_id=patient_id,
        knowledge_version="2026.11.0",
        started_at=started_at or datetime.now(UTC),
        latency_ms=12.5,
        status=200,
        cards=tuple(cards),
    )


def accepted(card_uuid: str, *suggestion_ids: str, at: str = "2026-11-20T10:05:31Z") -> Feedback:
    return Feedback.model_validate(
        {
            "card": card_uuid,
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": s} for s in suggestion_ids],
            "outcomeTimestamp": at,
        }
    )


def overridden(
    card_uuid: str,
    code: str | None = "not-relevant",
    *,
    comment: str | None = None,
    display: str | None = None,
    at: str = "2026-11-20T10:06:00Z",
) -> Feedback:
    reason: dict[str, Any] = {}
    if code is not None:
        reason["reason"] = {"system": "http://example.org/override", "code": code}
        if display is not None:
            reason["reason"]["display"] = display
    if comment is not None:
        reason["userComment"] = comment
    body: dict[str, Any] = {"card": card_uuid, "outcome": "overridden", "outcomeTimestamp": at}
    if reason:
        body["overrideReason"] = reason
    return Feedback.model_validate(body)


# A known set of invocations and feedback; test_store_report.py spells out its numbers.
MR, SR, DEL = "create:MedicationRequest", "create:ServiceRequest", "delete:MedicationRequest"
RECENT = datetime.now(UTC) - timedelta(days=2)
OLD = RECENT - timedelta(days=60)
SINCE = RECENT - timedelta(days=1)


async def load_known_set(store: SQLAuditStore) -> None:
    pv, os_ = "nts-patient-view", "nts-order-sign"
    c1 = card("serotonergic", kinds=(MR, SR))
    c2, c3 = card("serotonergic"), card("serotonergic")
    c4 = card("catecholaminergic", kinds=(SR,))
    c5 = card("catecholaminergic", kinds=())
    c6, c7, c8 = card("serotonergic"), card("serotonergic"), card("serotonergic")
    c9 = card("serotonergic")
    c10 = card("safety", kinds=(DEL,), indicator="critical")
    await store.record_invocation(invocation(c1, c2, c3, c4, c5, started_at=RECENT))
    await store.record_invocation(invocation(c6, c7, c8, started_at=RECENT))
    await store.record_invocation(invocation(c9, started_at=OLD))
    await store.record_invocation(invocation(c10, service_id=os_, started_at=RECENT))

    def first(c: Any) -> str:
        return str(c.suggestions[0].uuid)

    await store.record_feedback(
        pv,
        [
            accepted(c1.uuid, first(c1)),
            overridden(c2.uuid, "not-relevant", display="Not relevant"),
            # c3: no feedback (ignored)
            overridden(c4.uuid, "not-relevant", at="2026-11-20T09:00:00Z"),
            accepted(c4.uuid, first(c4), at="2026-11-20T09:30:00Z"),  # latest wins
            overridden(c5.uuid, None, comment="free text, never shown"),
        ],
    )
    await store.record_feedback(
        pv,
        [
            overridden(c6.uuid, "not-relevant", display="Not relevant"),
            overridden(c7.uuid, "patient-declined", display="Patient declined"),
            accepted(c8.uuid, first(c8), at="2026-11-20T09:00:00Z"),
            overridden(c8.uuid, "already-taking", at="2026-11-20T10:00:00Z"),
            accepted(c9.uuid, first(c9)),
        ],
    )
    await store.record_feedback(os_, [accepted(c10.uuid, first(c10))])
    await store.record_feedback(os_, [overridden("ghost-1"), overridden("ghost-2")])


def feedback_item(card_uuid: str, reason: str = "other") -> dict[str, Any]:
    """One overridden-card item as an EHR posts it (JSON, for the HTTP tests)."""
    return {
        "card": card_uuid,
        "outcome": "overridden",
        "overrideReason": {"reason": {"system": "urn:example:override", "code": reason}},
        "outcomeTimestamp": "2026-11-27T10:06:00Z",
    }


def stored_cards(database_url: str) -> list[str]:
    """The card uuids of every feedback row, read straight from the database."""

    async def run() -> list[str]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(sa.text("SELECT card_uuid FROM feedback"))
                return [str(card) for card in rows.scalars()]
        finally:
            await engine.dispose()

    return asyncio.run(run())
