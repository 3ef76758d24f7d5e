"""``SQLAuditStore``: the ``AuditStore`` on SQLAlchemy, for SQLite and PostgreSQL alike.

Every write is one transaction. Feedback is the write that matters: the route answers 200
only after ``record_feedback`` returned, and it returns only after COMMIT succeeded (SQLite
with ``synchronous=FULL``, PostgreSQL with its default ``synchronous_commit=on``), so an
acknowledged batch is on disk. Any failure becomes ``ServiceUnavailable`` (503) and the EHR
may send the batch again: the identity of each item makes that harmless.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cds_service.cards.record import CardAudit
from cds_service.errors import BadRequest, ServiceUnavailable
from cds_service.protocol.messages import Feedback
from cds_service.settings import Settings
from cds_service.store import migrate
from cds_service.store.engine import READ_ONLY, TRANSACTION_TIMEOUT_S, backend, create_engine
from cds_service.store.pseudonym import Pseudonymizer
from cds_service.store.records import AppOpenAudit, InvocationAudit
from cds_service.store.schema import (
    MAX_CODE_LENGTH,
    MAX_ID_LENGTH,
    app_opens,
    card_rules,
    cards,
    feedback,
    feedback_suggestions,
    invocations,
    suggestion_rules,
    suggestions,
)

log = logging.getLogger(__name__)

# PostgreSQL serialization failure and deadlock: the transaction did nothing and may be rerun.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
_ATTEMPTS = 3
_STORE_ERRORS = (sa.exc.SQLAlchemyError, OSError, TimeoutError)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    """One feedback item in the form it is stored, with its identity."""

    identity: str
    card_uuid: str
    outcome: str
    outcome_at: datetime
    accepted: tuple[str, ...]
    reason_system: str | None
    reason_code: str | None
    reason_display: str | None
    user_comment: str | None


def feedback_row(service_id: str, item: Feedback) -> FeedbackRow:
    """Normalise one item and compute its identity.

    The identity is the sha256 of the service it was posted to, the card uuid, the outcome,
    the outcome time as a UTC instant (so ``Z`` and ``+00:00`` agree), the set of accepted
    suggestion ids, the override reason's system and code, and the user comment. Two posts
    that agree on all of these are the same feedback and are stored once; the reason's
    ``display`` is a label and does not count.
    """
    _check_length("feedback card", item.card, MAX_ID_LENGTH)
    accepted = tuple(sorted({s.id for s in item.acceptedSuggestions or ()}))
    for suggestion_id in accepted:
        _check_length("acceptedSuggestions id", suggestion_id, MAX_ID_LENGTH)
    outcome_at = datetime.fromisoformat(item.outcomeTimestamp.replace("Z", "+00:00"))
    outcome_at = outcome_at.astimezone(UTC)
    override = item.overrideReason
    coding = override.reason if override is not None else None
    comment = (override.userComment or None) if override is not None else None
    if coding is not None:
        _check_length("overrideReason system", coding.system, MAX_CODE_LENGTH)
        _check_length("overrideReason code", coding.code, MAX_CODE_LENGTH)
    canonical = json.dumps(
        [
            service_id,
            item.card,
            item.outcome,
            outcome_at.isoformat(),
            list(accepted),
            [coding.system, coding.code] if coding is not None else None,
            comment,
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return FeedbackRow(
        identity=hashlib.sha256(canonical.encode()).hexdigest(),
        card_uuid=item.card,
        outcome=item.outcome,
        outcome_at=outcome_at,
        accepted=accepted,
        reason_system=coding.system if coding is not None else None,
        reason_code=coding.code if coding is not None else None,
        reason_display=coding.display if coding is not None else None,
        user_comment=comment,
    )


def _card_rule_rows(every_card: Sequence[CardAudit]) -> list[dict[str, Any]]:
    return [
        {"card_uuid": _bounded(card.uuid), "rule_id": rule_id}
        for card in every_card
        for rule_id in dict.fromkeys(_bounded(r) for r in card.rule_ids)
    ]


def _suggestion_rule_rows(every_card: Sequence[CardAudit]) -> list[dict[str, Any]]:
    return [
        {
            "card_uuid": _bounded(card.uuid),
            "suggestion_uuid": _bounded(suggestion.uuid),
            "rule_id": rule_id,
        }
        for card in every_card
        for suggestion in card.suggestions
        for rule_id in dict.fromkeys(_bounded(r) for r in suggestion.rule_ids)
    ]


def _check_length(what: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise BadRequest(f"{what} must be at most {limit} characters")


def _bounded(value: str, limit: int = MAX_ID_LENGTH) -> str:
    return value[:limit]


def _retryable(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) in _RETRYABLE_SQLSTATES


class SQLAuditStore:
    """The audit trail and feedback store; one per process, opened in the app's lifespan."""

    def __init__(
        self,
        engine: AsyncEngine,
        pseudonymize: Pseudonymizer,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self._pseudonymize = pseudonymize
        self._clock = clock
        # SQLite has one writer at a time: queue this process's writers on a lock rather than
        # in SQLite's busy handler, which polls with sleeps (other processes still use it).
        self._write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None

    @classmethod
    async def open(cls, settings: Settings, *, migrate_schema: bool = True) -> SQLAuditStore:
        """Check the settings, connect, and bring the schema up to date.

        Raises ``ValueError`` naming the variable when the settings are unsafe (see
        ``pseudonym.py``), before anything is created.
        """
        is_postgres = backend(settings.database_url) == "postgresql"
        pseudonymize = Pseudonymizer(settings.audit_key, require_key=is_postgres)
        engine = create_engine(settings.database_url)
        try:
            if migrate_schema:
                await migrate.upgrade(engine)
        except BaseException:
            await engine.dispose()
            raise
        if not pseudonymize.enabled:
            log.warning("CDS_AUDIT_KEY is not set: the audit trail records no patient reference")
        return cls(engine, pseudonymize)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _insert(self, table: sa.Table) -> Any:
        # Both dialects spell "INSERT ... ON CONFLICT DO NOTHING" the same way.
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    async def record_invocation(self, invocation: InvocationAudit) -> None:
        """Store one invocation with its cards and suggestions (see ``record_invocations``)."""
        await self.record_invocations([invocation])

    async def record_invocations(self, batch: Sequence[InvocationAudit]) -> None:
        """Store invocations with their cards, suggestions and the rules of each, all in one
        transaction.

        One commit (one fsync) for the whole batch: written one at a time, an invocation
        costs about 2 ms of CPU and an fsync, more than evaluating the hook call itself.
        Feedback that arrived before the invocation was written (the route schedules this
        write after answering) is marked as known here, so the flag does not depend on order.
        """
        if not batch:
            return
        recorded_at = self._clock()
        rows = [self._invocation_row(invocation, recorded_at) for invocation in batch]

        async def write(conn: AsyncConnection) -> None:
            invocation_ids = await self._insert_invocations(conn, rows)
            card_rows = [
                {
                    "uuid": _bounded(card.uuid),
                    "invocation_id": invocation_id,
                    "position": position,
                    "indicator": _bounded(card.indicator, 20),
                    "topic": _bounded(card.topic),
                    "rule_ids": list(card.rule_ids),
                }
                for invocation, invocation_id in zip(batch, invocation_ids, strict=True)
                for position, card in enumerate(invocation.cards)
            ]
            if not card_rows:
                return
            # A card uuid seen before (a client retrying with the same hookInstance and a
            # service that derives uuids from it) stays with its first invocation.
            await conn.execute(
                self._insert(cards).on_conflict_do_nothing(index_elements=["uuid"]), card_rows
            )
            every_card = [card for invocation in batch for card in invocation.cards]
            await self._insert_all(conn, card_rules, _card_rule_rows(every_card))
            suggestion_rows = [
                {
                    "card_uuid": _bounded(card.uuid),
                    "uuid": _bounded(suggestion.uuid),
                    "position": position,
                    "kind": _bounded(suggestion.kind),
                    "rules_recorded": True,
                }
                for card in every_card
                for position, suggestion in enumerate(card.suggestions)
            ]
            await self._insert_all(conn, suggestions, suggestion_rows)
            await self._insert_all(conn, suggestion_rules, _suggestion_rule_rows(every_card))
            # One statement text whatever the batch size (an IN list would make a new one per
            # card count, each kept prepared in the driver's statement cache).
            await conn.execute(
                sa.update(feedback)
                .where(
                    feedback.c.card_uuid == sa.bindparam("card"),
                    feedback.c.card_known.is_(False),
                )
                .values(card_known=True),
                [{"card": r["uuid"]} for r in card_rows],
            )

        await self._transaction(write, "invocation")

    async def _insert_all(
        self, conn: AsyncConnection, table: sa.Table, rows: list[dict[str, Any]]
    ) -> None:
        """Insert rows, keeping those already there (a card uuid recorded before)."""
        if rows:
            key = [column.name for column in table.primary_key]
            await conn.execute(self._insert(table).on_conflict_do_nothing(index_elements=key), rows)

    async def _insert_invocations(
        self, conn: AsyncConnection, rows: list[dict[str, Any]]
    ) -> list[int]:
        """Insert the rows and return their ids in row order, in a fixed number of statements.

        PostgreSQL: one batched INSERT ... RETURNING. On SQLite, SQLAlchemy can only keep
        RETURNING in parameter order one row at a time, and each statement is a round trip
        through the event loop that serves the hook calls: under load the writer fell behind
        (a quarter of 10,000 calls written by the end, the rest queued in memory). SQLite
        transactions that write hold the database's one write lock from BEGIN IMMEDIATE
        (``engine.py``), so ids above the current maximum are ours to assign.
        """
        if self.dialect != "sqlite":
            result = await conn.execute(
                sa.insert(invocations).returning(invocations.c.id, sort_by_parameter_order=True),
                rows,
            )
            return list(result.scalars())
        last = (await conn.execute(sa.select(sa.func.max(invocations.c.id)))).scalar() or 0
        ids = list(range(last + 1, last + 1 + len(rows)))
        await conn.execute(
            sa.insert(invocations), [{**row, "id": id_} for row, id_ in zip(rows, ids, strict=True)]
        )
        return ids

    def _invocation_row(self, invocation: InvocationAudit, recorded_at: datetime) -> dict[str, Any]:
        started_at = invocation.started_at
        if started_at.tzinfo is None:
            started_at = started_at.replace(tzinfo=UTC)
        return {
            "hook_instance": _bounded(invocation.hook_instance),
            "service_id": _bounded(invocation.service_id),
            "hook": _bounded(invocation.hook),
            "started_at": started_at,
            "patient_ref": self._pseudonymize(invocation.patient_id),
            "patient_key_id": self._pseudonymize.key_id,
            "knowledge_version": _bounded(invocation.knowledge_version),
            "latency_ms": float(invocation.latency_ms),
            "status": int(invocation.status),
            "recorded_at": recorded_at,
        }

    async def record_feedback(self, service_id: str, feedback_items: Sequence[Feedback]) -> None:
        """Store a batch atomically and idempotently; return only once it is committed."""
        rows = {row.identity: row for row in (feedback_row(service_id, f) for f in feedback_items)}
        # Inserting in identity order makes concurrent batches that share items take their
        # locks in the same order, so two clients cannot deadlock each other on PostgreSQL.
        ordered = [rows[identity] for identity in sorted(rows)]
        received_at = self._clock()

        async def write(conn: AsyncConnection) -> None:
            card_uuids = sorted({row.card_uuid for row in ordered})
            known = set(
                (
                    await conn.execute(sa.select(cards.c.uuid).where(cards.c.uuid.in_(card_uuids)))
                ).scalars()
            )
            for row in ordered:
                result = await conn.execute(
                    self._insert(feedback)
                    .values(
                        identity=row.identity,
                        service_id=_bounded(service_id),
                        card_uuid=row.card_uuid,
                        card_known=row.card_uuid in known,
                        outcome=row.outcome,
                        outcome_at=row.outcome_at,
                        reason_system=row.reason_system,
                        reason_code=row.reason_code,
                        reason_display=row.reason_display,
                        user_comment=row.user_comment,
                        received_at=received_at,
                    )
                    .on_conflict_do_nothing(index_elements=["identity"])
                    .returning(feedback.c.id)
                )
                feedback_id = result.scalar_one_or_none()
                if feedback_id is None:
                    continue  # stored before: idempotent
                if row.accepted:
                    await conn.execute(
                        sa.insert(feedback_suggestions),
                        [{"feedback_id": feedback_id, "suggestion_uuid": s} for s in row.accepted],
                    )

        await self._transaction(write, "feedback")

    async def record_app_open(self, opened: AppOpenAudit) -> None:
        """One row per rule of the card the app was opened from (one row, rule NULL, if none)."""
        launch_id = str(uuid.uuid4())
        rows = [
            {
                "launch_id": launch_id,
                "opened_at": opened.opened_at,
                "card_uuid": _bounded(opened.card_uuid) if opened.card_uuid else None,
                "rule_id": _bounded(rule_id) if rule_id else None,
                "knowledge_version": _bounded(opened.knowledge_version),
            }
            for rule_id in (opened.rule_ids or (None,))
        ]

        async def write(conn: AsyncConnection) -> None:
            await conn.execute(sa.insert(app_opens), rows)

        await self._transaction(write, "app open")

    async def _transaction(
        self, work: Callable[[AsyncConnection], Any], what: str, attempts: int = _ATTEMPTS
    ) -> None:
        for attempt in range(1, attempts + 1):
            try:
                # A database that accepts and then says nothing (hung, or a dropped network
                # path under a pooled connection) must not hold the caller forever: the EHR
                # gets its 503 and retries.
                async with asyncio.timeout(TRANSACTION_TIMEOUT_S):
                    if self._write_lock is None:
                        async with self.engine.begin() as conn:
                            await work(conn)
                    else:
                        async with self._write_lock, self.engine.begin() as conn:
                            await work(conn)
                return
            except _STORE_ERRORS as exc:
                if attempt < attempts and _retryable(exc):
                    await asyncio.sleep(0.01 * attempt)
                    continue
                # The exception's text may quote parameters (patient data); log its type only.
                log.error("could not store %s: %s", what, type(exc).__name__)
                raise ServiceUnavailable(f"the {what} could not be stored") from exc

    async def ready(self) -> bool:
        """True when the database answers a trivial query within two seconds."""
        try:
            async with asyncio.timeout(2.0), self.engine.connect() as conn:
                conn = await conn.execution_options(**READ_ONLY)
                await conn.execute(sa.select(1))
        except _STORE_ERRORS:
            return False
        return True

    async def aclose(self) -> None:
        await self.engine.dispose()
