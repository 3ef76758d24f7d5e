"""Decisions -> CDS Hooks cards a clinician can verify from the card alone.

One card per pathway with findings (never one per lab). The detail shows the exact inputs
(value, unit, date, resource), the rule in plain words, the thresholds, the evidence grade and
citations, what was withheld by safety and why, the checks that ran, and the limitations.
Suggestions create draft FHIR R4 resources; blocked candidates never become suggestions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cds_service.engine.safety import offered as safety_offered
from cds_service.engine.types import Candidate, Decision, Finding, PathwayAssessment, Trace
from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import (
    NON_ACTIONABLE_FLAGS,
    Citation,
    Intervention,
    LabOrder,
    Measure,
)
from cds_service.protocol.messages import Action, Card, Coding, OverrideCoding, Source, Suggestion
from cds_service.snapshot.reader import LabFact, PatientSnapshot
from cds_service.store.records import CardAudit, SuggestionAudit

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
        "dosageInstruction": [
            {
                "text": intervention.dose_text,
                # The daily amount the option proposes, so the EHR can check it.
                "maxDosePerPeriod": {
                    "numerator": {
                        "value": intervention.daily_dose.value,
                        "unit": intervention.daily_dose.unit,
                        "system": kb.uri("ucum"),
                        "code": intervention.daily_dose.unit,
                    },
                    "denominator": {
                        "value": 1,
                        "unit": "day",
                        "system": kb.uri("ucum"),
                        "code": "d",
                    },
                },
            }
        ],
        "note": [
            {
                "text": f"Option suggested by decision support (knowledge base {kb.version}); review before ordering."
            }
        ],
    }


def order_test_suggestion(
    kb: KnowledgeBase, order: LabOrder, patient_id: str, label: str
) -> tuple[Suggestion, SuggestionAudit]:
    """ "Order this test": a suggestion creating a draft ServiceRequest, with its audit entry."""
    suggestion = Suggestion(
        label=label,
        actions=[
            Action(
                type="create",
                description=f"Create a draft order for {order.name}",
                resource=service_request(kb, order, patient_id),
            )
        ],
    )
    return suggestion, SuggestionAudit(suggestion.uuid, "create:ServiceRequest")


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
    """At most one card per pathway, in relevance order, only when something is actionable."""
    cards = []
    for assessment in assessments:
        mine = [d for d in decisions if d.candidate.pathway == assessment.pathway.id]
        assessment = _without_moot_findings(assessment, mine)
        if not assessment.actionable and not any(d.shown for d in mine):
            continue
        cards.append(_pathway_card(assessment, mine, snapshot, kb))
    return cards


def _without_moot_findings(
    assessment: PathwayAssessment, decisions: Sequence[Decision]
) -> PathwayAssessment:
    """Drop findings that only ask for a test the gate found unneeded (e.g. a pregnancy test
    before precursors that are withheld anyway): they would be noise on the card."""
    dropped = {
        d.candidate.target
        for d in decisions
        if d.candidate.kind == "lab_order" and d.verdict == "block"
    }
    if not dropped:
        return assessment
    findings = tuple(
        f
        for f in assessment.findings
        if not (
            f.rule.suggest and all(getattr(s, "lab_order", None) in dropped for s in f.rule.suggest)
        )
    )
    return replace(assessment, findings=findings)


def offered(decisions: Sequence[Decision]) -> list[tuple[Decision, Candidate]]:
    """What a card may suggest: shown candidates, plus the lab orders safety puts in place of
    blocked supplements (e.g. "order eGFR" instead of magnesium), each target once."""
    seen: set[tuple[str, str]] = set()
    result = []
    for decision in safety_offered(decisions):
        candidate = decision.candidate
        if (candidate.kind, candidate.target) not in seen:
            seen.add((candidate.kind, candidate.target))
            result.append((decision, candidate))
    return result


def _pathway_card(
    assessment: PathwayAssessment,
    decisions: list[Decision],
    snapshot: PatientSnapshot,
    kb: KnowledgeBase,
) -> RenderedCard:
    pathway = assessment.pathway
    findings = [f for f in assessment.findings if f.rule.severity != "context"]
    findings = findings or list(assessment.findings)
    primary = findings[0].rule
    options = offered(decisions)
    warned = [d for d, c in options if d.shown and d.verdict == "warn"]

    suggestions: list[Suggestion] = []
    audits: list[SuggestionAudit] = []
    reason = "; ".join(f.rule.finding for f in findings)
    for _, candidate in options:
        suggestion, kind = _suggestion(candidate, snapshot, kb, reason)
        suggestions.append(suggestion)
        audits.append(SuggestionAudit(uuid=suggestion.uuid, kind=kind))

    card = Card(
        summary=_summary(pathway.name, findings, [c for _, c in options], kb),
        detail=_detail(assessment, decisions, snapshot, kb),
        indicator="warning" if warned else "info",
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
            [f.rule.id for f in assessment.findings]
            + [h.rule.id for d in decisions for h in d.hits]
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
    candidate: Candidate, snapshot: PatientSnapshot, kb: KnowledgeBase, reason: str
) -> tuple[Suggestion, str]:
    if candidate.kind != "medication":
        order = kb.lab_orders[candidate.target]
        label = f"Order {order.name}"[:140]
        suggestion, audit = order_test_suggestion(kb, order, snapshot.patient_id, label)
        return suggestion, audit.kind
    intervention = kb.interventions[candidate.target]
    resource = medication_request(kb, intervention, snapshot.patient_id, reason)
    action = Action(
        type="create",
        description=f"Create a draft order for {intervention.name} for clinician review",
        resource=resource,
    )
    label = f"Consider {intervention.name}"[:140]
    return Suggestion(label=label, actions=[action]), f"create:{resource['resourceType']}"


def _summary(
    pathway_name: str, findings: Sequence[Finding], options: Sequence[Candidate], kb: KnowledgeBase
) -> str:
    """The main finding and the option that answers it ("consider X"), else how many options."""
    primary = findings[0].rule
    text = f"{pathway_name}: {primary.finding}"
    drugs = sorted({m.name for m in findings[0].trace.medications.values()})
    if drugs:
        text += f" ({', '.join(drugs)})"
    answer = next((c for c in options if primary.id in c.rule_ids), None)
    if answer is not None:
        if answer.kind == "medication":
            option = f"consider {kb.interventions[answer.target].name.split(' (')[0]}"
        else:
            option = f"consider ordering {kb.lab_orders[answer.target].name.split(',')[0]}"
        text += f"; {option}"
    elif options:
        text += f"; {len(options)} option{'s' if len(options) > 1 else ''} below"
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
    pathway = assessment.pathway
    findings = [f for f in assessment.findings if f.rule.severity != "context"]
    context = [f for f in assessment.findings if f.rule.severity == "context"]
    context += list(assessment.context)
    trace = Trace()
    for finding in [*findings, *context]:
        trace.merge(finding.trace)
    symptom_ids = [s.measure_id for s in assessment.symptoms]
    lines: list[str] = [f"**{pathway.name}**: {assessment.status}.", ""]
    lines += ["**Findings**", ""]
    for finding in findings:
        rule = finding.rule
        lines.append(
            f"- {rule.finding} (rule `{rule.id}` v{rule.version}, evidence grade {rule.grade})"
        )
        if finding.trace.medications:
            lines.append(f"  - Medications: {medication_names(finding.trace, kb)}")
            if finding.trace.age_used and snapshot.age is not None:
                lines.append(f"  - Age: {snapshot.age} years (Patient.birthDate)")
    lines.append("")
    lines += symptom_lines(assessment.symptoms, kb)
    lines += input_table(
        trace, kb, extra=[s for s in assessment.symptoms if s.measure_id not in trace.labs]
    )
    lines += ["**Rule**", ""]
    for finding in findings:
        lines.append(f"- {finding.rule.statement.strip()}")
    lines.append("")
    present = {*trace.labs, *symptom_ids}
    missing = [m for m in trace.missing if not present.intersection(kb.measures[m].substitutes)]
    measure_ids = dict.fromkeys([*trace.labs, *missing, *symptom_ids])
    thresholds = [threshold_line(kb.measures[m], kb, snapshot.sex) for m in measure_ids]
    thresholds = [t for t in thresholds if t]
    if thresholds:
        lines += ["**Thresholds**", "", *thresholds, ""]
    lines += _options(decisions, kb)
    lines += _withheld(decisions, kb)
    if context:
        lines += ["**Context**", ""]
        statements = {f.rule.id: f"- {f.rule.finding}: {f.rule.statement.strip()}" for f in context}
        lines += statements.values()
        lines.append("")
    lines += _missing(assessment, trace, kb)
    lines += _research(assessment, kb)
    lines += checks_run(decisions, snapshot, kb)
    lines += _limitations(assessment, decisions, kb)
    citation_ids = [c for f in [*findings, *context] for c in f.rule.citations]
    citation_ids += [
        c
        for d, candidate in offered(decisions)
        if candidate.kind == "medication"
        for c in kb.interventions[candidate.target].citations
    ]
    lines += sources(kb.citation_links(dict.fromkeys(citation_ids)))
    lines.append(footer(kb, [f.rule.id for f in [*findings, *context]]))
    return "\n".join(lines)


def symptom_lines(symptoms: Sequence[LabFact], kb: KnowledgeBase) -> list[str]:
    """The symptom burden: the pathway's questionnaire scores with their bands and dates."""
    if not symptoms:
        return []
    lines = ["**Symptom burden**", ""]
    for fact in symptoms:
        measure = kb.measures[fact.measure_id]
        band = next((b.label for b in measure.bands if b.id == fact.band), "no band")
        value = f"{fact.value:g}" if fact.value is not None else fact.reported
        lines.append(f"- {measure.name}: {value} ({band}), {fact.effective.date().isoformat()}")
    return [*lines, ""]


