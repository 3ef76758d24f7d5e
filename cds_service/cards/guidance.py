"""Order-time guidance (order-select, order-sign): do the patient's data support the draft?

Two kinds of card, at most one per pathway, about the *selected* draft orders only (every
draft at order-sign): a supplement being ordered is compared with the rules that would
suggest it ("supported by ferritin 12 ng/mL" / "no current data show a need"), and a drug class
listed in ``order_guidance.yaml`` (e.g. an SSRI) gets the co-factor status that bears on it.
Interactions and contraindications of the drafts are the safety stage's (engine/orders.py,
cards/orders.py); this module only adds the knowledge side, so both render side by side.

Cards fit the budget (cards/compact.py): per draft a line with what the data say and the rule
(id, grade, one sentence), then the inputs used, one to three citations; every band of every
measure and the rest of the basis belong on the rule's own page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cds_service.cards.compact import (
    first_sentence,
    fit_detail,
    input_lines,
    short_footer,
    source_links,
)
from cds_service.cards.record import CardAudit, RenderedCard, SuggestionAudit
from cds_service.cards.resources import SOURCE_LABEL, service_request
from cds_service.cards.text import ALLERGIES_NOT_CHECKED, clip, fit
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
    short: list[str] = field(default_factory=list)  # the same lines in fewer words
    trace: Trace = field(default_factory=Trace)
    rule_ids: list[str] = field(default_factory=list)
    citations: list[str] = field(default_factory=list)
    # Tests to suggest, each with the rules that ask for it (none for a drug class's own tests:
    # those come from order_guidance.yaml, not from a rule).
    lab_orders: dict[str, list[str]] = field(default_factory=dict)
    adjunct: bool = False  # a mood option: the "adjunct, never a replacement" line applies
    supplement: bool = False


def drafted_interventions(draft: MedicationFact) -> tuple[str, ...]:
    """The interventions a draft order is for: those of its ingredients, as the drug classifier
    read them (medications.yaml is the one recognition table; the safety gate reads the same)."""
    return draft.interventions


def order_guidance_cards(
    assessments: Sequence[PathwayAssessment],
    snapshot: PatientSnapshot,
    kb: KnowledgeBase,
) -> list[RenderedCard]:
    """One info card per pathway touched by the selected drafts, where there is something to
    act on: an order the data do not call for, a test that would decide it, a co-factor
    finding that bears on an antidepressant. An order the data support gets no card."""
    fired = {f.rule.id: f for a in assessments for f in a.findings}
    by_pathway: dict[str, list[_Section]] = {}
    for draft in snapshot.drafts:
        if not draft.selected:
            continue
        for intervention_id in drafted_interventions(draft):
            intervention = kb.interventions[intervention_id]
            section = _supplement_section(draft, intervention, fired, snapshot, kb)
            if section is None:
                continue
            by_pathway.setdefault(intervention.pathways[0], []).append(section)
        for guidance in kb.medication_guidance:
            if set(guidance.classes).intersection(draft.classes):
                section = _class_section(draft, guidance, fired, snapshot, kb)
                if section is not None:
                    by_pathway.setdefault(guidance.pathway, []).append(section)
    return [
        _card(pathway_id, sections, snapshot, kb) for pathway_id, sections in by_pathway.items()
    ]


def _supplement_section(
    draft: MedicationFact,
    intervention: Intervention,
    fired: dict[str, Finding],
    snapshot: PatientSnapshot,
    kb: KnowledgeBase,
) -> _Section | None:
    rules = [
        r
        for r in kb.rules
        if any(getattr(s, "medication", None) == intervention.id for s in r.suggest)
    ]
    supporting = [fired[r.id] for r in rules if r.id in fired]
    name = intervention.name.split(" (")[0]
    section = _Section(
        heading=f"**{clip(draft.name, 60)}** ({draft.ref}), being ordered",
        summary="",
        lines=[],
        supplement=True,
        adjunct=intervention.kind in ("precursor", "modulator"),
    )
    section.citations += intervention.citations
    evidence = (
        f"- {name}: evidence grade {intervention.grade}; studied dose {intervention.studied_dose}."
    )
    if not intervention.offer:
        section.summary = f"{name} order: not offered by this service"
        section.lines.append(f"- {intervention.do_not_offer_reason}")
    elif supporting:
        # The order is what the data call for: a card saying so asks for attention and changes
        # nothing (clinical-reference §7.6: no card without an action); were it blocked, the
        # safety card says to remove it and "the data support it" would contradict it.
        return None
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
            head = f"- Not met: {rule.title} (rule `{rule.id}` v{rule.version}, grade {rule.grade})"
            section.lines.append(f"{head}. {first_sentence(rule.statement)}")
            section.short.append(f"{head}.")
            for order_id in _orders_for_missing(rule, trace, snapshot, kb):
                section.lab_orders.setdefault(order_id, []).append(rule.id)
        if section.lab_orders:
            section.summary = f"{name} order: the data that would support it are missing"
    section.lines.append(evidence)
    section.short = [*(section.short or section.lines[:-1]), evidence]
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
) -> _Section | None:
    section = _Section(
        heading=f"**{clip(draft.name, 60)}** ({draft.ref}), being ordered: {guidance.title.lower()}",
        summary=f"{clip(draft.name, 50)} order: {guidance.title.lower()}",
        lines=[f"- {first_sentence(guidance.statement)}"],
        citations=list(guidance.citations),
    )
    for measure_id in guidance.measures:
        fact = snapshot.labs.get(measure_id)
        measure = kb.measures[measure_id]
        if fact is not None:
            section.trace.labs[measure_id] = fact
        elif not any(s in snapshot.labs for s in measure.substitutes):
            section.trace.missing[measure_id] = None
    # Findings about these measures (B12 deficient, vitamin D deficient...), options aside.
    measures = set(guidance.measures)
    for finding in fired.values():
        if finding.rule.id in guidance.addresses:
            section.rule_ids.append(finding.rule.id)
            section.lines.append(
                f"- This order answers: {finding.rule.title.lower()} "
                f"(rule `{finding.rule.id}` v{finding.rule.version})."
            )
        elif finding.rule.severity in ("urgent", "limitation", "caution") and measures & set(
            finding.trace.labs
        ):
            section.rule_ids.append(finding.rule.id)
            section.lines.append(
                f"- Finding: {finding.rule.finding} (rule `{finding.rule.id}` v{finding.rule.version}, "
                f"grade {finding.rule.grade}); the options are on the patient's pathway cards."
            )
    section.short = section.lines
    for order_id in guidance.lab_orders:
        order = kb.lab_orders[order_id]
        if not any(m in snapshot.labs for m in order.satisfied_by):
            section.lab_orders.setdefault(order_id, [])
    # Something to act on: a finding about these measures or a test to order. Co-factors all
    # current and unremarkable is no reason for a card (clinical-reference §7.6).
    if not section.lab_orders and not any(line.startswith("- Finding") for line in section.lines):
        return None
    return section


def _card(
    pathway_id: str,
    sections: list[_Section],
    snapshot: PatientSnapshot,
    kb: KnowledgeBase,
) -> RenderedCard:
    pathway = kb.pathways[pathway_id]
    first = sections[0].summary
    more = f" (+{len(sections) - 1} more)" if len(sections) > 1 else ""
    summary = fit((f"{first}{more}", f"{first.split(' (')[0]}{more}"))
    trace = Trace()
    essential: list[str] = []
    shorter: list[str] = []
    for section in sections:
        trace.merge(section.trace)
        essential += [section.heading, *section.lines, ""]
        shorter += [section.heading, *section.short, ""]
    optional: list[str | tuple[str, ...]] = []
    inputs = input_lines(trace, snapshot, kb)
    keep = ["**Inputs**: " + "; ".join(inputs) + "."] if inputs else []
    if any(s.adjunct for s in sections):
        optional.append(
            "Supplements are not FDA-approved for depression: an adjunct for discussion, never a "
            "replacement for antidepressant therapy or psychotherapy."
        )
    if any(s.supplement for s in sections) and not snapshot.allergies_read:
        optional.append(ALLERGIES_NOT_CHECKED)
    optional.append("Interactions and contraindications of these orders: order-check cards.")
    citation_ids = list(dict.fromkeys(c for s in sections for c in s.citations))
    citations = kb.citation_links(citation_ids)
    optional.append((source_links(citations), source_links(citations, limit=1)))
    rule_ids = list(dict.fromkeys(r for s in sections for r in s.rule_ids))
    detail = fit_detail(essential, optional, short_footer(kb, rule_ids), shorter, keep)

    suggestions: list[Suggestion] = []
    audits: list[SuggestionAudit] = []
    order_rules: dict[str, dict[str, None]] = {}
    for section in sections:
        for order_id, rules in section.lab_orders.items():
            order_rules.setdefault(order_id, {}).update(dict.fromkeys(rules))
    for order_id, asking in order_rules.items():
        order = kb.lab_orders[order_id]
        resource = service_request(kb, order, snapshot.patient_id)
        action = Action(
            type="create", description=f"Create a draft order for {order.name}", resource=resource
        )
        suggestion = Suggestion(label=clip(f"Order {order.name}", 139), actions=[action])
        suggestions.append(suggestion)
        audits.append(SuggestionAudit(suggestion.uuid, "create:ServiceRequest", tuple(asking)))
    first_citation = next(iter(citation_ids), None)
    card = Card(
        summary=summary,
        detail=detail,
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
