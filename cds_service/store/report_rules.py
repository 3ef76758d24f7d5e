"""The report's per-rule counts (issue 15): a card carries several rules, its feedback one outcome.

A card's outcome is that of its latest feedback. Per rule of a card shown:
- *accepted* when the card's outcome is ``accepted`` and one of the suggestions that feedback
  accepted came from the rule (``suggestion_rules``). A suggestion recorded before revision
  0003 (``rules_recorded`` false) does not say which rule it came from: its acceptance counts
  for every rule of its card, the only attribution there is for it.
- *overridden* when the card's outcome is ``overridden``: the clinician dismissed the whole
  card, so each of its rules was overridden, for the reason given.
A card that names no rule counts under its topic. The database does the counting, over
``card_rules`` rather than the JSON list in ``cards.rule_ids``, whose SQL differs between the
backends.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from cds_service.store.schema import (
    card_rules,
    cards,
    feedback,
    feedback_suggestions,
    invocations,
    suggestion_rules,
    suggestions,
)


class RuleCounts(NamedTuple):
    service_id: str
    rule: str
    shown: int
    accepted: int
    overridden: int


class RuleReason(NamedTuple):
    """Overrides of one rule for one reason coding (code None: a comment only)."""

    service_id: str
    rule: str
    system: str | None
    code: str | None
    display: str | None
    overrides: int


def latest_feedback() -> sa.CTE:
    """Each card's latest feedback (by ``outcomeTimestamp``, then arrival): the card's outcome."""
    ranked = sa.select(
        feedback.c.id,
        feedback.c.card_uuid,
        feedback.c.outcome,
        feedback.c.reason_system,
        feedback.c.reason_code,
        feedback.c.reason_display,
        sa.func.row_number()
        .over(
            partition_by=feedback.c.card_uuid,
            order_by=(feedback.c.outcome_at.desc(), feedback.c.id.desc()),
        )
        .label("rank"),
    ).subquery("ranked")
    return (
        sa.select(*(c for c in ranked.c if c.name != "rank"))
        .where(ranked.c.rank == 1)
        .cte("latest")
    )


def card_rule() -> sa.ColumnElement[str]:
    """The rule a (card, card_rules) row counts under: the card's topic when it names none."""
    return sa.func.coalesce(card_rules.c.rule_id, cards.c.topic)


def _credited(latest: sa.CTE) -> sa.CTE:
    """(card, rule) pairs an accepted card credits: the rules of the suggestions accepted."""
    named = (
        sa.select(latest.c.card_uuid, feedback_suggestions.c.suggestion_uuid)
        .join(feedback_suggestions, feedback_suggestions.c.feedback_id == latest.c.id)
        .where(latest.c.outcome == "accepted")
        .cte("named")
    )
    recorded = sa.select(named.c.card_uuid, suggestion_rules.c.rule_id).join(
        suggestion_rules,
        sa.and_(
            suggestion_rules.c.card_uuid == named.c.card_uuid,
            suggestion_rules.c.suggestion_uuid == named.c.suggestion_uuid,
        ),
    )
    unrecorded = (
        sa.select(named.c.card_uuid, card_rule())
        .select_from(named)
        .join(
            suggestions,
            sa.and_(
                suggestions.c.card_uuid == named.c.card_uuid,
                suggestions.c.uuid == named.c.suggestion_uuid,
                suggestions.c.rules_recorded.is_(False),
            ),
        )
        .join(cards, cards.c.uuid == named.c.card_uuid)
        .outerjoin(card_rules, card_rules.c.card_uuid == cards.c.uuid)
    )
    # UNION (not UNION ALL): a rule credited twice on one card is one acceptance.
    return sa.union(recorded, unrecorded).cte("credited")


async def rule_counts(
    conn: AsyncConnection, in_period: sa.ColumnElement[bool], latest: sa.CTE
) -> list[RuleCounts]:
    """Per service and rule: cards shown, accepted through the rule, overridden."""
    credited = _credited(latest)
    rule = card_rule()
    rows = await conn.execute(
        sa.select(
            invocations.c.service_id,
            rule,
            sa.func.count(),
            sa.func.count(credited.c.card_uuid),
            sa.func.sum(sa.case((latest.c.outcome == "overridden", 1), else_=0)),
        )
        .select_from(
            _shown(latest).outerjoin(
                credited,
                sa.and_(credited.c.card_uuid == cards.c.uuid, credited.c.rule_id == rule),
            )
        )
        .where(in_period)
        .group_by(invocations.c.service_id, rule)
        .order_by(invocations.c.service_id, rule)
    )
    return [RuleCounts(s, r, int(n), int(a), int(o or 0)) for s, r, n, a, o in rows]


async def rule_reasons(
    conn: AsyncConnection, in_period: sa.ColumnElement[bool], latest: sa.CTE
) -> list[RuleReason]:
    """Per service, rule and reason coding: how many cards carrying the rule were overridden."""
    rule = card_rule()
    rows = await conn.execute(
        sa.select(
            invocations.c.service_id,
            rule,
            latest.c.reason_system,
            latest.c.reason_code,
            sa.func.max(latest.c.reason_display),
            sa.func.count(),
        )
        .select_from(_shown(latest))
        .where(in_period, latest.c.outcome == "overridden")
        .group_by(invocations.c.service_id, rule, latest.c.reason_system, latest.c.reason_code)
    )
    return [
        RuleReason(s, rule, system, code, display, int(n))
        for s, rule, system, code, display, n in rows
    ]


def _shown(latest: sa.CTE) -> Any:
    """Cards with their call, latest feedback (if any) and one row per rule (or one, none)."""
    return (
        cards.join(invocations, cards.c.invocation_id == invocations.c.id)
        .outerjoin(latest, latest.c.card_uuid == cards.c.uuid)
        .outerjoin(card_rules, card_rules.c.card_uuid == cards.c.uuid)
    )
