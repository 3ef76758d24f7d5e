"""``cds-service report``: what clinicians did with the cards, per service, card topic and rule.

Definitions (also in docs/operations.md):
- *shown*: cards returned by invocations that started at or after ``since``;
- a card's outcome is that of its latest feedback (by ``outcomeTimestamp``, then arrival):
  *accepted* or *overridden*; a card with no feedback at all is *ignored*;
- *top override reasons*: the reason codings of overridden cards, most frequent first
  (an override with only a comment counts as "(comment only)"; comments are never shown);
- a suggestion kind's *acceptance rate*: suggestions of that kind named in an ``accepted``
  feedback, divided by suggestions of that kind shown;
- *feedback for unknown cards*: feedback items received since ``since`` whose card uuid this
  store never recorded (kept, flagged, and counted here so a misconfigured client shows up);
- *reasoning opened*, per rule: how many times since ``since`` a clinician opened the SMART app
  (the trends and reasoning page) from a card carrying that rule. CDS Hooks has no feedback
  for app launches; this is the signal that the basis of a card was looked at.
- *per rule* (``report_rules.py``): cards shown carrying the rule, accepted through a
  suggestion that came from the rule (not every rule of the card), overridden (every rule of
  an overridden card), the top override reasons and the acceptance rate (accepted / shown);
- *overrides by rule and reason*: an overridden card counts once for every rule it carried
  (a card groups the findings about one order), per override reason coding (or "(comment
  only)"): which rules clinicians override, and why.

All counting is done by the database, so the report costs a few aggregate queries whatever the
size of the audit trail. It reads in deferred (shared) transactions and never blocks the service.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cds_service.store.engine import READ_ONLY
from cds_service.store.report_rules import (
    RuleReason,
    latest_feedback,
    rule_counts,
    rule_reasons,
)
from cds_service.store.schema import (
    app_opens,
    cards,
    feedback,
    feedback_suggestions,
    invocations,
    suggestions,
)

TOP_REASONS = 3
COMMENT_ONLY = "(comment only)"
NO_RULE = "(no rule named)"


@dataclass
class OverrideReasonCount:
    code: str
    system: str | None
    display: str | None
    count: int


@dataclass
class TopicStats:
    topic: str
    shown: int = 0
    accepted: int = 0
    overridden: int = 0
    ignored: int = 0
    top_override_reasons: list[OverrideReasonCount] = field(default_factory=list)

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.shown if self.shown else None


@dataclass
class KindStats:
    kind: str
    shown: int = 0
    accepted: int = 0

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.shown if self.shown else None


@dataclass
class RuleStats:
    rule: str
    shown: int = 0
    accepted: int = 0
    overridden: int = 0
    top_override_reasons: list[OverrideReasonCount] = field(default_factory=list)

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.shown if self.shown else None


@dataclass
class RuleOverrideCount:
    rule: str
    code: str
    system: str | None
    display: str | None
    count: int


@dataclass
class ServiceStats:
    service: str
    invocations: int = 0
    topics: list[TopicStats] = field(default_factory=list)
    rules: list[RuleStats] = field(default_factory=list)
    suggestion_kinds: list[KindStats] = field(default_factory=list)
    unknown_card_feedback: int = 0
    overrides_by_rule: list[RuleOverrideCount] = field(default_factory=list)


@dataclass
class RuleOpens:
    rule: str  # "(no rule named)" when the launch named none
    opens: int


@dataclass
class Report:
    since: datetime | None
    generated_at: datetime
    services: list[ServiceStats]
    app_launches: int = 0
    reasoning_opened: list[RuleOpens] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A plain-JSON form for tools; rates are fractions in [0, 1] or null."""

        def with_rate(obj: TopicStats | RuleStats | KindStats) -> dict[str, Any]:
            return {**asdict(obj), "acceptance_rate": obj.acceptance_rate}

        return {
            "since": self.since.isoformat() if self.since else None,
            "generated_at": self.generated_at.isoformat(),
            "services": [
                {
                    "service": s.service,
                    "invocations": s.invocations,
                    "unknown_card_feedback": s.unknown_card_feedback,
                    "topics": [with_rate(t) for t in s.topics],
                    "rules": [with_rate(r) for r in s.rules],
                    "suggestion_kinds": [with_rate(k) for k in s.suggestion_kinds],
                    "overrides_by_rule": [asdict(r) for r in s.overrides_by_rule],
                }
                for s in self.services
            ],
            "app_launches": self.app_launches,
            "reasoning_opened": [asdict(r) for r in self.reasoning_opened],
        }


