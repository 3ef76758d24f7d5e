"""The per-call budget: critical first, then warning, then info, and at most three cards.

The renderers group findings so that a call rarely needs more (patient-view has three groups;
order time one card per draft order that needs attention). When more arrive, the cards past
the third are folded into the third: their summaries become lines of its detail and their
suggestions join its own, so no finding is dropped, only moved one card down.
"""

from __future__ import annotations

from collections.abc import Sequence

from cds_service.cards.record import CardAudit, RenderedCard
from cds_service.cards.resources import override_reasons
from cds_service.knowledge import KnowledgeBase

MAX_CARDS = 3
RANK = {"critical": 0, "warning": 1, "info": 2}


def within_budget(rendered: Sequence[RenderedCard], kb: KnowledgeBase) -> list[RenderedCard]:
    """The cards ordered by indicator (stable within one), folded to at most ``MAX_CARDS``."""
    ordered = sorted(rendered, key=lambda r: RANK[r.card.indicator])
    if len(ordered) <= MAX_CARDS:
        return ordered
    kept, overflow = ordered[: MAX_CARDS - 1], ordered[MAX_CARDS - 1 :]
    return [*kept, _fold(overflow, kb)]


def _fold(cards: Sequence[RenderedCard], kb: KnowledgeBase) -> RenderedCard:
    """One card holding several: the first's content, then a line per other card."""
    first = cards[0]
    others = cards[1:]
    lines = [f"- Also ({o.card.indicator}): {o.card.summary}" for o in others]
    detail = "\n".join([first.card.detail or "", "", "**Also on this call**", *lines]).strip()
    suggestions = [s for c in cards for s in c.card.suggestions or ()]
    indicator = min((c.card.indicator for c in cards), key=lambda i: RANK[i])
    behaviors = {c.card.selectionBehavior for c in cards if c.card.suggestions}
    behavior = behaviors.pop() if len(behaviors) == 1 else ("any" if suggestions else None)
    card = first.card.model_copy(
        update={
            "detail": detail,
            "indicator": indicator,
            "suggestions": suggestions or None,
            "selectionBehavior": behavior,
            "overrideReasons": override_reasons(kb) if indicator != "info" else None,
        }
    )
    audit = CardAudit(
        card.uuid,
        indicator,
        first.audit.topic,
        tuple(dict.fromkeys(r for c in cards for r in c.audit.rule_ids)),
        tuple(s for c in cards for s in c.audit.suggestions),
    )
    return RenderedCard(card, audit)
