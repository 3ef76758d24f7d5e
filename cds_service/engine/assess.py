"""Snapshot -> one ``PathwayAssessment`` per pathway: which rules fired and on what inputs."""

from __future__ import annotations

from cds_service.engine.predicates import holds
from cds_service.engine.types import Finding, PathwayAssessment, PathwayStatus, Trace
from cds_service.knowledge import KnowledgeBase
from cds_service.snapshot import PatientSnapshot


def assess(snapshot: PatientSnapshot, kb: KnowledgeBase) -> list[PathwayAssessment]:
    """Evaluate every recommendation rule and group what fired by pathway, in card order."""
    findings: dict[str, list[Finding]] = {pathway_id: [] for pathway_id in kb.pathways}
    for rule in kb.rules:
        trace = Trace()
        if holds(rule.when, snapshot, trace):
            findings[rule.pathway].append(Finding(rule, trace))
    assessments = []
    for pathway in sorted(kb.pathways.values(), key=lambda p: (p.order, p.id)):
        present = tuple(snapshot.labs[m] for m in pathway.markers if m in snapshot.labs)
        missing = tuple(m for m in pathway.markers if m not in snapshot.labs)
        fired = tuple(findings[pathway.id])
        assessments.append(
            PathwayAssessment(pathway, _status(fired, present), fired, present, missing)
        )
    return assessments


def _status(findings: tuple[Finding, ...], present: tuple[object, ...]) -> PathwayStatus:
    if any(f.rule.severity == "limitation" for f in findings):
        return "possible limitation"
    if any(f.rule.severity == "uncertain" for f in findings) or not present:
        return "insufficient data"
    return "likely adequate"
