"""AllergyIntolerance -> ``AllergyFact``: what the patient is allergic to, as the rules name it.

An allergy counts when it is active (or its clinical status is absent) and not refuted or
entered in error (R4 CodeableConcepts, STU3 codes, DSTU2 ``status``). "No known allergy" codes
are never an allergen. The substance is read as an allergen class (fish, shellfish, cobalt: by
SNOMED CT code or a name in its text, ``allergies.yaml``) and as drug ingredients (the drug
classifier, the one recognition table). An allergy to something the knowledge base does not
know gives no fact: no alert, and no noise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.text import fold_text
from cds_service.snapshot.classify import classify_drug
from cds_service.snapshot.facts import AllergyFact
from cds_service.snapshot.values import (
    codings,
    concept_text,
    parse_datetime,
    resource_ref,
    status_code,
)

# Clinical and verification statuses (R4, STU3) and DSTU2's single status that mean "does not
# apply now": the allergy is not read.
_NOT_CURRENT = frozenset({"inactive", "resolved", "refuted", "entered-in-error"})


def allergy_fact(kb: KnowledgeBase, resource: Mapping[str, Any]) -> AllergyFact | None:
    """The allergy as the rules see it, or None when it does not count or names nothing known."""
    for field in ("clinicalStatus", "verificationStatus", "status"):
        if status_code(resource.get(field)) in _NOT_CURRENT:
            return None
    concept = resource.get("code") or resource.get("substance")  # DSTU2: substance
    snomed = kb.system_uris.get("snomed")
    allergens: dict[str, None] = {}
    for coding in codings(concept):
        code = coding.get("code")
        system = kb.system_aliases.get(str(coding.get("system")))
        if system != snomed or not isinstance(code, str):
            continue
        if code in kb.no_known_allergy:
            return None
        allergens.update(dict.fromkeys(kb.allergen_snomed.get(code, ())))
    text = concept_text(concept) or ""
    texts = [text, *(str(c.get("display", "")) for c in codings(concept))]
    folded = " ".join(fold_text(t) for t in texts if t)
    for needle, allergen in kb.allergen_names:
        if needle in folded:
            allergens[allergen] = None
    match = classify_drug(kb, [concept]) if concept else None
    ingredients = match.ingredients if match is not None else ()
    if not (allergens or ingredients):
        return None
    interventions = tuple(
        dict.fromkeys(
            kb.ingredient_interventions[i] for i in ingredients if i in kb.ingredient_interventions
        )
    )
    return AllergyFact(
        ref=resource_ref(resource),
        name=text or next((str(c.get("display")) for c in codings(concept)), "allergy"),
        allergens=tuple(allergens),
        ingredients=ingredients,
        interventions=interventions,
        recorded=parse_datetime(resource.get("recordedDate") or resource.get("assertedDate")),
    )
