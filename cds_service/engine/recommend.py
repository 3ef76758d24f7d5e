"""Assessments -> candidate suggestions (supplements and lab orders), before safety."""

from __future__ import annotations

from cds_service.engine.types import Candidate, PathwayAssessment
from cds_service.knowledge.schema import MedicationSuggestion


def recommend(assessments: list[PathwayAssessment]) -> list[Candidate]:
    """One candidate per (pathway, target); rules proposing the same target are merged."""
    merged: dict[tuple[str, str, str], list[str]] = {}
    for assessment in assessments:
        for finding in assessment.findings:
            for suggestion in finding.rule.suggest:
                if isinstance(suggestion, MedicationSuggestion):
                    key = ("medication", suggestion.medication, assessment.pathway.id)
                else:
                    key = ("lab_order", suggestion.lab_order, assessment.pathway.id)
                merged.setdefault(key, []).append(finding.rule.id)
    return [
        Candidate(kind=kind, target=target, pathway=pathway, rule_ids=tuple(rule_ids))  # type: ignore[arg-type]
        for (kind, target, pathway), rule_ids in merged.items()
    ]
