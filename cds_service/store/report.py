"""``cds-service report``: what clinicians did with the cards, per service and card topic.

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
- *overrides by rule and reason*: an overridden card counts once for every rule it carried
  (a card groups the findings about one order), per override reason coding (or "(comment
  only)"): which rules clinicians override, and why. Counted in Python from the overridden
  cards only, because the rule ids are a JSON list whose SQL differs between the backends.

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

        def with_rate(obj: TopicStats | KindStats) -> dict[str, Any]:
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
    ranked = sa.select(
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
    latest = sa.and_(ranked.c.card_uuid == cards.c.uuid, ranked.c.rank == 1)
    shown_cards = cards.join(invocations, cards.c.invocation_id == invocations.c.id).outerjoin(
        ranked, latest
    )

    def outcome_is(value: str) -> sa.ColumnElement[int]:
        return sa.func.sum(sa.case((ranked.c.outcome == value, 1), else_=0))

    rows = await conn.execute(
        sa.select(
            invocations.c.service_id,
            cards.c.topic,
            sa.func.count(),
            outcome_is("accepted"),
            outcome_is("overridden"),
            sa.func.sum(sa.case((ranked.c.outcome.is_(None), 1), else_=0)),
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
            ranked.c.reason_system,
            ranked.c.reason_code,
            sa.func.max(ranked.c.reason_display),
            sa.func.count(),
        )
        .select_from(shown_cards)
        .where(in_period, ranked.c.outcome == "overridden")
        .group_by(
            invocations.c.service_id, cards.c.topic, ranked.c.reason_system, ranked.c.reason_code
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

    rule_rows = await conn.execute(
        sa.select(
            invocations.c.service_id,
            cards.c.topic,
            cards.c.rule_ids,
            ranked.c.reason_system,
            ranked.c.reason_code,
            ranked.c.reason_display,
        )
        .select_from(shown_cards)
        .where(in_period, ranked.c.outcome == "overridden")
    )
    by_rule: dict[tuple[str, str, str | None, str], RuleOverrideCount] = {}
    for service_id, topic, rule_ids, system, code, display in rule_rows:
        for rule in list(rule_ids or []) or [topic]:
            slot = (service_id, str(rule), system, code or COMMENT_ONLY)
            entry = by_rule.setdefault(
                slot, RuleOverrideCount(str(rule), code or COMMENT_ONLY, system, display, 0)
            )
            entry.count += 1
            entry.display = entry.display or display
    for (service_id, *_), entry in sorted(
        by_rule.items(), key=lambda item: (item[0][0], item[0][1], -item[1].count, item[0][3])
    ):
        service(service_id).overrides_by_rule.append(entry)

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


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        first, *rest = cells
        return "  ".join(
            [first.ljust(widths[0]), *(c.rjust(w) for c, w in zip(rest, widths[1:], strict=True))]
        ).rstrip()

    return [line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def render_text(report: Report) -> str:
    """The human form: one block per service, a table per block."""
    period = f"since {report.since.isoformat()}" if report.since else "all recorded time"
    out = [f"CDS feedback report ({period}; generated {report.generated_at:%Y-%m-%d %H:%M} UTC)"]
    if not report.services and not report.app_launches:
        out.append("")
        out.append("No invocations or feedback recorded in this period.")
    for s in report.services:
        out.append("")
        plural = "" if s.invocations == 1 else "s"
        out.append(f"Service {s.service}: {s.invocations} invocation{plural}")
        if s.topics:
            out.append("")
            out += _table(
                ["topic", "shown", "accepted", "overridden", "ignored", "accept rate"],
                [
                    [
                        t.topic,
                        str(t.shown),
                        str(t.accepted),
                        str(t.overridden),
                        str(t.ignored),
                        _rate(t.acceptance_rate),
                    ]
                    for t in s.topics
                ],
            )
            for t in s.topics:
                if t.top_override_reasons:
                    reasons = ", ".join(
                        f"{r.display or r.code} ({r.count})" for r in t.top_override_reasons
                    )
                    out.append(f"  {t.topic}: top override reasons: {reasons}")
        if s.suggestion_kinds:
            out.append("")
            out += _table(
                ["suggestion kind", "shown", "accepted", "accept rate"],
                [
                    [k.kind, str(k.shown), str(k.accepted), _rate(k.acceptance_rate)]
                    for k in s.suggestion_kinds
                ],
            )
        if s.overrides_by_rule:
            out.append("")
            out += _table(
                ["rule", "override reason", "overrides"],
                [[r.rule, r.display or r.code, str(r.count)] for r in s.overrides_by_rule],
            )
        if s.unknown_card_feedback:
            out.append("")
            out.append(f"Feedback for unknown cards: {s.unknown_card_feedback}")
    if report.app_launches:
        out.append("")
        plural = "" if report.app_launches == 1 else "es"
        out.append(f"Trends and reasoning opened (SMART app): {report.app_launches} launch{plural}")
        out.append("")
        out += _table(["rule", "opened"], [[r.rule, str(r.opens)] for r in report.reasoning_opened])
    return "\n".join(out) + "\n"
