"""Snapshot -> one ``PathwayAssessment`` per pathway: which rules fired, on what inputs, what
is missing, and the symptom burden, ordered by relevance (the order cards are shown in).

Status: "possible limitation" when a co-factor or precursor rule fired; "insufficient data" when
a rule says data are missing or equivocal, or no interpretable marker of the pathway has a
current value; "likely adequate" otherwise. Context findings (e.g. low-grade inflammation) are
not a reason for a card: they are shown on the cards of other findings.
"""

from __future__ import annotations

from cds_service.engine.predicates import holds
from cds_service.engine.types import (
    Finding,
    FindingCause,
    PathwayAssessment,
    PathwayStatus,
    Trace,
)
from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import NON_ACTIONABLE_FLAGS, Rule
from cds_service.snapshot.facts import PatientSnapshot

# Lower = shown first; a pathway's weight is its most serious finding.
SEVERITY_RANK = {
    "urgent": 0,
    "limitation": 1,
    "caution": 2,
    "uncertain": 3,
    "option": 4,
    "context": 5,
}


def assess(snapshot: PatientSnapshot, kb: KnowledgeBase) -> list[PathwayAssessment]:
    """Evaluate every recommendation rule once and group what fired by pathway."""
    findings: dict[str, list[Finding]] = {pathway_id: [] for pathway_id in kb.pathways}
    for rule in kb.rules:
        trace = Trace()
        if holds(rule.when, snapshot, trace):
            findings[rule.pathway].append(Finding(rule, trace, _causes(rule, snapshot)))
    context = tuple(f for fired in findings.values() for f in fired if f.rule.severity == "context")
    assessments = []
    for pathway in kb.pathways.values():
        present = tuple(snapshot.labs[m] for m in pathway.markers if m in snapshot.labs)
        # A marker stood in for by a current substitute (CRP by hs-CRP) is not missing.
        missing = tuple(
            m
            for m in pathway.markers
            if m not in snapshot.labs
            and not any(s in snapshot.labs for s in kb.measures[m].substitutes)
        )
        interpretable = [
            f
            for f in present
            if not NON_ACTIONABLE_FLAGS.intersection(kb.measures[f.measure_id].flags)
        ]
        fired = tuple(sorted(findings[pathway.id], key=lambda f: SEVERITY_RANK[f.rule.severity]))
        symptoms = tuple(snapshot.labs[m] for m in pathway.symptom_measures if m in snapshot.labs)
        assessments.append(
            PathwayAssessment(
                pathway,
                status_of(fired, bool(interpretable)),
                fired,
                present,
                missing,
                symptoms=symptoms,
                context=tuple(f for f in context if f.rule.pathway != pathway.id),
            )
        )
    return sorted(assessments, key=_relevance)


def _causes(rule: Rule, snapshot: PatientSnapshot) -> tuple[FindingCause, ...]:
    """The rule's likely causes that the record shows, each with what showed it."""
    found = []
    for cause in rule.causes:
        trace = Trace()
        if holds(cause.when, snapshot, trace):
            found.append(FindingCause(cause.label, trace))
    return tuple(found)


def status_of(findings: tuple[Finding, ...], interpretable: bool) -> PathwayStatus:
    """A pathway's status from its findings (an urgent finding is a possible limitation)."""
    severities = {f.rule.severity for f in findings}
    if severities & {"urgent", "limitation"}:
        return "possible limitation"
    if "uncertain" in severities or not interpretable:
        return "insufficient data"
    return "likely adequate"


def _relevance(assessment: PathwayAssessment) -> tuple[int, int, str]:
    ranks = [SEVERITY_RANK[f.rule.severity] for f in assessment.findings]
    return (min(ranks, default=len(SEVERITY_RANK)), assessment.pathway.order, assessment.pathway.id)
