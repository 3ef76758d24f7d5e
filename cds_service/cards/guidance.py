"""Order-time guidance (order-select, order-sign): do the patient's data support the draft?

Two kinds of card, at most one per pathway, about the *selected* draft orders only (every
draft at order-sign): a supplement being ordered is compared with the rules that would
suggest it ("supported by ferritin 12 ng/mL" / "no current data show a need"), and a drug class
listed in ``order_guidance.yaml`` (e.g. an SSRI) gets the co-factor status that bears on it.
Interactions and contraindications of the drafts are the safety stage's (engine/orders.py,
order_cards.py); this module only adds the knowledge side, so both render side by side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cds_service.cards.detail import footer, input_table, sources, threshold_line
from cds_service.cards.record import CardAudit, RenderedCard, SuggestionAudit
from cds_service.cards.resources import SOURCE_LABEL, SUMMARY_LIMIT, service_request
from cds_service.engine.predicates import holds
from cds_service.engine.types import Finding, PathwayAssessment, Trace
from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import Intervention, MedicationGuidance, Rule
from cds_service.protocol.messages import Action, Card, Coding, Source, Suggestion
from cds_service.snapshot.facts import MedicationFact, PatientSnapshot


@dataclass(slots=True)
class _Section:
    heading: str
    summary: str
    lines: list[str]
    trace: Trace = field(default_factory=Trace)
    rule_ids: list[str] = field(default_factory=list)
    citations: list[str] = field(default_factory=list)
    lab_orders: list[str] = field(default_factory=list)


def drafted_interventions(draft: MedicationFact) -> tuple[str, ...]:
    """The interventions a draft order is for: those of its ingredients, as the drug classifier
    read them (medications.yaml is the one recognition table; the safety gate reads the same)."""
    return draft.interventions


def order_guidance_cards(
    assessments: Sequence[PathwayAssessment],
    snapshot: PatientSnapshot,
    kb: KnowledgeBase,
    blocked: frozenset[str] = frozenset(),
) -> list[RenderedCard]:
    """One info card per pathway touched by the selected drafts.

    Drafts in ``blocked`` (refs the safety stage blocks) get no "the data support it" section: a
    "remove this order" card must not sit beside one that reads as encouragement.
    """
    fired = {f.rule.id: f for a in assessments for f in a.findings}
    by_pathway: dict[str, list[_Section]] = {}
    for draft in snapshot.drafts:
        if not draft.selected:
            continue
        for intervention_id in drafted_interventions(draft):
            intervention = kb.interventions[intervention_id]
            section = _supplement_section(
                draft, intervention, fired, snapshot, kb, blocked=draft.ref in blocked
            )
            if section is None:
                continue
            by_pathway.setdefault(intervention.pathways[0], []).append(section)
        for guidance in kb.medication_guidance:
            if set(guidance.classes).intersection(draft.classes):
                section = _class_section(draft, guidance, fired, snapshot, kb)
                by_pathway.setdefault(guidance.pathway, []).append(section)
    return [
        _card(kb.pathways[pathway_id].name, pathway_id, sections, snapshot, kb)
        for pathway_id, sections in by_pathway.items()
    ]


def _supplement_section(
    draft: MedicationFact,
    intervention: Intervention,
    fired: dict[str, Finding],
    snapshot: PatientSnapshot,
    kb: KnowledgeBase,
    *,
    blocked: bool = False,
) -> _Section | None:
    rules = [
        r
        for r in kb.rules
        if any(getattr(s, "medication", None) == intervention.id for s in r.suggest)
    ]
    supporting = [fired[r.id] for r in rules if r.id in fired]
    name = intervention.name.split(" (")[0]
    section = _Section(heading=f"{draft.name} (being ordered)", summary="", lines=[])
    section.citations += intervention.citations
    if not intervention.offer:
        section.summary = f"{name} order: not offered by this service"
        section.lines.append(f"- {intervention.do_not_offer_reason}")
    elif supporting and blocked:
        return None  # the safety card says to remove it; "the data support it" would contradict
    elif supporting:
        finding = supporting[0]
        section.summary = f"{name} order: the data support it ({finding.rule.finding})"
        for f in supporting:
            section.trace.merge(f.trace)
            section.rule_ids.append(f.rule.id)
            section.citations += f.rule.citations
            section.lines.append(
                f"- Supported by the data: {f.rule.finding} (rule `{f.rule.id}` v{f.rule.version}, evidence grade {f.rule.grade}). {f.rule.statement.strip()}"
            )
        section.lines.append(
            "- The data are only half of it: interactions and contraindications of this order are on the safety cards."
        )
    else:
        section.summary = f"{name} order: current data do not show a need"
        if not rules:
            section.lines.append(f"- No rule of this service suggests {name}.")
        for rule in rules:
            trace = Trace()
            holds(rule.when, snapshot, trace)  # for its inputs; it did not fire
            section.trace.merge(trace)
            section.rule_ids.append(rule.id)
            section.citations += rule.citations
            section.lines.append(
                f"- Not met: {rule.title} (rule `{rule.id}` v{rule.version}): {rule.statement.strip()}"
            )
            section.lab_orders += _orders_for_missing(rule, trace, snapshot, kb)
        if section.lab_orders:
            section.summary = f"{name} order: the data that would support it are missing"
    section.lines.append(
        f"- Evidence grade {intervention.grade}: {intervention.evidence.strip()} Studied dose: {intervention.studied_dose}."
    )
    return section


def _orders_for_missing(
    rule: Rule, trace: Trace, snapshot: PatientSnapshot, kb: KnowledgeBase
) -> list[str]:
    """Lab orders that would supply an input the rule lacked (never one already current)."""
    orders = []
    for order in kb.lab_orders.values():
        if any(m in snapshot.labs for m in order.satisfied_by):
            continue
        if any(m in trace.missing for m in order.satisfied_by):
            orders.append(order.id)
    return orders


def _class_section(
    draft: MedicationFact,
    guidance: MedicationGuidance,
    fired: dict[str, Finding],
    snapshot: PatientSnapshot,
    kb: KnowledgeBase,
) -> _Section:
    section = _Section(
        heading=f"{draft.name} (being ordered): {guidance.title.lower()}",
        summary=f"{draft.name} order: {guidance.title.lower()}",
        lines=[f"- {guidance.statement.strip()}"],
        citations=list(guidance.citations),
    )
    for measure_id in guidance.measures:
        fact = snapshot.labs.get(measure_id)
        measure = kb.measures[measure_id]
        if fact is not None:
            section.trace.labs[measure_id] = fact
        elif not any(s in snapshot.labs for s in measure.substitutes):
            section.trace.missing[measure_id] = None
            stale = snapshot.stale_labs.get(measure_id)
            if stale is not None:
                section.trace.stale[measure_id] = stale
    # Findings about these measures (B12 deficient, vitamin D deficient...), options aside.
    measures = set(guidance.measures)
    for finding in fired.values():
        if finding.rule.severity in ("limitation", "caution") and measures & set(
            finding.trace.labs
        ):
            section.rule_ids.append(finding.rule.id)
            section.lines.append(
                f"- Finding: {finding.rule.finding} (rule `{finding.rule.id}` v{finding.rule.version}, "
                f"evidence grade {finding.rule.grade}); the options are on the patient's pathway cards."
            )
    for order_id in guidance.lab_orders:
        order = kb.lab_orders[order_id]
        if not any(m in snapshot.labs for m in order.satisfied_by):
            section.lab_orders.append(order_id)
    return section


def _card(
    pathway_name: str,
    pathway_id: str,
    sections: list[_Section],
    snapshot: PatientSnapshot,
    kb: KnowledgeBase,
) -> RenderedCard:
    summary = sections[0].summary
    if len(sections) > 1:
        summary += f" (+{len(sections) - 1} more)"
    if len(summary) > SUMMARY_LIMIT:
        summary = summary[: SUMMARY_LIMIT - 1].rstrip() + "…"
    trace = Trace()
    lines: list[str] = [f"**{pathway_name}: guidance on the orders being placed**", ""]
    for section in sections:
        trace.merge(section.trace)
        lines += [f"**{section.heading}**", "", *section.lines, ""]
    lines += input_table(trace, kb)
    measure_ids = dict.fromkeys([*trace.labs, *trace.missing])
    thresholds = [threshold_line(kb.measures[m], kb, snapshot.sex) for m in measure_ids]
    thresholds = [t for t in thresholds if t]
    if thresholds:
        lines += ["**Thresholds**", "", *thresholds, ""]
    lines += [
        "**Limitations**",
        "",
        "- Dietary supplements are not FDA-approved treatments for depression; discuss them as an adjunct, never as a replacement for antidepressant therapy or psychotherapy.",
        "- Interactions and contraindications of these orders are checked separately (safety cards).",
        "",
    ]
    citation_ids = dict.fromkeys(c for s in sections for c in s.citations)
    lines += sources(kb.citation_links(citation_ids))
    rule_ids = list(dict.fromkeys(r for s in sections for r in s.rule_ids))
    lines.append(footer(kb, rule_ids))

    suggestions: list[Suggestion] = []
    audits: list[SuggestionAudit] = []
    for order_id in dict.fromkeys(o for s in sections for o in s.lab_orders):
        order = kb.lab_orders[order_id]
        resource = service_request(kb, order, snapshot.patient_id)
        action = Action(
            type="create", description=f"Create a draft order for {order.name}", resource=resource
        )
        suggestion = Suggestion(label=f"Order {order.name}"[:140], actions=[action])
        suggestions.append(suggestion)
        audits.append(SuggestionAudit(uuid=suggestion.uuid, kind="create:ServiceRequest"))
    pathway = kb.pathways[pathway_id]
    first_citation = next(iter(citation_ids), None)
    card = Card(
        summary=summary,
        detail="\n".join(lines),
        indicator="info",
        source=Source(
            label=f"{SOURCE_LABEL}: {pathway.name}",
            url=kb.citations[first_citation].link if first_citation else None,
            topic=Coding(system=kb.manifest.topic_system, code=pathway.id, display=pathway.name),
        ),
        suggestions=suggestions or None,
        selectionBehavior="any" if suggestions else None,
    )
    audit = CardAudit(
        uuid=card.uuid,
        indicator=card.indicator,
        topic=pathway.id,
        rule_ids=tuple(rule_ids),
        suggestions=tuple(audits),
    )
    return RenderedCard(card, audit)