def input_table(trace: Trace, kb: KnowledgeBase, extra: Sequence[LabFact] = ()) -> list[str]:
    """The exact inputs: value as reported, value in the canonical unit with its band, date and
    source resource; missing and stale inputs are listed as such."""
    facts = {**trace.labs, **{f.measure_id: f for f in extra}}
    if not (facts or trace.missing):
        return []
    lines = ["| Input | Result | Interpreted | Date | Source |", "|---|---|---|---|---|"]
    for measure_id, fact in facts.items():
        measure = kb.measures[measure_id]
        lines.append(
            f"| {_input_name(fact, measure, kb)} | {fact.reported} | {_interpreted(fact, measure)} "
            f"| {fact.effective.date().isoformat()} | {fact.resource_id} |"
        )
    listed: set[str] = set()
    for measure_id in trace.missing:
        measure = kb.measures[measure_id]
        if any(other in facts or other in listed for other in measure.substitutes):
            continue  # e.g. CRP missing but hs-CRP present (or already listed as missing)
        listed.add(measure_id)
        stale = trace.stale.get(measure_id)
        if stale is not None:
            lines.append(
                f"| {measure.name} | {stale.reported} | not used: older than "
                f"{measure.stale_after_days} days | {stale.effective.date().isoformat()} | {stale.resource_id} |"
            )
        else:
            note = trace.notes.get(measure_id)
            lines.append(
                f"| {measure.name} | no result | missing{'; ' + note if note else ''} | | |"
            )
    return [*lines, ""]


