"""Look-up tables built once at load, so the request path does dictionary look-ups only.

Drug codes and names to ingredients, condition codes and names to classes, intervention codes
and names, questionnaire URLs and items, and the safety rules that concern each intervention.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cds_service.knowledge.schema import (
    ConditionClass,
    FollowUp,
    Ingredient,
    Intervention,
    Measure,
    MedicationClass,
    Product,
    Questionnaire,
    SafetyRule,
)
from cds_service.knowledge.text import fold_text

Names = tuple[tuple[str, str], ...]  # (folded name, id), longest name first where it matters


def longest_first(names: Iterable[tuple[str, str]]) -> Names:
    return tuple(sorted(names, key=lambda item: -len(item[0])))


def rxnorm_ingredients(
    ingredients: Mapping[str, Ingredient], products: Mapping[str, Product]
) -> dict[str, tuple[str, ...]]:
    """RxNorm ingredient or curated product code -> ingredient ids."""
    index: dict[str, list[str]] = {}
    for ingredient in ingredients.values():
        for cui in ingredient.rxnorm:
            index.setdefault(cui, []).append(ingredient.id)
    for product in products.values():
        index[product.rxnorm] = list(product.ingredients)
    return {code: tuple(ids) for code, ids in index.items()}


def atc_ingredients(ingredients: Mapping[str, Ingredient]) -> dict[str, tuple[str, ...]]:
    index: dict[str, list[str]] = {}
    for ingredient in ingredients.values():
        for atc in ingredient.atc:
            index.setdefault(atc.upper(), []).append(ingredient.id)
    return {code: tuple(ids) for code, ids in index.items()}


def atc_class_prefixes(classes: Mapping[str, MedicationClass]) -> tuple[tuple[str, str], ...]:
    """(ATC prefix, class id), the longest (most specific) prefix first."""
    prefixes = ((prefix.upper(), c.id) for c in classes.values() for prefix in c.atc)
    return tuple(sorted(prefixes, key=lambda item: -len(item[0])))


def ingredient_names(ingredients: Mapping[str, Ingredient]) -> list[tuple[str, str]]:
    return [
        (fold_text(name), ingredient.id)
        for ingredient in ingredients.values()
        for name in [ingredient.name, *ingredient.names]
    ]


def name_index(names: Iterable[tuple[str, str]]) -> dict[str, Names]:
    """First word of a folded name -> (folded name, id): name matching looks only at the names
    whose first word occurs in the text."""
    index: dict[str, list[tuple[str, str]]] = {}
    for needle, ingredient_id in names:
        words = needle.split()
        if words:
            index.setdefault(words[0], []).append((needle, ingredient_id))
    return {word: tuple(entries) for word, entries in index.items()}


def snomed_conditions(conditions: Mapping[str, ConditionClass]) -> dict[str, tuple[str, ...]]:
    index: dict[str, list[str]] = {}
    for condition in conditions.values():
        for code in condition.snomed:
            index.setdefault(code, []).append(condition.id)
    return {code: tuple(ids) for code, ids in index.items()}


def icd_condition_prefixes(conditions: Mapping[str, ConditionClass]) -> tuple[tuple[str, str], ...]:
    return tuple(
        (prefix.replace(".", "").upper(), condition.id)
        for condition in conditions.values()
        for prefix in condition.icd10
    )


def condition_names(conditions: Mapping[str, ConditionClass]) -> Names:
    return tuple(
        (fold_text(name), condition.id)
        for condition in conditions.values()
        for name in condition.names
    )


def supplement_ingredients(ingredients: Mapping[str, Ingredient]) -> dict[str, tuple[str, ...]]:
    """Local supplement code -> ingredient ids."""
    index: dict[str, list[str]] = {}
    for ingredient in ingredients.values():
        for code in ingredient.supplement_codes:
            index.setdefault(code, []).append(ingredient.id)
    return {code: tuple(ids) for code, ids in index.items()}


def questionnaire_index(
    measures: Mapping[str, Measure],
) -> tuple[tuple[tuple[str, str], ...], dict[str, tuple[str, ...]]]:
    """Canonical URL prefix -> questionnaire id (longest first), and item key (linkId without
    "/", or item code) -> the questionnaires that score it."""
    urls: list[tuple[str, str]] = []
    items: dict[str, list[str]] = {}
    for measure in measures.values():
        if not isinstance(measure, Questionnaire):
            continue
        urls += [(url.rstrip("/"), measure.id) for url in measure.questionnaire_urls]
        keys = [*measure.items, *measure.item_link_ids, *measure.total_link_ids]
        keys += [code.code for code in measure.codes]
        for key in keys:
            slot = items.setdefault(key.lstrip("/"), [])
            if measure.id not in slot:
                slot.append(measure.id)
    return longest_first(urls), {k: tuple(v) for k, v in items.items()}


def safety_rules_by_intervention(
    interventions: Mapping[str, Intervention], rules: Iterable[SafetyRule]
) -> dict[str, tuple[SafetyRule, ...]]:
    """Intervention id -> the safety rules that target it, in file order: checking a
    suggestion visits these, not every rule."""
    rules = tuple(rules)
    return {
        intervention.id: tuple(
            rule for rule in rules if rule.applies_to.covers(intervention.id, intervention.tags)
        )
        for intervention in interventions.values()
    }


def follow_ups_by_intervention(items: Iterable[FollowUp]) -> dict[str, tuple[FollowUp, ...]]:
    """Base intervention id -> its rechecks, in file order."""
    index: dict[str, list[FollowUp]] = {}
    for item in items:
        index.setdefault(item.intervention, []).append(item)
    return {intervention: tuple(rechecks) for intervention, rechecks in index.items()}
