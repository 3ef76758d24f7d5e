"""Pathway cards (patient-view): decisions -> cards a clinician can verify from the card alone.

One card per pathway with findings (never one per lab). The detail shows the exact inputs
(value, unit, date, resource), the rule in plain words, the thresholds, the evidence grade and
citations, what was withheld by safety and why, the checks that ran, and the limitations.
Suggestions create draft FHIR R4 resources; blocked candidates never become suggestions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from cds_service.cards.detail import (
    checks_run,
    footer,
    input_table,
    medication_names,
    record_names,
    results_read,
    sources,
    symptom_lines,
    threshold_line,
)
from cds_service.cards.record import CardAudit, RenderedCard, SuggestionAudit
from cds_service.cards.resources import (
    SOURCE_LABEL,
    medication_request,
    order_test_suggestion,
    override_reasons,
)
from cds_service.engine.safety import offered as safety_offered
from cds_service.engine.types import Candidate, Decision, Finding, PathwayAssessment, Trace
from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import (
    NON_ACTIONABLE_FLAGS,
)
from cds_service.protocol.messages import (
    SUMMARY_MAX_LENGTH,
    Action,
    Card,
    Coding,
    Source,
    Suggestion,
)
from cds_service.snapshot.facts import PatientSnapshot


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
    # A warned option, or an urgent finding (severe hypomagnesaemia...), makes a warning card.
    warned = [d for d, c in options if d.shown and d.verdict == "warn"] or assessment.urgent

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
    named = [findings[0].trace, *(c.trace for c in findings[0].causes)]
    drugs = sorted({m.name for trace in named for m in trace.medications.values()})
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
    if len(text) > SUMMARY_MAX_LENGTH:
        text = text[: SUMMARY_MAX_LENGTH - 1].rstrip() + "…"
    return text


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
        for cause in finding.causes:
            lines.append(f"  - Likely cause on record: {cause.label}: {record_names(cause.trace)}")
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
            f"{h.rule.message} (rule {h.rule.id}{'; ' + h.dose_note if h.dose_note else ''}"
            f"{'; ' + results_read(h.trace, kb) if h.trace.labs else ''})"
            for h in decision.hits
            if h.rule.action == "block"
        ]
        if decision.reason:
            reasons.append(decision.reason)
        lines.append(f"- {name}: " + "; ".join(reasons))
    return [*lines, ""]


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
