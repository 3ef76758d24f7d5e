"""Page models of what the rules are about: measures, interventions and pathways.

A measure's page has every band in every unit system (table and band bar), its codes, how
long a result stays current, its flags and notes, and which rules read it. An intervention's
page has its doses and evidence, whether it is ever offered, and every safety rule that can
withhold or qualify it with the rule's own message. A pathway's page has its biology as the
knowledge base states it, its research-only markers, and its rules and options.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from markupsafe import Markup

from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import (
    LabOrderSuggestion,
    Measure,
    MedicationSuggestion,
    Predicate,
    Questionnaire,
)
from cds_service.web.knowledge.bandbar import band_bar
from cds_service.web.knowledge.catalog import (
    DOSE_LIMIT,
    DUPLICATION,
    FOLLOW_UP,
    INTERVENTION,
    MEASURE,
    PATHWAY,
    PROMPT,
    RULE,
    SAFETY,
    Kind,
    page_path,
)
from cds_service.web.knowledge.describe import (
    UnitSystem,
    applies_to,
    band_range,
    dose_threshold,
    measure_link,
    measures_read,
    unit_systems,
)
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

# How the service treats a flagged measure (README, analytes.yaml): labels, not knowledge.
FLAG_MEANINGS = {
    "acute-phase": "acute-phase reactant: read only with a current CRP",
    "research-only": "research only: displayed, never used by a rule that suggests anything",
    "informational": "informational: displayed, never interpreted by a rule",
    "method-dependent": "method-dependent: results of different assays are not compared",
    "fasting": "fasting sample expected",
}


@dataclass(frozen=True, slots=True)
class BandRow:
    id: str
    label: str
    applies_to: str
    ranges: tuple[str, ...]  # one per unit system, canonical first
    contested: bool


@dataclass(frozen=True, slots=True)
class MeasureView:
    id: str
    name: str
    kind_label: str
    facts: tuple[Fact, ...]
    systems: tuple[UnitSystem, ...]
    bands: tuple[BandRow, ...]
    bar: Markup
    qualitative: tuple[Fact, ...]  # band -> the codes and texts that map to it
    notes: tuple[str, ...]
    read_by: tuple[Line, ...]
    citations: tuple[CitationView, ...]

    @property
    def path(self) -> str:
        return page_path(MEASURE, self.id)


def measure_view(
    kb: KnowledgeBase, measure: Measure, readers: dict[str, list[Line]]
) -> MeasureView:
    systems = unit_systems(measure)
    derived = [d for d in kb.derived if d.measure == measure.id]
    substitutes = joined(measure_link(kb, m) for m in measure.substitutes)
    rows = facts(
        fact("Short name", measure.short),
        fact("Codes", *(code_text(c) for c in measure.codes)),
        fact("Panel codes", *(code_text(c) for c in getattr(measure, "panel_codes", []))),
        fact("Canonical unit", measure.canonical_unit and systems[0].unit),
        fact(
            "Other units",
            *(f"1 {systems[0].unit} = {s.factor:g} {s.heading}" for s in systems[1:]),
        ),
        fact(
            "Also accepted as",
            ", ".join(a for s in systems[:1] for a in s.also)
            if systems and systems[0].also
            else None,
        ),
        fact("Score range", _score_range(measure)),
        fact("Current for", f"{measure.stale_after_days} days after the result"),
        fact("Flags", *(FLAG_MEANINGS.get(f, f) for f in measure.flags)),
        fact("Stands in for it", substitutes if measure.substitutes else None),
        *(
            fact(
                "Derived",
                f"{d.label} from {kb.measures[d.input].name} when no current result was sent "
                f"(adults {d.min_age}+ of recorded female or male sex)",
                *d.notes,
            )
            for d in derived
        ),
    )
    bands = tuple(
        BandRow(
            b.id,
            b.label,
            applies_to(b, measure),
            tuple(band_range(b, s) for s in systems),
            b.contested,
        )
        for b in measure.bands
    )
    qualitative = facts(
        *(
            fact(
                q.band,
                ", ".join(f"{c.code}" + (f" {c.display}" if c.display else "") for c in q.codes),
                ", ".join(f"“{t}”" for t in q.texts),
            )
            for q in measure.qualitative
        )
    )
    return MeasureView(
        id=measure.id,
        name=measure.name,
        kind_label="Questionnaire score"
        if isinstance(measure, Questionnaire)
        else "Laboratory measure",
        facts=rows,
        systems=systems,
        bands=bands,
        bar=band_bar(measure, dom_id=f"bar-{measure.id}"),
        qualitative=qualitative,
        notes=tuple(measure.notes),
        read_by=tuple(readers.get(measure.id, ())),
        citations=citation_views(
            kb, [*measure.citations, *(c for d in derived for c in d.citations)]
        ),
    )


def _score_range(measure: Measure) -> str | None:
    if not isinstance(measure, Questionnaire):
        return None
    return f"{measure.min_score:g} to {measure.max_score:g}"


def measure_readers(kb: KnowledgeBase) -> dict[str, list[Line]]:
    """Measure id -> the rules (of every kind) that read it, linked: built once per site."""
    readers: dict[str, list[Line]] = {}

    def add(kind: Kind, entry_id: str, title: str, predicates: Iterable[Predicate]) -> None:
        for measure_id in measures_read(predicates):
            readers.setdefault(measure_id, []).append(
                (Text(entry_id, page_path(kind, entry_id)), Text(f" {title}"))
            )

    for rule in kb.rules:
        add(RULE, rule.id, rule.title, [rule.when])
    for safety in kb.safety_rules:
        add(SAFETY, safety.id, safety.title, [safety.trigger])
    for prompt in kb.safety_prompts:
        add(PROMPT, prompt.id, prompt.title, [prompt.trigger])
    for limit in kb.dose_limits:
        add(DOSE_LIMIT, limit.id, limit.title, [e.when for e in limit.exceptions])
    for follow in (f for fs in kb.follow_ups.values() for f in fs):
        readers.setdefault(follow.measure, []).append(
            (Text(follow.id, page_path(FOLLOW_UP, follow.id)), Text(f" {follow.title}"))
        )
    return readers


# -- interventions ------------------------------------------------------------------------------


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
                    f"above {dose_threshold(rule.dose)}" if rule.dose else "",
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


# -- pathways ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PathwayView:
    id: str
    name: str
    role: str
    summary: str
    facts: tuple[Fact, ...]
    research_markers: tuple[str, ...]
    limitations: tuple[str, ...]
    rules: tuple[Line, ...]
    interventions: tuple[Line, ...]
    citations: tuple[CitationView, ...]

    @property
    def path(self) -> str:
        return page_path(PATHWAY, self.id)


def pathway_view(kb: KnowledgeBase, pathway_id: str) -> PathwayView:
    pathway = kb.pathways[pathway_id]
    rows = facts(
        fact("Role", pathway.role),
        fact("Precursors", ", ".join(pathway.precursors)),
        fact("Synthesis", *pathway.synthesis),
        fact("Rate-limiting steps", *pathway.rate_limiting_steps),
        fact("Co-factors", ", ".join(pathway.cofactors)),
        fact("Catabolism", *pathway.catabolism),
        fact(
            "Markers",
            joined(measure_link(kb, m) for m in pathway.markers) if pathway.markers else None,
        ),
        fact(
            "Symptom measures",
            joined(measure_link(kb, m) for m in pathway.symptom_measures)
            if pathway.symptom_measures
            else None,
        ),
        fact(
            "Precursor suggestions",
            None if pathway.precursor_suggestions else "none: this pathway is context only",
        ),
    )
    rules = tuple(
        (Text(rule.id, page_path(RULE, rule.id)), Text(f" {rule.title} (grade {rule.grade})"))
        for rule in kb.rules
        if rule.pathway == pathway.id
    )
    interventions = tuple(
        (_intervention_link(i.id, i.name), Text(f" ({i.kind}, grade {i.grade})"))
        for i in kb.interventions.values()
        if pathway.id in i.pathways
    )
    return PathwayView(
        id=pathway.id,
        name=pathway.name,
        role=pathway.role,
        summary=pathway.summary,
        facts=rows,
        research_markers=tuple(pathway.research_markers),
        limitations=tuple(pathway.limitations),
        rules=rules,
        interventions=interventions,
        citations=citation_views(kb, pathway.citations),
    )


def _pathway_link(kb: KnowledgeBase, pathway_id: str) -> Text:
    pathway = kb.pathways.get(pathway_id)
    return Text(pathway.name if pathway else pathway_id, page_path(PATHWAY, pathway_id))


def _intervention_link(intervention_id: str, name: str) -> Text:
    return Text(name, page_path(INTERVENTION, intervention_id))


def lab_order_suggesters(kb: KnowledgeBase) -> dict[str, list[Line]]:
    """Lab order id -> the rules that suggest it, for the lab orders page."""
    found: dict[str, list[Line]] = {}
    for rule in kb.rules:
        for suggestion in rule.suggest:
            if isinstance(suggestion, LabOrderSuggestion):
                found.setdefault(suggestion.lab_order, []).append(
                    (Text(rule.id, page_path(RULE, rule.id)),)
                )
    for safety in kb.safety_rules:
        if safety.replacement is not None:
            found.setdefault(safety.replacement.lab_order, []).append(
                (Text(safety.id, page_path(SAFETY, safety.id)),)
            )
    for prompt in kb.safety_prompts:
        if prompt.lab_order:
            found.setdefault(prompt.lab_order, []).append(
                (Text(prompt.id, page_path(PROMPT, prompt.id)),)
            )
    for follow in (f for fs in kb.follow_ups.values() for f in fs):
        found.setdefault(follow.lab_order, []).append(
            (Text(follow.id, page_path(FOLLOW_UP, follow.id)),)
        )
    return found
