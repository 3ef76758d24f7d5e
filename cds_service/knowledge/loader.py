"""Load ``mappings/`` into a validated, indexed, immutable ``KnowledgeBase``.

Validation happens here, once, at start-up and in ``cds-service check-knowledge``: each file
has its validator (``validators.py``), called in dependency order, so schema errors, unknown
code systems, rules without citations, dangling references and duplicate codes all fail with a
``KnowledgeError`` naming the file and the field. The look-up tables (``indexes.py``) are built
here too, so the request path only does dictionary look-ups.
"""

from __future__ import annotations

from pathlib import Path

from cds_service.knowledge import indexes
from cds_service.knowledge.base import KnowledgeBase
from cds_service.knowledge.references import Checker, References
from cds_service.knowledge.text import fold_text
from cds_service.knowledge.validators import (
    check_override_reasons,
    load_allergies,
    load_citations,
    load_conditions,
    load_definitions,
    load_derived,
    load_follow_up,
    load_guidance,
    load_interventions,
    load_lab_orders,
    load_manifest,
    load_measures,
    load_medications,
    load_order_checks,
    load_pathways,
    load_rules,
    load_safety,
)


def load_knowledge(root: Path) -> KnowledgeBase:
    """Read, validate and index the knowledge base in ``root`` (the mappings/ folder)."""
    manifest, system_aliases = load_manifest(root)
    definitions = load_definitions(root)
    citations = load_citations(root)
    check = Checker(manifest.code_systems, citations)
    measures = load_measures(root, check)
    pathways = load_pathways(root, measures.by_id, check)
    interventions = load_interventions(root, pathways, check)
    lab_orders = load_lab_orders(root, measures.by_id, check)
    medications = load_medications(root, interventions, check)
    conditions, name_exclusions = load_conditions(root, check)
    allergies = load_allergies(root, check)
    refs = References(
        measures.by_id,
        medications=set(medications.classes) | set(medications.ingredients),
        conditions=set(conditions),
        allergens=set(allergies.allergens),
    )
    for definition in definitions.values():
        refs.predicate(f"definitions.yaml: {definition.id}", definition.when)
    rules = load_rules(
        root,
        definitions=definitions,
        pathways=pathways,
        interventions=interventions,
        lab_orders=lab_orders,
        measures=measures.by_id,
        refs=refs,
        check=check,
    )
    safety_rules, safety_prompts = load_safety(
        root,
        definitions=definitions,
        interventions=interventions,
        lab_orders=lab_orders,
        medications=medications,
        refs=refs,
        check=check,
    )
    guidance = load_guidance(
        root,
        measures=measures.by_id,
        lab_orders=lab_orders,
        pathways=pathways,
        medication_classes=medications.classes,
        rule_ids={rule.id for rule in rules},
        check=check,
    )
    derived = load_derived(root, measures.by_id, check)
    follow_up = load_follow_up(
        root,
        interventions=interventions,
        measures=measures.by_id,
        lab_orders=lab_orders,
        check=check,
    )
    order_checks = load_order_checks(
        root,
        definitions=definitions,
        interventions=interventions,
        medications=medications,
        refs=refs,
        check=check,
    )
    check_override_reasons(
        {r.code for r in manifest.override_reasons},
        {
            "safety.yaml": safety_rules,
            "order_checks.yaml": (*order_checks.limits, *order_checks.duplication),
        },
    )
    ingredient_names = indexes.ingredient_names(medications.ingredients)
    questionnaire_urls, questionnaire_items = indexes.questionnaire_index(measures.by_id)
    return KnowledgeBase(
        root=root,
        manifest=manifest,
        citations=citations,
        measures=measures.by_id,
        pathways=pathways,
        interventions=interventions,
        lab_orders=lab_orders,
        rules=rules,
        safety_rules=safety_rules,
        medication_classes=medications.classes,
        ingredients=medications.ingredients,
        products=medications.products,
        condition_classes=conditions,
        measure_codes=measures.codes,
        unit_factors=measures.unit_factors,
        system_uris=dict(manifest.code_systems),
        system_aliases=system_aliases,
        rxnorm_ingredients=indexes.rxnorm_ingredients(
            medications.ingredients, medications.products
        ),
        atc_ingredients=indexes.atc_ingredients(medications.ingredients),
        atc_class_prefixes=indexes.atc_class_prefixes(medications.classes),
        ingredient_names=indexes.longest_first(ingredient_names),
        snomed_conditions=indexes.snomed_conditions(conditions),
        icd_condition_prefixes=indexes.icd_condition_prefixes(conditions),
        condition_names=indexes.condition_names(conditions),
        condition_name_exclusions=tuple(fold_text(x) for x in name_exclusions),
        safety_prompts=safety_prompts,
        ingredient_interventions={
            i.id: i.intervention
            for i in medications.ingredients.values()
            if i.intervention is not None
        },
        ingredient_name_index=indexes.name_index(ingredient_names),
        safety_drug_targets=frozenset(
            drug for rule in safety_rules for drug in rule.applies_to.medications
        ),
        safety_rules_by_intervention=indexes.safety_rules_by_intervention(
            interventions, safety_rules
        ),
        definitions=definitions,
        questionnaire_urls=questionnaire_urls,
        questionnaire_items=questionnaire_items,
        medication_guidance=guidance,
        supplement_ingredients=indexes.supplement_ingredients(medications.ingredients),
        derived=derived,
        follow_ups=indexes.follow_ups_by_intervention(follow_up),
        ingredient_amounts=order_checks.amounts,
        dose_limits=order_checks.limits,
        limit_ingredients=order_checks.limit_ingredients,
        duplication=order_checks.duplication,
        allergens=allergies.allergens,
        allergen_snomed={
            code: (allergen.id,)
            for allergen in allergies.allergens.values()
            for code in allergen.snomed
        },
        allergen_names=indexes.longest_first(
            (fold_text(name), allergen.id)
            for allergen in allergies.allergens.values()
            for name in allergen.names
        ),
        no_known_allergy=allergies.no_known_allergy,
        parenteral_routes=frozenset(medications.parenteral.snomed),
        parenteral_words=tuple(fold_text(w) for w in medications.parenteral.words),
    )
