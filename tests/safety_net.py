"""A suite-wide check: no response produced anywhere in the tests suggests a blocked option.

``install`` wraps ``cds_service.pipeline.evaluate`` (and every module that imported it), so every
evaluation - through ``tests.helpers.run_hook``, through the app under uvicorn in a test thread,
or through any future caller - is re-checked: each suggested MedicationRequest is mapped back to
its intervention and re-gated against the patient's snapshot with *all* draft orders counted as
therapy (stricter than the gate). A suggestion a hard or soft block forbids, or one of an
intervention that is never offered, is recorded; conftest.py fails the test that produced it.

The same pass checks each card's audit record against the card sent (issue 15): the same card
and suggestion uuids, and each suggestion's rules among its card's rules, since per-rule
acceptance in ``cds-service report`` is counted through them.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from cds_service import pipeline
from cds_service.engine.safety import check_subject, intervention_subject
from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import Intervention
from cds_service.snapshot.classify import classify_drug

VIOLATIONS: list[str] = []
_LOCK = threading.Lock()
_ORIGINAL = pipeline.evaluate


def suggested_interventions(resource: dict[str, Any], kb: KnowledgeBase) -> list[Intervention]:
    """The interventions a suggested MedicationRequest proposes (by code, else by ingredient)."""
    concept = resource.get("medicationCodeableConcept") or {}
    found: dict[str, Intervention] = {}
    for coding in concept.get("coding", []):
        for intervention in kb.interventions.values():
            code = intervention.ingredient
            if coding.get("code") == code.code and coding.get("system") == kb.uri(code.system):
                found[intervention.id] = intervention
    if not found:
        match = classify_drug(kb, [concept])
        for ingredient in match.ingredients:
            intervention_id = kb.ingredient_interventions.get(ingredient)
            if intervention_id in kb.interventions:
                found[intervention_id] = kb.interventions[intervention_id]
    return list(found.values())


def blocked_suggestions(result: pipeline.Evaluation, kb: KnowledgeBase) -> list[str]:
    """Every suggestion in ``result`` that the safety rules forbid for its patient."""
    snapshot = result.snapshot
    therapy = snapshot.medications + snapshot.drafts
    problems = []
    for card in result.response.get("cards", []):
        for suggestion in card.get("suggestions", []):
            for action in suggestion.get("actions", []):
                resource = action.get("resource")
                if action.get("type") != "create" or not isinstance(resource, dict):
                    continue
                if resource.get("resourceType") != "MedicationRequest":
                    continue
                interventions = suggested_interventions(resource, kb)
                if not interventions:
                    problems.append(f"{card['summary']!r}: suggests an unrecognised medication")
                for intervention in interventions:
                    if not intervention.offer:
                        problems.append(
                            f"{card['summary']!r}: suggests {intervention.id}, never offered"
                        )
                    hits = check_subject(
                        intervention_subject(intervention),
                        snapshot,
                        kb,
                        scope="suggestions",
                        therapy=therapy,
                    )
                    blocks = [h.rule.id for h in hits if h.rule.action == "block"]
                    if blocks:
                        problems.append(
                            f"{card['summary']!r}: suggests {intervention.id}, blocked by {blocks}"
                        )
    return problems


def audit_mismatches(result: pipeline.Evaluation) -> list[str]:
    """Where the audit records of ``result`` do not describe the cards it sent."""
    cards = result.response.get("cards", [])
    if [c["uuid"] for c in cards] != [a.uuid for a in result.cards]:
        return ["the audit records are not the cards sent"]
    problems = []
    for card, audit in zip(cards, result.cards, strict=True):
        sent = [s["uuid"] for s in card.get("suggestions", [])]
        if sent != [s.uuid for s in audit.suggestions]:
            problems.append(f"{card['summary']!r}: audit suggestions differ from the card's")
        for suggestion in audit.suggestions:
            if not set(suggestion.rule_ids) <= set(audit.rule_ids):
                problems.append(
                    f"{card['summary']!r}: suggestion rules {suggestion.rule_ids} are not among "
                    f"the card's {audit.rule_ids}"
                )
    return problems


def _checked_evaluate(*args: Any, **kwargs: Any) -> pipeline.Evaluation:
    result = _ORIGINAL(*args, **kwargs)
    kb = kwargs.get("kb", args[2] if len(args) > 2 else None)
    if isinstance(kb, KnowledgeBase):
        problems = blocked_suggestions(result, kb) + audit_mismatches(result)
        if problems:
            with _LOCK:
                VIOLATIONS.extend(problems)
    return result


def install() -> None:
    """Route every ``evaluate`` through the check (idempotent)."""
    pipeline.evaluate = _checked_evaluate  # type: ignore[assignment]
    for name, module in list(sys.modules.items()):
        if (
            name.startswith(("cds_service", "tests"))
            and getattr(module, "evaluate", None) is _ORIGINAL
        ):
            module.evaluate = _checked_evaluate  # type: ignore[attr-defined]


def take() -> list[str]:
    """The violations recorded since the last call."""
    with _LOCK:
        found = list(VIOLATIONS)
        VIOLATIONS.clear()
    return found