def _input_name(fact: LabFact, measure: Measure, kb: KnowledgeBase) -> str:
    """The measure and its code, or for a value the service computed, what it came from."""
    derivation = fact.derivation
    if derivation is None:
        return f"{measure.name} (LOINC {fact.code})"
    sources = ", ".join(
        f"{kb.measures[i.measure_id].name.split(',')[0].lower()} {i.reported} "
        f"(LOINC {i.code}) on {i.effective.date().isoformat()}"
        for i in derivation.inputs
    )
    return (
        f"{measure.name} (derived from {sources}, {derivation.label}; "
        f"age {derivation.age}, {derivation.sex})"
    )


def medication_names(trace: Trace, kb: KnowledgeBase | None = None) -> str:
    """The medications a rule read, with their source resources, e.g. for a drug-led finding.
    Where a drug belongs to a class only above a dose (doxepin > 6 mg/day), the dose that
    decided it is shown, or that it was unknown and counted (conservative)."""
    parts = []
    for medication in trace.medications.values():
        notes = []
        for ingredient_id in medication.ingredients if kb is not None else ():
            conditional = kb.ingredients[ingredient_id].class_doses  # type: ignore[union-attr]
            if any(class_id in medication.classes for class_id in conditional):
                dose = medication.doses.get(ingredient_id)
                notes.append(
                    f"dose {dose.describe()}" if dose else "dose unknown: counted (conservative)"
                )
        where = "; ".join([medication.ref, *notes])
        parts.append(f"{medication.name} ({where})")
    return ", ".join(parts)


def _interpreted(fact: LabFact, measure: Measure) -> str:
    band = next((b.label for b in measure.bands if b.id == fact.band), None)
    if fact.value is None:
        return band or "recorded"
    value = f"{fact.comparator or ''}{fact.value:.4g} {display_unit(fact.unit)}".strip()
    if fact.method:
        value += f" ({fact.method} method)"
    flags = NON_ACTIONABLE_FLAGS.intersection(measure.flags)
    if flags:
        return f"{value}: displayed only ({', '.join(sorted(flags))})"
    return f"{value}: {band}" if band else f"{value}: band not determinable"


def display_unit(unit: str) -> str:
    """UCUM annotations ("{score}") read as plain words."""
    return unit.strip("{}") if unit.startswith("{") else unit


def threshold_line(measure: Measure, kb: KnowledgeBase, sex: str | None = None) -> str:
    """The measure's bands in plain words, with unit conversions; "" when it has none. With
    sex-specific bands, only those that apply to the patient (the general ones if unknown)."""
    # Fixed text per measure and sex, asked for on every card: built once per knowledge base.
    # Bands name only "female" or "male"; any other recorded gender reads the general bands.
    sex = sex if sex in ("female", "male") else None
    if kb.measures.get(measure.id) is not measure:  # not one of this knowledge base's own
        return _threshold_line(measure, kb, sex)
    lines = kb.memo.setdefault("threshold_line", {})
    line = lines.get((measure.id, sex))
    if line is None:
        line = lines[(measure.id, sex)] = _threshold_line(measure, kb, sex)
    return line  # type: ignore[no-any-return]


