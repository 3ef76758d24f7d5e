"""``KnowledgeBase``: everything the engine knows, validated and indexed by ``load_knowledge``.

Immutable and shared by every request; the request path only does dictionary look-ups on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cds_service.knowledge.schema import (
    AllergenClass,
    Citation,
    ConditionClass,
    Definition,
    DerivedMeasure,
    DoseLimit,
    DuplicationRule,
    FollowUp,
    Ingredient,
    IngredientAmount,
    Intervention,
    LabOrder,
    Manifest,
    Measure,
    MedicationClass,
    MedicationGuidance,
    Pathway,
    Product,
    Rule,
    SafetyPrompt,
    SafetyRule,
)
from cds_service.knowledge.units import convert


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    """Everything the engine knows, validated and indexed; safe to share between requests."""

    root: Path
    manifest: Manifest
    citations: dict[str, Citation]
    measures: dict[str, Measure]
    pathways: dict[str, Pathway]
    interventions: dict[str, Intervention]
    lab_orders: dict[str, LabOrder]
    rules: tuple[Rule, ...]
    safety_rules: tuple[SafetyRule, ...]
    medication_classes: dict[str, MedicationClass]
    ingredients: dict[str, Ingredient]
    products: dict[str, Product]
    condition_classes: dict[str, ConditionClass]
    # code -> {system URI -> measure}: the one look-up the reader does per Observation coding.
    measure_codes: dict[str, dict[str, Measure]] = field(repr=False)
    # measure id -> {normalised unit -> units per canonical unit}
    unit_factors: dict[str, dict[str, float]] = field(repr=False)
    system_uris: dict[str, str] = field(repr=False)
    system_aliases: dict[str, str] = field(repr=False)  # alternative URI -> canonical URI
    # Medication and condition look-ups (see snapshot/classify.py).
    rxnorm_ingredients: dict[str, tuple[str, ...]] = field(repr=False)  # IN or product CUI
    atc_ingredients: dict[str, tuple[str, ...]] = field(repr=False)
    atc_class_prefixes: tuple[tuple[str, str], ...] = field(repr=False)  # (prefix, class id)
    ingredient_names: tuple[tuple[str, str], ...] = field(repr=False)  # (folded name, id)
    snomed_conditions: dict[str, tuple[str, ...]] = field(repr=False)
    icd_condition_prefixes: tuple[tuple[str, str], ...] = field(repr=False)
    condition_names: tuple[tuple[str, str], ...] = field(repr=False)
    condition_name_exclusions: tuple[str, ...] = field(default=(), repr=False)
    safety_prompts: tuple[SafetyPrompt, ...] = ()
    # ingredient id -> intervention id, for supplements that are also interventions.
    ingredient_interventions: dict[str, str] = field(default_factory=dict, repr=False)
    # first word of a folded name -> (folded name, ingredient id): name matching looks only at
    # the names whose first word occurs in the text.
    ingredient_name_index: dict[str, tuple[tuple[str, str], ...]] = field(
        default_factory=dict, repr=False
    )
    # Class and ingredient ids some safety rule names in applies_to.medications.
    safety_drug_targets: frozenset[str] = frozenset()
    # intervention id -> the safety rules that target it (by id, tag or all_supplements), in
    # file order: checking a suggestion visits these, not every rule.
    safety_rules_by_intervention: dict[str, tuple[SafetyRule, ...]] = field(
        default_factory=dict, repr=False
    )
    definitions: dict[str, Definition] = field(default_factory=dict, repr=False)
    # QuestionnaireResponse reading (snapshot/questionnaires.py): canonical URL prefix -> questionnaire ids,
    # and item key (linkId without "/", or item code) -> questionnaire ids that score it.
    questionnaire_urls: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    questionnaire_items: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    medication_guidance: tuple[MedicationGuidance, ...] = ()
    # Local supplement code (urn:neurotransmitter-cds:supplement) -> ingredient ids: the codes
    # of our own suggestions for supplements with no confirmed RxNorm ingredient.
    supplement_ingredients: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    # Measures computed when the lab sent none (derived.yaml), e.g. eGFR from creatinine.
    derived: tuple[DerivedMeasure, ...] = ()
    # Rechecks of supplements already taken (follow_up.yaml), by base intervention id.
    follow_ups: dict[str, tuple[FollowUp, ...]] = field(default_factory=dict, repr=False)
    # Order checks (order_checks.yaml): per-ingredient amounts (IU, elemental share), daily
    # dose limits and the ingredients each counts, therapeutic duplication.
    ingredient_amounts: dict[str, IngredientAmount] = field(default_factory=dict, repr=False)
    dose_limits: tuple[DoseLimit, ...] = ()
    limit_ingredients: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)
    duplication: tuple[DuplicationRule, ...] = ()
    # Allergies (allergies.yaml): allergen classes by id, SNOMED CT code and folded name, and the
    # codes that record "no known allergy".
    allergens: dict[str, AllergenClass] = field(default_factory=dict, repr=False)
    allergen_snomed: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    allergen_names: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    no_known_allergy: frozenset[str] = frozenset()
    # Injected or infused medications (medications.yaml parenteral): SNOMED CT route codes and
    # folded words of the route's or drug's text.
    parenteral_routes: frozenset[str] = frozenset()
    parenteral_words: tuple[str, ...] = ()
    # Per-process memo of pure look-ups over this knowledge base (snapshot/classify.py): a hospital's
    # drug and problem-list codes repeat across patients. Not an init field, so a copy made
    # with dataclasses.replace starts empty instead of sharing answers from other tables.
    memo: dict[str, dict[Any, Any]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def version(self) -> str:
        return self.manifest.version

    def card_rule_ids(self) -> frozenset[str]:
        """Every id a card's audit may name: rules, safety rules and prompts, follow-ups, dose
        limits, duplication checks, order guidance. Built once per knowledge base."""
        memo = self.memo.setdefault("card_rule_ids", {})
        if "ids" not in memo:
            memo["ids"] = frozenset(
                [
                    *(r.id for r in self.rules),
                    *(r.id for r in self.safety_rules),
                    *(p.id for p in self.safety_prompts),
                    *(f.id for fs in self.follow_ups.values() for f in fs),
                    *(d.id for d in self.dose_limits),
                    *(d.id for d in self.duplication),
                    *(g.id for g in self.medication_guidance),
                ]
            )
        ids: frozenset[str] = memo["ids"]
        return ids

    def base_intervention(self, intervention_id: str) -> str:
        """The intervention a variant is a regimen of (itself when it is no variant)."""
        return self.interventions[intervention_id].variant_of or intervention_id

    def uri(self, alias: str) -> str:
        return self.system_uris[alias]

    def citation_links(self, ids: Iterable[str]) -> list[Citation]:
        return [self.citations[i] for i in ids]

    def mg_per_iu(self, ingredient_id: str) -> float | None:
        """Milligrams one international unit of the ingredient stands for, when known."""
        amount = self.ingredient_amounts.get(ingredient_id)
        if amount is None or amount.per_iu is None:
            return None
        per_iu = amount.per_iu
        return convert(per_iu.value, per_iu.unit, "mg")

    def observation_codes(self) -> list[tuple[str, str]]:
        """(system URI, code) of every measure, for prefetch templates (derived, not retyped)."""
        seen: dict[tuple[str, str], None] = {}
        for measure in self.measures.values():
            for code in measure.codes:
                seen[(self.system_uris[code.system], code.code)] = None
        return sorted(seen)