async def build_report(engine: AsyncEngine, since: datetime | None = None) -> Report:
    """Compute the report from the audit tables (one consistent read)."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        async with conn.begin():
            return await _build(conn, since)


def _since(column: sa.ColumnElement[Any], since: datetime | None) -> sa.ColumnElement[bool]:
    return column >= since if since is not None else sa.true()


async def _build(conn: AsyncConnection, since: datetime | None) -> Report:
    services: dict[str, ServiceStats] = {}

    def service(name: str) -> ServiceStats:
        return services.setdefault(name, ServiceStats(service=name))

    in_period = _since(invocations.c.started_at, since)

    rows = await conn.execute(
        sa.select(invocations.c.service_id, sa.func.count())
        .where(in_period)
        .group_by(invocations.c.service_id)
    )
    for service_id, count in rows:
        service(service_id).invocations = count

    # The latest feedback of each card: its outcome is the card's outcome.
    latest = latest_feedback()
    shown_cards = cards.join(invocations, cards.c.invocation_id == invocations.c.id).outerjoin(
        latest, latest.c.card_uuid == cards.c.uuid
    )

    def outcome_is(value: str) -> sa.ColumnElement[int]:
        return sa.func.sum(sa.case((latest.c.outcome == value, 1), else_=0))

    rows = await conn.execute(
        sa.select(
            invocations.c.service_id,
            cards.c.topic,
            sa.func.count(),
            outcome_is("accepted"),
            outcome_is("overridden"),
            sa.func.sum(sa.case((latest.c.outcome.is_(None), 1), else_=0)),
        )
        .select_from(shown_cards)
        .where(in_period)
        .group_by(invocations.c.service_id, cards.c.topic)
        .order_by(invocations.c.service_id, cards.c.topic)
    )
    topics: dict[tuple[str, str], TopicStats] = {}
    for service_id, topic, shown, accepted, overridden, ignored in rows:
        stats = TopicStats(topic, int(shown), int(accepted), int(overridden), int(ignored))
        topics[(service_id, topic)] = stats
        service(service_id).topics.append(stats)

    reason_rows = await conn.execute(
        sa.select(
            invocations.c.service_id,
            cards.c.topic,
            latest.c.reason_system,
            latest.c.reason_code,
            sa.func.max(latest.c.reason_display),
            sa.func.count(),
        )
        .select_from(shown_cards)
        .where(in_period, latest.c.outcome == "overridden")
        .group_by(
            invocations.c.service_id, cards.c.topic, latest.c.reason_system, latest.c.reason_code
        )
    )
    reasons: dict[tuple[str, str], list[OverrideReasonCount]] = defaultdict(list)
    for service_id, topic, system, code, display, count in reason_rows:
        reasons[(service_id, topic)].append(
            OverrideReasonCount(code or COMMENT_ONLY, system, display, int(count))
        )
    for key, found in reasons.items():
        found.sort(key=lambda r: (-r.count, r.code))
        topics[key].top_override_reasons = found[:TOP_REASONS]

    rules: dict[tuple[str, str], RuleStats] = {}
    for counts in await rule_counts(conn, in_period, latest):
        per_rule = RuleStats(counts.rule, counts.shown, counts.accepted, counts.overridden)
        rules[(counts.service_id, counts.rule)] = per_rule
        service(counts.service_id).rules.append(per_rule)
    by_reason = sorted(await rule_reasons(conn, in_period, latest), key=_reason_order)
    for r in by_reason:
        code = r.code or COMMENT_ONLY
        service(r.service_id).overrides_by_rule.append(
            RuleOverrideCount(r.rule, code, r.system, r.display, r.overrides)
        )
        top = rules[(r.service_id, r.rule)].top_override_reasons
        if len(top) < TOP_REASONS:
            top.append(OverrideReasonCount(code, r.system, r.display, r.overrides))

    # Suggestions named in an accepted feedback for their own card.
    taken = (
        sa.select(feedback.c.card_uuid, feedback_suggestions.c.suggestion_uuid)
        .join(feedback_suggestions, feedback_suggestions.c.feedback_id == feedback.c.id)
        .where(feedback.c.outcome == "accepted")
        .distinct()
        .subquery("taken")
    )
    kind_rows = await conn.execute(
        sa.select(
            invocations.c.service_id,
            suggestions.c.kind,
            sa.func.count(),
            sa.func.count(taken.c.suggestion_uuid),
        )
        .select_from(
            suggestions.join(cards, suggestions.c.card_uuid == cards.c.uuid)
            .join(invocations, cards.c.invocation_id == invocations.c.id)
            .outerjoin(
                taken,
                sa.and_(
                    taken.c.card_uuid == suggestions.c.card_uuid,
                    taken.c.suggestion_uuid == suggestions.c.uuid,
                ),
            )
        )
        .where(in_period)
        .group_by(invocations.c.service_id, suggestions.c.kind)
        .order_by(invocations.c.service_id, suggestions.c.kind)
    )
    for service_id, kind, shown, accepted in kind_rows:
        service(service_id).suggestion_kinds.append(KindStats(kind, int(shown), int(accepted)))

    unknown_rows = await conn.execute(
        sa.select(feedback.c.service_id, sa.func.count())
        .select_from(feedback.outerjoin(cards, cards.c.uuid == feedback.c.card_uuid))
        .where(cards.c.uuid.is_(None), _since(feedback.c.received_at, since))
        .group_by(feedback.c.service_id)
    )
    for service_id, count in unknown_rows:
        service(service_id).unknown_card_feedback = int(count)

    opened = _since(app_opens.c.opened_at, since)
    launches = await conn.execute(
        sa.select(sa.func.count(sa.distinct(app_opens.c.launch_id))).where(opened)
    )
    open_rows = await conn.execute(
        sa.select(app_opens.c.rule_id, sa.func.count()).where(opened).group_by(app_opens.c.rule_id)
    )
    reasoning = [RuleOpens(rule or NO_RULE, int(count)) for rule, count in open_rows]
    reasoning.sort(key=lambda r: (-r.opens, r.rule))

    return Report(
        since=since,
        generated_at=datetime.now(UTC),
        services=[services[name] for name in sorted(services)],
        app_launches=int(launches.scalar() or 0),
        reasoning_opened=reasoning,
    )


def _reason_order(r: RuleReason) -> tuple[str, str, int, str]:
    return (r.service_id, r.rule, -r.overrides, r.code or COMMENT_ONLY)
