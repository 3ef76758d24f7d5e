"""Page models of interventions: what the service may suggest, and everything that limits it.

Doses (suggested, ceiling, studied, upper intake level), evidence grade and text, limitations,
whether it is ever offered, the alternatives of one choice, every safety rule that can
withhold or qualify it with the rule's own message, the order checks and follow-ups that
concern it, and the research-only markers of its pathways.
"""

from __future__ import annotations

from dataclasses import dataclass

from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import MedicationSuggestion
from cds_service.web.knowledge.catalog import (
    DOSE_LIMIT,
    DUPLICATION,
    FOLLOW_UP,
    INTERVENTION,
    PATHWAY,
    RULE,
    SAFETY,
    page_path,
)
from cds_service.web.knowledge.describe import dose_threshold
from cds_service.web.knowledge.parts import (
    CitationView,
    Fact,
    Line,
    Text,
    citation_views,
    code_text,
    dose_unit,
    fact,
    facts,
    joined,
)


@dataclass(frozen=True, slots=True)
class SafetyRow:
    rule: Text
    action: str
    title: str
    message: str
    when: str  # dose threshold and scope


@dataclass(frozen=True, slots=True)
class InterventionView:
    id: str
    name: str
    offered: bool
    not_offered_reason: str | None
    facts: tuple[Fact, ...]
    evidence: str
    limitations: tuple[str, ...]
    safety: tuple[SafetyRow, ...]
    order_checks: tuple[Line, ...]
    suggested_by: tuple[Line, ...]
    research_markers: tuple[Fact, ...]  # per pathway
    citations: tuple[CitationView, ...]

    @property
    def path(self) -> str:
        return page_path(INTERVENTION, self.id)


def intervention_view(kb: KnowledgeBase, intervention_id: str) -> InterventionView:
    item = kb.interventions[intervention_id]
    alternatives = [
        i
        for i in kb.interventions.values()
        if item.choice and i.choice == item.choice and i.id != item.id
    ]
    variants = [i for i in kb.interventions.values() if i.variant_of == item.id]
    rows = facts(
        fact("Short name", item.short),
        fact("Kind", item.kind),
        fact("Pathways", joined(_pathway_link(kb, p) for p in item.pathways)),
        fact("Ingredient", code_text(item.ingredient)),
        fact("Dose suggested", item.dose_text),
        fact("Daily dose", item.dose_label or item.daily_dose.describe()),
        fact(
            "Never above",
            f"{item.max_daily_dose.value:,g} {dose_unit(item.max_daily_dose.unit)}/day"
            if item.max_daily_dose
            else None,
        ),
        fact("Upper intake level", item.upper_limit),
        fact("Studied dose", item.studied_dose),
        fact("Evidence grade", item.grade),
        fact(
            "Alternatives (one choice)",
            joined(_intervention_link(i.id, i.name) for i in alternatives)
            if alternatives
            else None,
        ),
        fact(
            "Regimen of",
            (_intervention_link(item.variant_of, kb.interventions[item.variant_of].name),)
            if item.variant_of in kb.interventions
            else None,
        ),
        fact(
            "Other regimens",
            joined(_intervention_link(i.id, i.name) for i in variants) if variants else None,
        ),
        fact("Tags read by safety rules", ", ".join(item.tags)),
    )
    safety = tuple(
        SafetyRow(
            rule=Text(rule.id, page_path(SAFETY, rule.id)),
            action=rule.action + (" (hard)" if rule.hard else ""),
            title=rule.title,
            message=rule.message,
            when="; ".join(
                part
                for part in (
                    f"doses {dose_threshold(rule.dose)}" if rule.dose else "",
                    "orders only" if rule.scope == ["orders"] else "",
                    "suggestions only" if rule.scope == ["suggestions"] else "",
                )
                if part
            ),
        )
        for rule in kb.safety_rules_by_intervention.get(item.id, ())
    )
    base = kb.base_intervention(item.id)
    checks: list[Line] = [
        (Text(limit.id, page_path(DOSE_LIMIT, limit.id)), Text(f" {limit.title}"))
        for limit in kb.dose_limits
        if item.id in limit.interventions or base in limit.interventions
    ]
    checks += [
        (Text(rule.id, page_path(DUPLICATION, rule.id)), Text(f" {rule.title}"))
        for rule in kb.duplication
        if not rule.interventions or item.id in rule.interventions or base in rule.interventions
    ]
    checks += [
        (Text(f.id, page_path(FOLLOW_UP, f.id)), Text(f" {f.title}"))
        for f in kb.follow_ups.get(base, ())
    ]
    suggested_by = tuple(
        (Text(rule.id, page_path(RULE, rule.id)), Text(f" {rule.title} (grade {rule.grade})"))
        for rule in kb.rules
        if any(
            isinstance(s, MedicationSuggestion) and s.medication == item.id for s in rule.suggest
        )
    )
    markers = facts(
        *(
            fact(kb.pathways[p].name, *kb.pathways[p].research_markers)
            for p in item.pathways
            if p in kb.pathways
        )
    )
    return InterventionView(
        id=item.id,
        name=item.name,
        offered=item.offer,
        not_offered_reason=item.do_not_offer_reason,
        facts=rows,
        evidence=item.evidence,
        limitations=tuple(item.limitations),
        safety=safety,
        order_checks=tuple(checks),
        suggested_by=suggested_by,
        research_markers=markers,
        citations=citation_views(kb, item.citations),
    )


def _pathway_link(kb: KnowledgeBase, pathway_id: str) -> Text:
    pathway = kb.pathways.get(pathway_id)
    return Text(pathway.name if pathway else pathway_id, page_path(PATHWAY, pathway_id))


def _intervention_link(intervention_id: str, name: str) -> Text:
    return Text(name, page_path(INTERVENTION, intervention_id))
