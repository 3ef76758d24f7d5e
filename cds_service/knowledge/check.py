"""``cds-service check-knowledge``: every defect of mappings/ and hooks/ in one list.

The loader already refuses what would make the service wrong at start-up (schema errors,
unknown code systems, rules without citations, duplicate codes, dangling references,
supplement rules reading research-only markers or contested bands). This adds what only a
review needs: every suggestion template validated as FHIR R4, questionnaire scoring that
adds up, interventions no rule can reach, and the service definitions. ``unverified`` lists
the codes and citations still marked as author knowledge, for the reviewer, not as errors.
"""

from __future__ import annotations

from pathlib import Path

from cds_service.errors import KnowledgeError
from cds_service.knowledge.loader import KnowledgeBase, load_knowledge
from cds_service.knowledge.schema import MedicationSuggestion, Questionnaire
from cds_service.protocol.validate import check_resource


def check_knowledge(mappings_dir: Path, hooks_dir: Path) -> list[str]:
    """Every problem found; an empty list means the knowledge base is fit to serve."""
    try:
        kb = load_knowledge(mappings_dir)
    except KnowledgeError as exc:
        return [str(exc)]
    problems: list[str] = []
    problems += _services(hooks_dir, kb)
    problems += _templates(kb)
    problems += _questionnaires(kb)
    problems += _reachable(kb)
    return problems


def _services(hooks_dir: Path, kb: KnowledgeBase) -> list[str]:
    from cds_service.protocol.services import load_services

    try:
        load_services(hooks_dir, kb)
    except KnowledgeError as exc:
        return [str(exc)]
    return []


def _templates(kb: KnowledgeBase) -> list[str]:
    """Each suggestion the service can make, built and validated as a FHIR R4 resource."""
    from cds_service.cards.pathway import medication_request, service_request

    problems = []
    for intervention in kb.interventions.values():
        resource = medication_request(kb, intervention, "check", "knowledge check")
        problems += [
            f"interventions.yaml: {intervention.id}: {e}" for e in check_resource(resource)
        ]
    for order in kb.lab_orders.values():
        resource = service_request(kb, order, "check")
        problems += [f"lab_orders.yaml: {order.id}: {e}" for e in check_resource(resource)]
    return problems


def _questionnaires(kb: KnowledgeBase) -> list[str]:
    """A questionnaire summed from its items must reach exactly its maximum score."""
    problems = []
    for measure in kb.measures.values():
        if not isinstance(measure, Questionnaire) or not measure.items:
            continue
        where = f"questionnaires.yaml: {measure.id}"
        if not measure.answer_scores:
            problems.append(f"{where}: items without answer_scores cannot be summed")
            continue
        top = max(measure.answer_scores.values()) * len(measure.items)
        if top != measure.max_score:
            problems.append(
                f"{where}: {len(measure.items)} items x {max(measure.answer_scores.values()):g} = {top:g}, but max_score is {measure.max_score:g}"
            )
        for band in measure.bands:
            for bound in (band.lower, band.upper):
                if bound and not measure.min_score <= bound[0] <= measure.max_score:
                    problems.append(
                        f"{where}: band {band.id} bound {bound[0]:g} outside the score range"
                    )
    return problems


def _reachable(kb: KnowledgeBase) -> list[str]:
    """An intervention that no rule suggests is dead content: it can never be checked on a card."""
    suggested = {
        s.medication
        for rule in kb.rules
        for s in rule.suggest
        if isinstance(s, MedicationSuggestion)
    }
    return [
        f"interventions.yaml: {i}: no rule suggests it"
        for i in kb.interventions
        if i not in suggested
    ]


def unverified(kb: KnowledgeBase) -> list[str]:
    """Codes and citations marked as author knowledge: what a reviewer should confirm next."""
    items = []
    for measure in kb.measures.values():
        for code in [*measure.codes, *getattr(measure, "panel_codes", [])]:
            if not code.verified:
                items.append(f"code {code.system}|{code.code} ({measure.id})")
    for intervention in kb.interventions.values():
        code = intervention.ingredient
        if code.system != "rxnorm":
            items.append(
                f"no RxNorm ingredient confirmed for {intervention.id} (local code {code.code})"
            )
        elif not code.verified:
            items.append(f"code rxnorm|{code.code} ({intervention.id})")
    for order in kb.lab_orders.values():
        if not order.code.verified:
            items.append(f"code {order.code.system}|{order.code.code} (lab order {order.id})")
    for ingredient in kb.ingredients.values():
        if ingredient.rxnorm and not ingredient.verified:
            codes = ", ".join(ingredient.rxnorm)
            items.append(f"code rxnorm|{codes} (ingredient {ingredient.id})")
    for condition in kb.condition_classes.values():
        for code in condition.snomed:
            if code not in condition.verified:
                items.append(f"code snomed|{code} (condition {condition.id})")
    for citation in kb.citations.values():
        if not citation.verified:
            items.append(f"citation {citation.id} ({citation.label})")
    return items
