"""At most three cards per order-time call (clinical-reference §7.6), critical first.

The cards of one call are ranked (critical, then warning, then info; within an indicator in
the order the stages made them: alerts, order checks, what could not be checked, guidance).
When there are more than three, the first two stay as they are and the rest become one card
whose indicator is the most severe of them: each folded card is a line (its summary and
rules) and its suggestions stay offered, so no finding is dropped silently.
"""

from __future__ import annotations

from collections.abc import Sequence

from cds_service.cards.compact import short_footer
from cds_service.cards.record import CardAudit, RenderedCard, SuggestionAudit
from cds_service.cards.resources import SOURCE_LABEL
from cds_service.cards.text import DETAIL_BUDGET, clip, fit
from cds_service.knowledge import KnowledgeBase
from cds_service.protocol.messages import Card, Coding, OverrideCoding, Source, Suggestion

MAX_CARDS = 3
_RANK = {"critical": 0, "warning": 1, "info": 2}


def fit_cards(rendered: Sequence[RenderedCard], kb: KnowledgeBase) -> list[RenderedCard]:
    """The call's cards, critical first, folded to at most three."""
    ranked = sorted(rendered, key=lambda r: _RANK[r.card.indicator])  # stable: stage order
    if len(ranked) <= MAX_CARDS:
        return ranked
    kept, folded = ranked[: MAX_CARDS - 1], ranked[MAX_CARDS - 1 :]
    return [*kept, _folded(folded, kb)]


def _folded(cards: Sequence[RenderedCard], kb: KnowledgeBase) -> RenderedCard:
    indicator = min((r.card.indicator for r in cards), key=_RANK.__getitem__)
    # Rule ids only: a folded card without rules ("not checked") names its topic in its line,
    # never as a rule (the audit, the report and the Why link read these as rules).
    rule_ids = list(dict.fromkeys(rule for r in cards for rule in r.audit.rule_ids))
    footer = short_footer(kb, rule_ids)
    lines = [f"**{len(cards)} more findings on the orders being placed** (one line each):", ""]
    budget = DETAIL_BUDGET - len(footer) - 2
    for index, rendered in enumerate(cards):
        rules = ", ".join(rendered.audit.rule_ids)
        line = f"- {rendered.card.indicator}: {rendered.card.summary}"
        line += f" (rules {rules})" if rules else ""
        rest = len(cards) - index
        if len("\n".join([*lines, line])) > budget - 80 and rest > 1:
            names = ", ".join(r.audit.topic for r in cards[index:])
            lines.append(clip(f"- and {rest} more: {names}", 200))
            break
        lines.append(line)
    suggestions, kept_as = _distinct([s for r in cards for s in r.card.suggestions or ()])
    reasons: dict[tuple[str, str], OverrideCoding] = {}
    hard = any(r.card.indicator == "critical" and not r.card.overrideReasons for r in cards)
    for rendered in cards:
        for reason in rendered.card.overrideReasons or ():
            reasons.setdefault((reason.system, reason.code), reason)
    first = cards[0]
    card = Card(
        summary=fit(
            (
                f"{len(cards)} more order findings: {first.card.summary}",
                f"{len(cards)} more order findings, first: {clip(first.card.summary, 90)}",
            )
        ),
        detail="\n".join([*lines, "", footer]),
        indicator=indicator,
        source=Source(
            label=f"{SOURCE_LABEL}: order check",
            topic=Coding(
                system=kb.manifest.topic_system,
                code=first.audit.topic,
                display=first.card.source.topic.display if first.card.source.topic else None,
            ),
        ),
        suggestions=suggestions or None,
        selectionBehavior="any" if suggestions else None,
        overrideReasons=list(reasons.values()) if reasons and not hard else None,
    )
    audit = CardAudit(
        card.uuid,
        indicator,
        first.audit.topic,
        tuple(rule_ids),
        _merged_audits([s for r in cards for s in r.audit.suggestions], kept_as),
    )
    return RenderedCard(card, audit)


def _distinct(suggestions: Sequence[Suggestion]) -> tuple[list[Suggestion], dict[str, str]]:
    """One suggestion per real choice: two folded cards that both offer the same test, or
    both remove the same draft, offer it once. Also returns, per suggestion uuid, the uuid
    of the one kept in its place."""
    first: dict[str, Suggestion] = {}
    kept_as: dict[str, str] = {}
    for suggestion in suggestions:
        key = repr(
            [
                (a.type, a.resourceId, a.resource and _identity(a.resource))
                for a in suggestion.actions or ()
            ]
        )
        kept_as[suggestion.uuid] = first.setdefault(key, suggestion).uuid
    return list(first.values()), kept_as


def _merged_audits(
    audits: Sequence[SuggestionAudit], kept_as: dict[str, str]
) -> tuple[SuggestionAudit, ...]:
    """The audit of each suggestion kept, naming the rules of the twins it stands for too:
    accepting it answers every folded card that offered it."""
    kept: dict[str, SuggestionAudit] = {}
    for audit in audits:
        uuid = kept_as.get(audit.uuid)
        if uuid is None:
            continue
        mine = kept.setdefault(uuid, SuggestionAudit(uuid, audit.kind, ()))
        rules = tuple(dict.fromkeys([*mine.rule_ids, *audit.rule_ids]))
        kept[uuid] = SuggestionAudit(uuid, mine.kind, rules)
    return tuple(kept.values())


def _identity(resource: dict[str, object]) -> str:
    """What a created or updated resource is: its id, else its code (the test it orders)."""
    return str(
        resource.get("id") or resource.get("code") or resource.get("medicationCodeableConcept")
    )
