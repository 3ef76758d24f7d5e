"""Builders for audit records and feedback items used by the storage tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from cds_service.audit import CardAudit, InvocationAudit, SuggestionAudit
from cds_service.protocol import Feedback
from cds_service.settings import Settings

AUDIT_KEY = "k" * 16 + "-test-audit-key-0123456789"


def settings(database_url: str, *, key: str | None = AUDIT_KEY, **extra: Any) -> Settings:
    return Settings(database_url=database_url, audit_key=key, **extra)


def card(
    topic: str = "serotonergic",
    *,
    kinds: tuple[str, ...] = ("create:MedicationRequest",),
    indicator: str = "info",
    card_uuid: str | None = None,
) -> CardAudit:
    return CardAudit(
        uuid=card_uuid or str(uuid.uuid4()),
        indicator=indicator,
        topic=topic,
        rule_ids=(f"{topic}.rule.1", f"{topic}.rule.2"),
        suggestions=tuple(SuggestionAudit(uuid=str(uuid.uuid4()), kind=k) for k in kinds),
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
