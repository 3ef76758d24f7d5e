"""Page models of the rules that make findings: recommendation rules, follow-ups of supplements
already taken, and order guidance; ``entry_view`` finds the builder of any kind a card names.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import (
    FollowUp,
    LabOrderSuggestion,
    LabPredicate,
    MedicationGuidance,
    MedicationSuggestion,
    Predicate,
    Rule,
    SuggestionRef,
)
from cds_service.web.knowledge.catalog import (
    DOSE_LIMIT,
    DUPLICATION,
    FOLLOW_UP,
    GUIDANCE,
    INTERVENTION,
    PATHWAY,
    PROMPT,
    RULE,
    SAFETY,
    Kind,
    page_path,
)
from cds_service.web.knowledge.describe import condition, measure_link, names
from cds_service.web.knowledge.entries import (
    ConditionBlock,
    EntryView,
    band_labels,
    entry_model,
    interventions_line,
    lab_order_line,
)
from cds_service.web.knowledge.parts import Line, Text, fact, facts, joined, words
from cds_service.web.knowledge.safety import (
    dose_limit_view,
    duplication_view,
    prompt_view,
    safety_view,
)

# What each severity means for the card (knowledge/schema/rules.py): labels, not knowledge.
SEVERITIES = {
    "urgent": "urgent: needs prompt action; the card is a warning",
    "limitation": "limitation: a co-factor deficit or precursor shortfall",
    "uncertain": "uncertain: data missing or equivocal",
    "option": "option: a symptom-led option for discussion",
    "caution": "caution: to know before any option",
    "context": "context: shown on the cards of other findings only",
}


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


Item = TypeVar("Item", bound=_Identified)


def _find(items: Iterable[Item], entry_id: str) -> Item:
    return next(item for item in items if item.id == entry_id)


def entry_view(kb: KnowledgeBase, kind: Kind, entry_id: str) -> EntryView:
    """The page model of one rule-like entry (``kind`` one of ``catalog.CARD_KINDS``)."""
    if kind is RULE:
        return _rule(kb, _find(kb.rules, entry_id))
    if kind is SAFETY:
        return safety_view(kb, _find(kb.safety_rules, entry_id))
    if kind is PROMPT:
        return prompt_view(kb, _find(kb.safety_prompts, entry_id))
    if kind is FOLLOW_UP:
        return _follow_up(kb, _find((f for fs in kb.follow_ups.values() for f in fs), entry_id))
    if kind is DOSE_LIMIT:
        return dose_limit_view(kb, _find(kb.dose_limits, entry_id))
    if kind is DUPLICATION:
        return duplication_view(kb, _find(kb.duplication, entry_id))
    if kind is GUIDANCE:
        return _guidance(kb, _find(kb.medication_guidance, entry_id))
    raise ValueError(f"{kind.key} pages are not rule pages")


def _rule(kb: KnowledgeBase, rule: Rule) -> EntryView:
    pathway = kb.pathways.get(rule.pathway)
    rows = facts(
        fact(
            "Pathway",
            (Text(pathway.name if pathway else rule.pathway, page_path(PATHWAY, rule.pathway)),),
        ),
        fact("Finding", rule.finding),
        fact("Severity", SEVERITIES.get(rule.severity, rule.severity)),
        fact(
            "Card",
            f"{rule.group} card" + (", indicator warning" if rule.indicator == "warning" else ""),
        ),
        fact("Advice", rule.advice),
        fact("Card note", rule.card_note),
        fact("Leads with", (measure_link(kb, rule.lead),) if rule.lead else None),
    )
    causes = [ConditionBlock(cause.label, condition(cause.when, kb)) for cause in rule.causes]
    return entry_model(
        kb,
        RULE,
        rule.id,
        rule.title,
        version=rule.version,
        grade=rule.grade,
        statement=rule.statement,
        rows=rows,
        blocks=[ConditionBlock("When", condition(rule.when, kb))],
        causes=causes,
        predicates=[rule.when],
        suggests=tuple(_suggestion(kb, s) for s in rule.suggest),
        citations=rule.citations,
    )


def _follow_up(kb: KnowledgeBase, follow: FollowUp) -> EntryView:
    source = {
        "cited": "cited: a checked source gives the interval",
        "service-default": "service default: no checked source gives it (the card says so)",
    }[follow.interval_source]
    band_predicates = [
        _band_predicate(follow.measure, follow.target_bands),
        *(
            [_band_predicate(follow.measure, follow.baseline_bands)]
            if follow.baseline_bands
            else []
        ),
    ]
    rows = facts(
        fact("Supplement", interventions_line(kb, [follow.intervention])),
        fact("Measure", (measure_link(kb, follow.measure),)),
        fact(
            "Recheck after", f"{follow.interval} ({follow.recheck_after_days} days after the start)"
        ),
        fact("Interval", source),
        fact("Target reached in", band_labels(kb, follow.measure, follow.target_bands)),
        fact(
            "Only after treated",
            band_labels(kb, follow.measure, follow.baseline_bands)
            if follow.baseline_bands
            else None,
        ),
    )
    return entry_model(
        kb,
        FOLLOW_UP,
        follow.id,
        follow.title,
        version=follow.version,
        grade=follow.grade,
        statement=follow.statement,
        rows=rows,
        predicates=band_predicates,
        suggests=(lab_order_line(kb, follow.lab_order),),
        citations=follow.citations,
    )


def _guidance(kb: KnowledgeBase, guidance: MedicationGuidance) -> EntryView:
    pathway = kb.pathways.get(guidance.pathway)
    rows = facts(
        fact("Drugs being ordered", names(kb, guidance.classes)),
        fact(
            "Pathway",
            (
                Text(
                    pathway.name if pathway else guidance.pathway,
                    page_path(PATHWAY, guidance.pathway),
                ),
            ),
        ),
        fact("Measures shown", joined(measure_link(kb, m) for m in guidance.measures)),
        fact(
            "Answers the finding of",
            joined(Text(r, page_path(RULE, r)) for r in guidance.addresses)
            if guidance.addresses
            else None,
        ),
    )
    return entry_model(
        kb,
        GUIDANCE,
        guidance.id,
        guidance.title,
        statement=guidance.statement,
        rows=rows,
        suggests=tuple(lab_order_line(kb, o) for o in guidance.lab_orders),
        citations=guidance.citations,
    )


def _suggestion(kb: KnowledgeBase, suggestion: SuggestionRef) -> Line:
    if isinstance(suggestion, MedicationSuggestion):
        intervention = kb.interventions.get(suggestion.medication)
        if intervention is None:
            return words(suggestion.medication)
        return (
            Text(intervention.name, page_path(INTERVENTION, intervention.id)),
            Text(f": {intervention.dose_text} (grade {intervention.grade})"),
        )
    assert isinstance(suggestion, LabOrderSuggestion)
    line = lab_order_line(kb, suggestion.lab_order)
    if suggestion.repeat:
        line += (Text(" (repeated even when a current result exists)"),)
    if suggestion.prerequisite_for:
        line += (Text(" before "), *interventions_line(kb, suggestion.prerequisite_for))
    return line


def _band_predicate(measure_id: str, band_ids: list[str]) -> Predicate:
    """The bands a follow-up names, as the predicate that reads them (for the thresholds)."""
    return LabPredicate(lab=measure_id, band=band_ids)
