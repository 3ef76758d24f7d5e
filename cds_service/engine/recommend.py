"""Assessments -> candidate suggestions (supplements and lab orders), before safety.

The rules propose; ``engine/safety.py`` decides what is blocked. Here only knowledge-side
hygiene happens: one candidate per (pathway, target); a lab order is dropped while a current
result would make it redundant (unless the rule asks for a repeat) and appears only on the
most relevant card that asks for it; a pathway that allows no precursor suggestions
(GABA/glutamate) never yields one, even if a rule were edited to try; a supplement the patient
already takes (an active order or statement, or another regimen of it) is never suggested again.
"""

from __future__ import annotations

from cds_service.engine.focus import taken_interventions
from cds_service.engine.types import Candidate, PathwayAssessment
from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import LabOrderSuggestion, MedicationSuggestion
from cds_service.snapshot.facts import PatientSnapshot


def recommend(
    assessments: list[PathwayAssessment],
    snapshot: PatientSnapshot | None = None,
    kb: KnowledgeBase | None = None,
) -> list[Candidate]:
    """Candidates in card order; rules proposing the same target on one pathway are merged."""
    merged: dict[tuple[str, str, str], list[str]] = {}
    prerequisites: dict[tuple[str, str, str], dict[str, None]] = {}
    ordered_labs: dict[str, str] = {}  # lab order id -> the pathway that shows it
    taken = set(taken_interventions(snapshot, kb)) if snapshot and kb else set()
    for assessment in assessments:
        pathway = assessment.pathway
        for finding in assessment.findings:
            for suggestion in finding.rule.suggest:
                if isinstance(suggestion, MedicationSuggestion):
                    if _precursor_not_allowed(suggestion, pathway.precursor_suggestions, kb):
                        continue
                    if kb is not None and kb.base_intervention(suggestion.medication) in taken:
                        continue  # already taken: the follow-up speaks of it (engine/focus.py)
                    key = ("medication", suggestion.medication, pathway.id)
                elif isinstance(suggestion, LabOrderSuggestion):
                    if _redundant(suggestion, snapshot, kb):
                        continue
                    shown_on = ordered_labs.setdefault(suggestion.lab_order, pathway.id)
                    if shown_on != pathway.id:
                        continue
                    key = ("lab_order", suggestion.lab_order, pathway.id)
                    prerequisites.setdefault(key, {}).update(
                        dict.fromkeys(suggestion.prerequisite_for)
                    )
                else:  # pragma: no cover - the schema admits only the two kinds
                    continue
                merged.setdefault(key, []).append(finding.rule.id)
    return [
        Candidate(
            kind=kind,  # type: ignore[arg-type]
            target=target,
            pathway=pathway,
            rule_ids=tuple(rule_ids),
            prerequisite_for=tuple(prerequisites.get((kind, target, pathway), ())),
        )
        for (kind, target, pathway), rule_ids in merged.items()
    ]


def _redundant(
    suggestion: LabOrderSuggestion, snapshot: PatientSnapshot | None, kb: KnowledgeBase | None
) -> bool:
    if suggestion.repeat or snapshot is None or kb is None:
        return False
    order = kb.lab_orders[suggestion.lab_order]
    return any(measure_id in snapshot.labs for measure_id in order.satisfied_by)


def _precursor_not_allowed(
    suggestion: MedicationSuggestion, allowed: bool, kb: KnowledgeBase | None
) -> bool:
    return (
        not allowed
        and kb is not None
        and kb.interventions[suggestion.medication].kind == "precursor"
    )
