"""What a review of the knowledge base needs beyond what the loader refuses.

The loader already refuses what would make the service wrong at start-up (schema errors,
unknown code systems, rules without citations, duplicate codes, dangling references,
supplement rules reading research-only markers or contested bands). ``content_problems``
adds questionnaire scoring that adds up, interventions no rule can reach, and one publication
cited under two ids (a PMID or DOI copied onto the wrong entry); ``unverified``
lists the codes and citations still marked as author knowledge, for the reviewer, not as
errors. ``cds-service check-knowledge`` (cli/knowledge.py) adds the service definitions and
every suggestion built as FHIR R4 (cards/check.py).
"""

from __future__ import annotations

from cds_service.knowledge.base import KnowledgeBase
from cds_service.knowledge.schema import MedicationSuggestion, Questionnaire


def content_problems(kb: KnowledgeBase) -> list[str]:
    """Defects the loader lets through because only a review needs them fixed."""
    return _questionnaires(kb) + _reachable(kb) + _duplicate_identifiers(kb)


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


def _duplicate_identifiers(kb: KnowledgeBase) -> list[str]:
    """A PMID or DOI under two citation ids: one of them carries another paper's identifier
    (king-bond-2016 once carried Refsum 2004's), or one paper is cited twice."""
    owners: dict[tuple[str, str], list[str]] = {}
    for citation in kb.citations.values():
        if citation.pmid:
            owners.setdefault(("PMID", citation.pmid.strip()), []).append(citation.id)
        if citation.doi:
            owners.setdefault(("DOI", _doi_key(citation.doi)), []).append(citation.id)
    return [
        f"citations*.yaml: {kind} {value} is used by {', '.join(ids)}"
        for (kind, value), ids in owners.items()
        if len(ids) > 1
    ]


def _doi_key(doi: str) -> str:
    """DOIs are case-insensitive; "doi:" and resolver prefixes are not part of the name."""
    key = doi.strip().lower()
    for prefix in ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:"):
        key = key.removeprefix(prefix)
    return key


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
