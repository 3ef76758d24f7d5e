"""Retention: delete audit rows older than ``CDS_RETENTION_DAYS``.

Invocations go by the time they started (with their cards, suggestions and the rules of
each), feedback by the time it was received (with its accepted-suggestion rows), SMART app
opens by when they happened. Rows are deleted in batches, each its own short transaction, so a
large prune never holds SQLite's single write lock for long and the service keeps
acknowledging feedback while it runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cds_service.store.schema import (
    app_opens,
    card_rules,
    cards,
    feedback,
    feedback_suggestions,
    invocations,
    suggestion_rules,
    suggestions,
)

BATCH = 5000


@dataclass
class PruneResult:
    cutoff: datetime
    deleted: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            (
                "invocations",
                "cards",
                "card_rules",
                "suggestions",
                "suggestion_rules",
                "feedback",
                "feedback_suggestions",
                "app_opens",
            ),
            0,
        )
    )


async def prune(engine: AsyncEngine, cutoff: datetime, *, batch: int = BATCH) -> PruneResult:
    """Delete every invocation started and every feedback received before ``cutoff``."""
    result = PruneResult(cutoff=cutoff)
    while True:
        async with engine.begin() as conn:
            done = await _prune_invocations(conn, cutoff, batch, result)
        if done:
            break
    while True:
        async with engine.begin() as conn:
            done = await _prune_feedback(conn, cutoff, batch, result)
        if done:
            break
    while True:
        async with engine.begin() as conn:
            done = await _prune_app_opens(conn, cutoff, batch, result)
        if done:
            break
    return result


async def _oldest_ids(
    conn: AsyncConnection,
    id_column: sa.Column[Any],
    time_column: sa.Column[Any],
    cutoff: datetime,
    batch: int,
) -> list[int]:
    """The ids of up to ``batch`` rows older than ``cutoff``, oldest ids first."""
    statement = sa.select(id_column).where(time_column < cutoff).order_by(id_column).limit(batch)
    return list((await conn.execute(statement)).scalars())


async def _delete(conn: AsyncConnection, statement: sa.Delete) -> int:
    outcome = await conn.execute(statement)
    return int(outcome.rowcount)


async def _prune_invocations(
    conn: AsyncConnection, cutoff: datetime, batch: int, result: PruneResult
) -> bool:
    ids = await _oldest_ids(conn, invocations.c.id, invocations.c.started_at, cutoff, batch)
    if not ids:
        return True
    card_uuids = sa.select(cards.c.uuid).where(cards.c.invocation_id.in_(ids))
    counts = result.deleted
    counts["suggestion_rules"] += await _delete(
        conn, sa.delete(suggestion_rules).where(suggestion_rules.c.card_uuid.in_(card_uuids))
    )
    counts["card_rules"] += await _delete(
        conn, sa.delete(card_rules).where(card_rules.c.card_uuid.in_(card_uuids))
    )
    counts["suggestions"] += await _delete(
        conn, sa.delete(suggestions).where(suggestions.c.card_uuid.in_(card_uuids))
    )
    counts["cards"] += await _delete(conn, sa.delete(cards).where(cards.c.invocation_id.in_(ids)))
    counts["invocations"] += await _delete(
        conn, sa.delete(invocations).where(invocations.c.id.in_(ids))
    )
    return len(ids) < batch


async def _prune_feedback(
    conn: AsyncConnection, cutoff: datetime, batch: int, result: PruneResult
) -> bool:
    ids = await _oldest_ids(conn, feedback.c.id, feedback.c.received_at, cutoff, batch)
    if not ids:
        return True
    counts = result.deleted
    counts["feedback_suggestions"] += await _delete(
        conn, sa.delete(feedback_suggestions).where(feedback_suggestions.c.feedback_id.in_(ids))
    )
    counts["feedback"] += await _delete(conn, sa.delete(feedback).where(feedback.c.id.in_(ids)))
    return len(ids) < batch


async def _prune_app_opens(
    conn: AsyncConnection, cutoff: datetime, batch: int, result: PruneResult
) -> bool:
    ids = await _oldest_ids(conn, app_opens.c.id, app_opens.c.opened_at, cutoff, batch)
    if not ids:
        return True
    result.deleted["app_opens"] += await _delete(
        conn, sa.delete(app_opens).where(app_opens.c.id.in_(ids))
    )
    return len(ids) < batch
