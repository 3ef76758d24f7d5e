"""The safety gate: every block/warn/info decision about a candidate suggestion is made here.

Nothing reaches a card without passing ``gate``. A block is never rendered as a suggestion;
the card says what was withheld and why. Rules are data (``mappings/safety.yaml``).
"""

from __future__ import annotations

from cds_service.engine.predicates import holds
from cds_service.engine.types import Candidate, Decision, SafetyHit, Trace, Verdict
from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import Intervention, SafetyRule
from cds_service.snapshot import PatientSnapshot


def targets(rule: SafetyRule, intervention: Intervention) -> bool:
    target = rule.applies_to
    return (
        target.all_supplements
        or intervention.id in target.interventions
        or any(tag in intervention.tags for tag in target.tags)
    )


def check_intervention(
    intervention: Intervention, snapshot: PatientSnapshot, kb: KnowledgeBase
) -> tuple[SafetyHit, ...]:
    """Every safety rule that fires for giving this intervention to this patient."""
    hits = []
    for rule in kb.safety_rules:
        if targets(rule, intervention):
            trace = Trace()
            if holds(rule.trigger, snapshot, trace):
                hits.append(SafetyHit(rule, trace))
    return tuple(hits)


def verdict_of(hits: tuple[SafetyHit, ...]) -> Verdict:
    actions = {hit.rule.action for hit in hits}
    if "block" in actions:
        return "block"
    if "warn" in actions:
        return "warn"
    return "allow"


def gate(
    candidates: list[Candidate], snapshot: PatientSnapshot, kb: KnowledgeBase
) -> list[Decision]:
    """Decide allow / warn / block for each candidate; lab orders are always allowed."""
    decisions = []
    for candidate in candidates:
        if candidate.kind == "lab_order":
            decisions.append(Decision(candidate, "allow", ()))
            continue
        intervention = kb.interventions[candidate.target]
        if not intervention.offer:
            decisions.append(
                Decision(candidate, "block", (), reason=intervention.do_not_offer_reason)
            )
            continue
        hits = check_intervention(intervention, snapshot, kb)
        decisions.append(Decision(candidate, verdict_of(hits), hits))
    return decisions
