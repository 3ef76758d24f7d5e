"""Decisions -> CDS Hooks cards a clinician can verify from the card alone.

One card per pathway with findings (never one per lab). The detail shows the exact inputs
(value, unit, date, resource), the rule in plain words, the thresholds, the evidence grade and
citations, what was withheld by safety and why, the checks that ran, and the limitations.
Suggestions create draft FHIR R4 resources; blocked candidates never become suggestions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cds_service.audit import CardAudit, SuggestionAudit
from cds_service.engine.safety import offered, targets
from cds_service.engine.types import Decision, Finding, PathwayAssessment, Trace
from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import Citation, Intervention, LabOrder, Measure
from cds_service.protocol import Action, Card, Coding, OverrideCoding, Source, Suggestion
from cds_service.snapshot import LabFact, PatientSnapshot

SUMMARY_LIMIT = 139
SOURCE_LABEL = "Neurotransmitter CDS"


@dataclass(frozen=True, slots=True)
class RenderedCard:
    card: Card
    audit: CardAudit


# ---------------------------------------------------------------------------------------------
# FHIR resources for suggestions


def medication_request(
    kb: KnowledgeBase, intervention: Intervention, patient_id: str, reason: str
) -> dict[str, Any]:
    """A draft MedicationRequest (intent proposal), RxNorm-coded, dose text from the knowledge base."""
    return {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "proposal",
        "subject": {"reference": f"Patient/{patient_id}"},
        "medicationCodeableConcept": {
            "coding": [
                {
                    "system": kb.uri(intervention.ingredient.system),
                    "code": intervention.ingredient.code,
                    "display": intervention.ingredient.display or intervention.name,
                }
            ],
            "text": intervention.name,
        },
        "reasonCode": [{"text": reason}],
        "dosageInstruction": [{"text": intervention.dose_text}],
        "note": [
            {
                "text": f"Option suggested by decision support (knowledge base {kb.version}); review before ordering."
            }
        ],
    }


def service_request(kb: KnowledgeBase, order: LabOrder, patient_id: str) -> dict[str, Any]:
    """A draft ServiceRequest (intent proposal) for a laboratory test, LOINC-coded."""
    return {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "subject": {"reference": f"Patient/{patient_id}"},
        "code": {
            "coding": [
                {
                    "system": kb.uri(order.code.system),
                    "code": order.code.code,
                    "display": order.code.display or order.name,
                }
            ],
            "text": order.name,
        },
        "reasonCode": [{"text": order.reason}],
    }


# ---------------------------------------------------------------------------------------------
# Pathway cards (patient-view)


def pathway_cards(
    assessments: Sequence[PathwayAssessment],
    decisions: Sequence[Decision],
    snapshot: PatientSnapshot,
    kb: KnowledgeBase,
) -> list[RenderedCard]:
    """At most one card per pathway, only where a rule fired (no card, no noise)."""
    cards = []
    for assessment in assessments:
        if not assessment.findings:
            continue
        mine = [d for d in decisions if d.candidate.pathway == assessment.pathway.id]
        cards.append(_pathway_card(assessment, mine, snapshot, kb))
    return cards


def _pathway_card(
    assessment: PathwayAssessment,
    decisions: list[Decision],
    snapshot: PatientSnapshot,
    kb: KnowledgeBase,
) -> RenderedCard:
    pathway = assessment.pathway
    findings = assessment.findings
    primary = findings[0].rule
    # Shown decisions plus the "order this test" replacements of blocks for missing data.
    shown = offered(decisions)
    warned = [d for d in shown if d.verdict == "warn"]

    suggestions: list[Suggestion] = []
    audits: list[SuggestionAudit] = []
    reason = "; ".join(f.rule.finding for f in findings)
    for decision in shown:
        suggestion, kind = _suggestion(decision, snapshot, kb, reason)
        suggestions.append(suggestion)
        audits.append(SuggestionAudit(uuid=suggestion.uuid, kind=kind))

    summary = _summary(pathway.name, findings, shown, kb)
    indicator = "warning" if warned else "info"
    card = Card(
        summary=summary,
        detail=_detail(assessment, decisions, snapshot, kb),
        indicator=indicator,
        source=Source(
            label=f"{SOURCE_LABEL}: {pathway.name}",
            url=kb.citations[primary.citations[0]].link,
            topic=Coding(system=kb.manifest.topic_system, code=pathway.id, display=pathway.name),
        ),
        suggestions=suggestions or None,
        selectionBehavior="any" if suggestions else None,
        overrideReasons=override_reasons(kb) if warned else None,
    )
    rule_ids = tuple(
        dict.fromkeys(
            [f.rule.id for f in findings] + [h.rule.id for d in decisions for h in d.hits]
        )
    )
    audit = CardAudit(
        uuid=card.uuid,
        indicator=card.indicator,
        topic=pathway.id,
        rule_ids=rule_ids,
        suggestions=tuple(audits),
    )
    return RenderedCard(card, audit)


def override_reasons(kb: KnowledgeBase) -> list[OverrideCoding]:
    return [
        OverrideCoding(system=kb.manifest.override_reason_system, code=r.code, display=r.display)
        for r in kb.manifest.override_reasons
    ]


def _suggestion(
    decision: Decision, snapshot: PatientSnapshot, kb: KnowledgeBase, reason: str
) -> tuple[Suggestion, str]:
    candidate = decision.candidate
    if candidate.kind == "medication":
        intervention = kb.interventions[candidate.target]
        resource = medication_request(kb, intervention, snapshot.patient_id, reason)
        label = f"Consider {intervention.name}"
        description = f"Create a draft order for {intervention.name} for clinician review"
    else:
        order = kb.lab_orders[candidate.target]
        resource = service_request(kb, order, snapshot.patient_id)
        label = f"Order {order.name}"
        description = f"Create a draft order for {order.name}"
    action = Action(type="create", description=description, resource=resource)
    return Suggestion(label=label[:140], actions=[action]), f"create:{resource['resourceType']}"


def _summary(
    pathway_name: str, findings: Sequence[Finding], shown: Sequence[Decision], kb: KnowledgeBase
) -> str:
    finding = findings[0].rule.finding
    options = []
    for decision in shown:
        candidate = decision.candidate
        if candidate.kind == "medication":
            options.append(f"consider {kb.interventions[candidate.target].name.split(' (')[0]}")
        else:
            options.append(
                f"consider ordering {kb.lab_orders[candidate.target].name.split(',')[0]}"
            )
    text = f"{pathway_name}: {finding}"
    if options:
        text += f"; {options[0]}"
    if len(text) > SUMMARY_LIMIT:
        text = text[: SUMMARY_LIMIT - 1].rstrip() + "…"
    return text


# ---------------------------------------------------------------------------------------------
# Markdown detail


def _detail(
    assessment: PathwayAssessment,
    decisions: Sequence[Decision],
    snapshot: PatientSnapshot,
    kb: KnowledgeBase,
) -> str:
    findings = assessment.findings
    trace = Trace()
    for finding in findings:
        trace.merge(finding.trace)
    lines: list[str] = [f"**{assessment.pathway.name}**: {assessment.status}.", ""]
    lines += ["**Findings**", ""]
    for finding in findings:
        rule = finding.rule
        lines.append(
            f"- {rule.finding} (rule `{rule.id}` v{rule.version}, evidence grade {rule.grade})"
        )
    lines.append("")
    lines += input_table(trace, kb)
    lines += ["**Rule**", ""]
    for finding in findings:
        lines.append(f"- {finding.rule.statement.strip()}")
    lines.append("")
    measures = [kb.measures[m] for m in dict.fromkeys([*trace.labs, *trace.missing])]
    thresholds = [threshold_line(m, kb) for m in measures if m.bands]
    if thresholds:
        lines += ["**Thresholds**", "", *thresholds, ""]
    lines += _options(decisions, kb)
    lines += _withheld(decisions, kb)
    lines += checks_run(decisions, snapshot, kb)
    lines += _limitations(assessment, decisions, kb)
    citation_ids = [c for f in findings for c in f.rule.citations]
    citation_ids += [
        c
        for d in decisions
        if d.candidate.kind == "medication"
        for c in kb.interventions[d.candidate.target].citations
    ]
    lines += sources(kb.citation_links(dict.fromkeys(citation_ids)))
    lines.append(footer(kb, [f.rule.id for f in findings]))
    return "\n".join(lines)


def input_table(trace: Trace, kb: KnowledgeBase) -> list[str]:
    if not (trace.labs or trace.missing):
        return []
    lines = ["| Input | Result | Interpreted | Date | Source |", "|---|---|---|---|---|"]
    for measure_id, fact in trace.labs.items():
        measure = kb.measures[measure_id]
        lines.append(
            f"| {measure.name} (LOINC {fact.code}) | {fact.reported} | {_interpreted(fact, measure)} "
            f"| {fact.effective.date().isoformat()} | {fact.resource_id} |"
        )
    for measure_id in trace.missing:
        measure = kb.measures[measure_id]
        stale = trace.stale.get(measure_id)
        if stale is not None:
            lines.append(
                f"| {measure.name} | {stale.reported} | not used: older than "
                f"{measure.stale_after_days} days | {stale.effective.date().isoformat()} | {stale.resource_id} |"
            )
        else:
            lines.append(f"| {measure.name} | no result | missing | | |")
    return [*lines, ""]


def _interpreted(fact: LabFact, measure: Measure) -> str:
    band = next((b.label for b in measure.bands if b.id == fact.band), None)
    if fact.value is None:
        return band or "recorded"
    value = f"{fact.comparator or ''}{fact.value:.4g} {fact.unit}"
    return f"{value}: {band}" if band else f"{value}: band not determinable"


def threshold_line(measure: Measure, kb: KnowledgeBase) -> str:
    bands = "; ".join(f"{b.label}: {b.describe(measure.canonical_unit)}" for b in measure.bands)
    others = [u for u in measure.units if u.unit != measure.canonical_unit and u.per_canonical != 1]
    conversion = ""
    if others:
        conversion = (
            " ("
            + ", ".join(
                f"1 {measure.canonical_unit} = {u.per_canonical:g} {u.unit}" for u in others
            )
            + ")"
        )
    return f"- {measure.name}: {bands}{conversion}"


def _options(decisions: Sequence[Decision], kb: KnowledgeBase) -> list[str]:
    shown = offered(decisions)
    if not shown:
        return []
    lines = ["**Options for discussion**", ""]
    for decision in shown:
        candidate = decision.candidate
        if candidate.kind == "medication":
            i = kb.interventions[candidate.target]
            lines.append(
                f"- {i.name}: {i.dose_text} Studied dose: {i.studied_dose}. Evidence grade {i.grade}: {i.evidence.strip()}"
            )
            for hit in decision.hits:
                label = {"warn": "Caution", "info": "Note"}.get(hit.rule.action, "")
                if label:
                    lines.append(f"  - {label} ({hit.rule.id}): {hit.rule.message}")
        else:
            order = kb.lab_orders[candidate.target]
            lines.append(f"- Order {order.name} (LOINC {order.code.code}): {order.reason}")
    return [*lines, ""]


def _withheld(decisions: Sequence[Decision], kb: KnowledgeBase) -> list[str]:
    blocked = [d for d in decisions if not d.shown]
    if not blocked:
        return []
    lines = ["**Withheld for safety**", ""]
    for decision in blocked:
        name = kb.interventions[decision.candidate.target].name
        reasons = [
            f"{h.rule.message} (rule {h.rule.id}{'; ' + h.dose_note if h.dose_note else ''})"
            for h in decision.hits
            if h.rule.action == "block"
        ]
        if decision.reason:
            reasons.append(decision.reason)
        lines.append(f"- {name}: " + "; ".join(reasons))
    return [*lines, ""]


def checks_run(
    decisions: Sequence[Decision], snapshot: PatientSnapshot, kb: KnowledgeBase
) -> list[str]:
    """The contraindication checks that ran, and the medications that could not be checked."""
    rules: dict[str, str] = {}
    for decision in decisions:
        if decision.candidate.kind != "medication":
            continue
        intervention = kb.interventions[decision.candidate.target]
        for rule in kb.safety_rules:
            if targets(rule, intervention):
                rules[rule.id] = rule.title
    lines = []
    if rules:
        lines += ["**Safety checks run**", ""]
        lines.append("- " + "; ".join(f"{rid} {title}" for rid, title in rules.items()))
        lines.append(
            f"- Medications considered: {len(snapshot.medications)} current or recent; conditions: {len(snapshot.conditions)} classified."
        )
    unclassified = snapshot.unclassified_medications
    if unclassified:
        names = ", ".join(sorted({m.name for m in unclassified}))
        lines.append(f"- Not checked (not recognised): {names}.")
    return [*lines, ""] if lines else []


def _limitations(
    assessment: PathwayAssessment, decisions: Sequence[Decision], kb: KnowledgeBase
) -> list[str]:
    items = list(assessment.pathway.limitations)
    for decision in decisions:
        if decision.shown and decision.candidate.kind == "medication":
            items += kb.interventions[decision.candidate.target].limitations
    items.append(
        "Dietary supplements are not FDA-approved treatments for depression; discuss them as an "
        "adjunct, never as a replacement for antidepressant therapy or psychotherapy."
    )
    return ["**Limitations**", "", *(f"- {i}" for i in dict.fromkeys(items)), ""]


def sources(citations: Iterable[Citation]) -> list[str]:
    lines = ["**Sources**", ""]
    for number, citation in enumerate(citations, start=1):
        ids = []
        if citation.pmid:
            ids.append(f"PMID {citation.pmid}")
        if citation.doi:
            ids.append(f"doi:{citation.doi}")
        ident = f" ({', '.join(ids)})" if ids else ""
        lines.append(f"{number}. [{citation.label}]({citation.link}){ident}")
    return [*lines, ""]


def footer(kb: KnowledgeBase, rule_ids: Iterable[str]) -> str:
    rules = ", ".join(rule_ids)
    return (
        f"---\n*{kb.manifest.name} v{kb.version}; rules: {rules}. For clinicians; options for "
        f"discussion, not orders. Developer: {kb.manifest.publisher}. Funding: {kb.manifest.funding}*"
    )
