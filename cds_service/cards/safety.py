"""Order-time alert cards: a rule marked ``alert`` that holds for a draft's patient gives a
``critical`` card before every other card (patient-view renders its own, cards/patient.py)."""

from __future__ import annotations

from collections.abc import Sequence

from cds_service.cards.detail import footer, input_table, sources
from cds_service.cards.record import CardAudit, RenderedCard
from cds_service.cards.resources import SOURCE_LABEL
from cds_service.engine.types import SafetyHit, Trace
from cds_service.knowledge import KnowledgeBase
from cds_service.protocol.messages import SUMMARY_MAX_LENGTH, Card, Coding, Source


def _summary(text: str) -> str:
    return (
        text if len(text) <= SUMMARY_MAX_LENGTH else text[: SUMMARY_MAX_LENGTH - 1].rstrip() + "…"
    )


def _evidence_lines(trace: Trace, kb: KnowledgeBase) -> list[str]:
    lines = input_table(trace, kb)
    for condition in trace.conditions.values():
        lines.append(f"- Condition: {condition.name} ({condition.ref})")
    for medication in trace.medications.values():
        lines.append(f"- Medication: {medication.name} ({medication.ref})")
    return [*lines, ""] if trace.conditions or trace.medications else lines


def alert_cards(hits: Sequence[SafetyHit], kb: KnowledgeBase) -> list[RenderedCard]:
    """One critical card per alert rule that fired."""
    cards = []
    for hit in hits:
        rule = hit.rule
        detail = [
            f"**{rule.title}**: {rule.message.strip()}",
            "",
            *_evidence_lines(hit.trace, kb),
            "**Rule**",
            "",
            f"- `{rule.id}` v{rule.version}: {rule.statement.strip()}",
            "",
            "Supplement options are withheld on every card while this applies; laboratory "
            "test suggestions may still be shown.",
            "",
            *sources(kb.citation_links(rule.citations)),
            footer(kb, [rule.id]),
        ]
        card = Card(
            summary=_summary(f"{rule.title}: {rule.message.split('.')[0]}"),
            detail="\n".join(detail),
            indicator="critical",
            source=Source(
                label=f"{SOURCE_LABEL}: safety",
                url=kb.citations[rule.citations[0]].link,
                topic=Coding(system=kb.manifest.topic_system, code=rule.id, display=rule.title),
            ),
        )
        cards.append(RenderedCard(card, CardAudit(card.uuid, "critical", rule.id, (rule.id,), ())))
    return cards
