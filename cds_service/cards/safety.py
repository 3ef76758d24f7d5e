"""Safety cards that stand on their own: critical alerts (suicide risk) and monitoring prompts.

An alert rule (``alert: true`` in safety.yaml) gives a ``critical`` card, rendered before every
other card; the same rule blocks every supplement suggestion, so the pathway cards carry lab
orders only. Monitoring prompts (metformin -> B12, PPIs -> B12 and magnesium, B6 antagonists ->
B6, long-term zinc -> copper) are one ``info`` card with the tests as suggestions.
"""

from __future__ import annotations

from collections.abc import Sequence

from cds_service.cards.detail import footer, input_table, sources
from cds_service.cards.record import CardAudit, RenderedCard, SuggestionAudit
from cds_service.cards.resources import SOURCE_LABEL, order_test_suggestion
from cds_service.engine.predicates import holds
from cds_service.engine.types import SafetyHit, Trace
from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.references import walk
from cds_service.knowledge.schema import (
    ConditionPredicate,
    Questionnaire,
    SafetyPrompt,
    SafetyRule,
)
from cds_service.protocol.messages import SUMMARY_MAX_LENGTH, Card, Coding, Source, Suggestion
from cds_service.snapshot.facts import PatientSnapshot


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


def _answers(trace: Trace, rule: SafetyRule, kb: KnowledgeBase) -> list[str]:
    """What fired, in words: "PHQ-9 item 9 = 2", "C-SSRS screen: suicidal thoughts = yes",
    "Suicide attempt on record" (recorded conditions first)."""
    named = {n.condition for n in walk(rule.trigger) if isinstance(n, ConditionPredicate)}
    answers = []
    for condition in trace.conditions.values():
        classes = [c for c in condition.classes if c in named] or list(condition.classes)
        answers.append(f"{kb.condition_classes[classes[0]].name} on record")
    for measure_id, fact in trace.labs.items():
        measure = kb.measures[measure_id]
        short = measure.name.split(" (")[0]
        yes_no = isinstance(measure, Questionnaire) and measure.max_score == 1
        if yes_no or fact.value is None:
            answer = fact.band_label or next(
                (b.label for b in measure.bands if b.id == fact.band), fact.reported
            )
        else:
            answer = f"{fact.value:g}"
        answers.append(f"{short} = {answer}")
    return answers


def _alert_summary(hit: SafetyHit, kb: KnowledgeBase) -> str:
    rule = hit.rule
    answers = _answers(hit.reason, rule, kb) if hit.reason is not None else []
    if rule.summary is None or not answers:
        return _summary(f"{rule.title}: {rule.message.split('.')[0]}")
    return _summary(f"{answers[0]}: {rule.summary}")


def alert_cards(hits: Sequence[SafetyHit], kb: KnowledgeBase) -> list[RenderedCard]:
    """One critical card per alert rule that fired: the answer that fired and what to do."""
    cards = []
    for hit in hits:
        rule = hit.rule
        answers = _answers(hit.reason, rule, kb) if hit.reason is not None else []
        detail = [
            f"**{rule.title}**: {rule.message.strip()}",
            "",
            *([f"**Answer**: {'; '.join(answers)}", ""] if answers else []),
            *_evidence_lines(hit.reason or hit.trace, kb),
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
            summary=_alert_summary(hit, kb),
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


def fired_prompts(snapshot: PatientSnapshot, kb: KnowledgeBase) -> list[tuple[SafetyPrompt, Trace]]:
    fired = []
    for prompt in kb.safety_prompts:
        trace = Trace()
        if holds(prompt.trigger, snapshot, trace):
            fired.append((prompt, trace))
    return fired


def prompt_cards(snapshot: PatientSnapshot, kb: KnowledgeBase) -> list[RenderedCard]:
    """One info card with every monitoring prompt that fired, and its tests as suggestions."""
    fired = fired_prompts(snapshot, kb)
    if not fired:
        return []
    suggestions: list[Suggestion] = []
    audits: list[SuggestionAudit] = []
    ordered: set[str] = set()
    lines = ["**Medication-related monitoring**", ""]
    trace = Trace()
    for prompt, prompt_trace in fired:
        trace.merge(prompt_trace)
        drugs = ", ".join(f"{m.name} ({m.ref})" for m in prompt_trace.medications.values())
        grade = f", evidence grade {prompt.grade}" if prompt.grade else ""
        lines.append(
            f"- {prompt.message.strip()} (rule `{prompt.id}` v{prompt.version}{grade}; {drugs})"
        )
        if prompt.lab_order and prompt.lab_order not in ordered:
            ordered.add(prompt.lab_order)
            lab_order = kb.lab_orders[prompt.lab_order]
            suggestion, audit = order_test_suggestion(
                kb, lab_order, snapshot.patient_id, _summary(f"Order {lab_order.name}")
            )
            suggestions.append(suggestion)
            audits.append(audit)
    lines.append("")
    lines += input_table(trace, kb)
    lines += ["**Rules**", ""]
    lines += [f"- `{p.id}` {p.title}: {p.statement.strip()}" for p, _ in fired]
    lines.append("")
    citations = dict.fromkeys(c for p, _ in fired for c in p.citations)
    lines += sources(kb.citation_links(citations))
    lines.append(footer(kb, [p.id for p, _ in fired]))
    first = fired[0][0]
    tests = [kb.lab_orders[t].name.split(",")[0] for t in ordered]
    summary = f"Medication-related monitoring: {first.title}"
    if tests:
        summary = f"Medication-related monitoring: consider {', '.join(tests)}"
    card = Card(
        summary=_summary(summary),
        detail="\n".join(lines),
        indicator="info",
        source=Source(
            label=f"{SOURCE_LABEL}: monitoring",
            url=kb.citations[first.citations[0]].link,
            topic=Coding(
                system=kb.manifest.topic_system, code="monitoring", display="Monitoring prompts"
            ),
        ),
        suggestions=suggestions or None,
        selectionBehavior="any" if suggestions else None,
    )
    rule_ids = tuple(p.id for p, _ in fired)
    return [RenderedCard(card, CardAudit(card.uuid, "info", "monitoring", rule_ids, tuple(audits)))]