def _threshold_line(measure: Measure, kb: KnowledgeBase, sex: str | None) -> str:
    bands = [b for b in measure.bands if b.sex is None or b.sex == sex]
    specific = {b.id for b in bands if b.sex is not None}
    bands = [b for b in bands if b.sex is not None or b.id not in specific]
    if not bands:
        return ""
    if measure.canonical_unit is None:
        labels = " / ".join(dict.fromkeys(b.label for b in bands))
        return f"- {measure.name}: {labels} (coded or text result)"
    described = "; ".join(
        f"{b.label}: {b.describe(display_unit(measure.canonical_unit))}{' (threshold contested)' if b.contested else ''}"
        for b in bands
    )
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
    return f"- {measure.name}: {described}{conversion}"


def _options(decisions: Sequence[Decision], kb: KnowledgeBase) -> list[str]:
    options = offered(decisions)
    if not options:
        return []
    lines = [
        "**Options for discussion** (adjuncts for discussion, never a replacement for antidepressant therapy or psychotherapy)",
        "",
    ]
    safety_ids = {rule.id for rule in kb.safety_rules}
    for decision, candidate in options:
        needed_by = [r for r in candidate.rule_ids if r in safety_ids]
        if candidate.kind == "lab_order" and needed_by:
            order = kb.lab_orders[candidate.target]
            lines.append(
                f"- Order {order.name} (LOINC {order.code.code}), needed before a withheld option "
                f"(safety rule {', '.join(needed_by)}): {order.reason}"
            )
            continue
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
    # Only supplements are "withheld for safety"; a test dropped as unneeded is not news.
    blocked = [d for d in decisions if not d.shown and d.candidate.kind == "medication"]
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
        for rule in kb.safety_rules_by_intervention[decision.candidate.target]:
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
    for finding in assessment.findings:
        for predicate_lab in finding.trace.labs.values():
            measure = kb.measures[predicate_lab.measure_id]
            if "acute-phase" in measure.flags:
                items.append(
                    f"{measure.name} is an acute-phase marker: it is read only with a current CRP."
                )
    items.append(
        "Dietary supplements are not FDA-approved treatments for depression; discuss them as an "
        "adjunct, never as a replacement for antidepressant therapy or psychotherapy."
    )
    items.append(
        "Reference ranges vary by laboratory; the thresholds above are defaults from the cited sources."
    )
    return ["**Limitations**", "", *(f"- {i}" for i in dict.fromkeys(items)), ""]


def _missing(assessment: PathwayAssessment, trace: Trace, kb: KnowledgeBase) -> list[str]:
    """Markers of the pathway with no current value (stale ones say when they were measured)."""
    shown = set(trace.missing)
    items = []
    for measure_id in assessment.missing_markers:
        if measure_id in shown:
            continue
        measure = kb.measures[measure_id]
        if NON_ACTIONABLE_FLAGS.intersection(measure.flags):
            continue
        stale = trace.stale.get(measure_id)
        items.append(
            f"{measure.name}: older than {measure.stale_after_days} days ({stale.effective.date().isoformat()})"
            if stale
            else f"{measure.name}: no result"
        )
    if not items:
        return []
    return ["**Not available** (not used by any rule above)", "", *(f"- {i}" for i in items), ""]


def _research(assessment: PathwayAssessment, kb: KnowledgeBase) -> list[str]:
    """Research-only markers: named, and any values displayed, but never used by a rule."""
    items = list(assessment.pathway.research_markers)
    for fact in assessment.present_markers:
        measure = kb.measures[fact.measure_id]
        if "research-only" in measure.flags:
            value = f"{fact.value:g} {fact.unit}" if fact.value is not None else fact.reported
            method = f", {fact.method} method" if fact.method else ""
            items.append(
                f"{measure.name}: {value}{method} ({fact.effective.date().isoformat()}): research "
                "biomarker, no clinical reference interval; not used by any rule."
            )
    if not items:
        return []
    return ["**Research-only markers**", "", *(f"- {i}" for i in items), ""]


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
        f"---\n*{kb.manifest.name} v{kb.version} (released {kb.manifest.released.isoformat()}); "
        f"rules: {rules}. For clinicians caring for adults; options for discussion, not orders. "
        "Uses laboratory results, questionnaire scores, medications, conditions, age and sex "
        "(sex-specific thresholds); does not use race, ethnicity or social determinants of health. "
        f"Developer: {kb.manifest.publisher}. Funding: {kb.manifest.funding}*"
    )
