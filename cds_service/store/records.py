"""What one service call leaves behind for the audit trail, and the store's interface.

The records hold no patient data: the store replaces ``patient_id`` with a keyed hash
(HMAC with ``CDS_AUDIT_KEY``) before anything is written; names, birth dates, values and
tokens never enter these records at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cds_service.cards.record import CardAudit
from cds_service.protocol.messages import Feedback


@dataclass(frozen=True, slots=True)
class InvocationAudit:
    hook_instance: str
    service_id: str
    hook: str
    patient_id: str  # hashed by the store; never written as is
    knowledge_version: str
    started_at: datetime
    latency_ms: float
    status: int
    cards: tuple[CardAudit, ...]


@dataclass(frozen=True, slots=True)
class AppOpenAudit:
    """The SMART app was opened from a card: which card and rules (from the link's
    appContext, checked against the knowledge base), when, under which knowledge version."""

    opened_at: datetime
    card_uuid: str | None
    rule_ids: tuple[str, ...]
    knowledge_version: str


class AuditStore(Protocol):
    """Durable audit and feedback storage (SQLite by default, PostgreSQL at scale)."""

    async def record_invocation(self, invocation: InvocationAudit) -> None:
        """Store one invocation; failures are logged and counted by the caller, not fatal."""

    async def record_invocations(self, batch: Sequence[InvocationAudit]) -> None:
        """Store several invocations in one transaction (the app's writer batches them)."""

    async def record_feedback(self, service_id: str, feedback: Sequence[Feedback]) -> None:
        """Store a feedback batch atomically and idempotently; return only once committed.

        Raises ``ServiceUnavailable`` when the batch could not be committed.
        """

    async def record_app_open(self, opened: AppOpenAudit) -> None:
        """Store that the SMART app was opened (no patient data); ``ServiceUnavailable`` on
        failure, which the app logs and survives."""

    async def ready(self) -> bool:
        """True when the database answers."""

    async def aclose(self) -> None: ...
