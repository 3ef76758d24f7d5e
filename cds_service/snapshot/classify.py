"""Medications to ingredients and classes; conditions to condition classes.

Matching order for a drug: RxNorm ingredient or curated product code, then ATC (exact code, then
class prefix), then generic and brand names in ``display``/``text``. A drug none of these
recognise is *unclassified*, and the cards say so ("not checked") rather than ignoring it.
All codes and names come from ``mappings/medications.yaml`` and ``conditions.yaml``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import DoseThreshold
from cds_service.knowledge.text import fold_text
from cds_service.knowledge.units import convert
from cds_service.snapshot.doses import DoseEstimate
from cds_service.snapshot.memo import memoised
from cds_service.snapshot.values import codings, concept_text


@dataclass(frozen=True, slots=True)
class DrugMatch:
    ingredients: tuple[str, ...]
    classes: tuple[str, ...]
    matched_by: str  # rxnorm | atc | name | none
    name: str | None

    @property
    def classified(self) -> bool:
        return bool(self.ingredients or self.classes)


def _system(kb: KnowledgeBase, coding: Mapping[str, Any]) -> str | None:
    system = coding.get("system")
    return kb.system_aliases.get(system) if isinstance(system, str) else None


def classify_drug(kb: KnowledgeBase, concepts: Iterable[Any]) -> DrugMatch:
    """Classify a drug named by one or more CodeableConcepts (e.g. medication + Medication.code)."""
    concepts = list(concepts)
    return memoised(kb, "drug", concepts, lambda: _classify_drug(kb, concepts))


def _classify_drug(kb: KnowledgeBase, concepts: list[Any]) -> DrugMatch:
    rxnorm, atc = kb.system_uris.get("rxnorm"), kb.system_uris.get("atc")
    supplement = kb.system_uris.get("local-supplement")
    ingredients: dict[str, None] = {}
    atc_codes: list[str] = []
    name: str | None = None
    matched_by = "none"
    for concept in concepts:
        name = name or concept_text(concept)
        for coding in codings(concept):
            code = coding.get("code")
            if not isinstance(code, str):
                continue
            system = _system(kb, coding)
            if system == rxnorm and code in kb.rxnorm_ingredients:
                ingredients.update(dict.fromkeys(kb.rxnorm_ingredients[code]))
                matched_by = "rxnorm"
            elif system == supplement and code in kb.supplement_ingredients:
                # The service's own suggestion of a supplement with no RxNorm ingredient.
                ingredients.update(dict.fromkeys(kb.supplement_ingredients[code]))
                matched_by = "rxnorm"
            elif system == atc:
                atc_codes.append(code.upper())
    if not ingredients:
        for code in atc_codes:
            if code in kb.atc_ingredients:
                ingredients.update(dict.fromkeys(kb.atc_ingredients[code]))
                matched_by = "atc"
    if not ingredients:
        texts = [concept_text(c) or "" for c in concepts]
        texts += [str(c.get("display", "")) for concept in concepts for c in codings(concept)]
        folded = " ".join(fold_text(t) for t in texts if t)
        index = kb.ingredient_name_index
        found = [
            (needle, ingredient_id)
            for word in set(folded.split())
            for needle, ingredient_id in index.get(word, ())
            if needle in folded
        ]
        for needle, ingredient_id in found:
            # "zinc oxide" names zinc oxide, not also "zinc": a name inside a longer match
            # (of another ingredient) does not count on its own.
            if any(
                needle in longer and other != ingredient_id
                for longer, other in found
                if longer != needle
            ):
                continue
            ingredients[ingredient_id] = None
            matched_by = "name"
    classes: dict[str, None] = {}
    for ingredient_id in ingredients:
        classes.update(dict.fromkeys(kb.ingredients[ingredient_id].classes))
    if not ingredients:
        for code in atc_codes:
            for prefix, class_id in kb.atc_class_prefixes:
                if code.startswith(prefix):
                    classes[class_id] = None
                    matched_by = "atc"
    return DrugMatch(tuple(ingredients), tuple(classes), matched_by, name)


def dose_qualified_classes(
    kb: KnowledgeBase, match: DrugMatch, doses: Mapping[str, DoseEstimate]
) -> tuple[str, ...]:
    """The drug's classes, less those its ingredients join only above a daily dose they are
    known not to exceed (``class_doses``, e.g. doxepin 6 mg/day or less is not a strong
    anticholinergic). A class another ingredient gives without condition stays; an unknown or
    incomplete dose keeps the class (conservative)."""
    dropped: set[str] = set()
    kept: set[str] = set()
    for ingredient_id in match.ingredients:
        ingredient = kb.ingredients[ingredient_id]
        for class_id in ingredient.classes:
            threshold = ingredient.class_doses.get(class_id)
            if threshold is None or _above(doses.get(ingredient_id), threshold):
                kept.add(class_id)
            else:
                dropped.add(class_id)
    return tuple(c for c in match.classes if c not in dropped or c in kept)


def _above(dose: DoseEstimate | None, threshold: DoseThreshold) -> bool:
    if dose is None:
        return True
    value = convert(dose.amount, dose.unit, threshold.unit)
    if value is None:
        return True
    # A single dose with an unknown frequency is a lower bound on the day.
    return threshold.exceeded_by(value) or not dose.per_day


def washout_days(kb: KnowledgeBase, match: DrugMatch) -> int:
    """How long a stopped drug still counts: the ingredient's own window, else its classes' max."""
    windows = [
        kb.ingredients[i].washout_days
        for i in match.ingredients
        if kb.ingredients[i].washout_days is not None
    ]
    if windows:
        return max(w for w in windows if w is not None)
    return max((kb.medication_classes[c].washout_days for c in match.classes), default=0)


def classify_condition(kb: KnowledgeBase, concept: Any) -> tuple[str, ...]:
    """Condition class ids for a Condition.code, by SNOMED CT, ICD-10(-CM) prefix, then name."""
    return memoised(kb, "condition", concept, lambda: _classify_condition(kb, concept))


def _classify_condition(kb: KnowledgeBase, concept: Any) -> tuple[str, ...]:
    snomed = kb.system_uris.get("snomed")
    icd = {kb.system_uris.get("icd10cm"), kb.system_uris.get("icd10")}
    found: dict[str, None] = {}
    for coding in codings(concept):
        code = coding.get("code")
        if not isinstance(code, str):
            continue
        system = _system(kb, coding)
        if system == snomed:
            found.update(dict.fromkeys(kb.snomed_conditions.get(code, ())))
        elif system in icd:
            folded = code.replace(".", "").upper()
            for prefix, class_id in kb.icd_condition_prefixes:
                if folded.startswith(prefix):
                    found[class_id] = None
    if not found and kb.condition_names:
        text = fold_text(" ".join(filter(None, [concept_text(concept)])))
        if any(exclusion in text for exclusion in kb.condition_name_exclusions):
            return ()  # e.g. "family history of bipolar disorder": not the patient's condition
        for needle, class_id in kb.condition_names:
            if needle in text:
                found[class_id] = None
    return tuple(found)
