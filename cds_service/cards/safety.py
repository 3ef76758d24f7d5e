"""What an alert rule's trigger read, in words: the answer that fired it.

"PHQ-9 item 9 = 2", "C-SSRS screen: suicidal thoughts = yes", "Suicide attempt on record": the
alert card (cards/patient.py) states it first, at patient-view and at order time alike.
"""

from __future__ import annotations

from cds_service.engine.types import Trace
from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.references import walk
from cds_service.knowledge.schema import ConditionPredicate, Questionnaire, SafetyRule


def answers(trace: Trace, rule: SafetyRule, kb: KnowledgeBase) -> list[str]:
    """What fired, in words: "PHQ-9 item 9 = 2", "C-SSRS screen: suicidal thoughts = yes",
    "Suicide attempt on record" (recorded conditions first)."""
    named = {n.condition for n in walk(rule.trigger) if isinstance(n, ConditionPredicate)}
    answers = []
    for condition in trace.conditions.values():
        classes = [c for c in condition.classes if c in named] or list(condition.classes)
        answers.append(f"{kb.condition_classes[classes[0]].name} on record")
    for measure_id, fact in trace.labs.items():
        measure = kb.measures[measure_id]
        short = measure.name.split(" (")[0]
        yes_no = isinstance(measure, Questionnaire) and measure.max_score == 1
        if yes_no or fact.value is None:
            answer = fact.band_label or next(
                (b.label for b in measure.bands if b.id == fact.band), fact.reported
            )
        else:
            answer = f"{fact.value:g}"
        answers.append(f"{short} = {answer}")
    return answers
