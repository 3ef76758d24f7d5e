"""One recognition table (issue 16): every matcher reads what a product *is* from medications.yaml.

The order guidance, the safety gate, duplication, dose limits and allergy checks all take a
draft's interventions from the drug classifier; the suggestion builder stamps suggestions with a
code the loader has checked the classifier resolves. The property tests build product
descriptions from the table's own names and codes, dressed as EHRs write them (case, strength,
dose form, punctuation, brand words around them), and check that whatever any part of the
service recognises as an intervention, the safety gate classifies too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_service.cards.guidance import drafted_interventions
from cds_service.cards.resources import medication_request
from cds_service.engine.safety import fact_subject
from cds_service.knowledge import KnowledgeBase, load_knowledge
from cds_service.settings import PROJECT_ROOT
from cds_service.snapshot.facts import MedicationFact
from cds_service.snapshot.reader import build_snapshot
from tests.factories import PATIENT_ID, RXNORM, draft_order, medication_statement, prefetch_for
from tests.factories import medication_request as active_order
from tests.helpers import snapshot_of


@cache
def knowledge() -> KnowledgeBase:
    """The knowledge base, loaded once (hypothesis strategies are built at import)."""
    return load_knowledge(PROJECT_ROOT / "mappings")


def draft_fact(kb: KnowledgeBase, resource: dict[str, Any]) -> MedicationFact:
    snapshot = build_snapshot(
        kb,
        patient_id=PATIENT_ID,
        now=datetime.now(UTC),
        prefetch_values=prefetch_for().values(),
        draft_orders={"resourceType": "Bundle", "entry": [{"resource": resource}]},
    )
    (fact,) = snapshot.drafts
    return fact


def recognised(kb: KnowledgeBase, fact: MedicationFact) -> dict[str, set[str]]:
    """What each matcher calls the product: guidance, safety gate, and the ingredients' links."""
    return {
        "guidance": set(drafted_interventions(fact)),
        "gate": {i.id for i in fact_subject(fact, kb).interventions},
        "table": {
            kb.ingredients[i].intervention
            for i in fact.ingredients
            if kb.ingredients[i].intervention is not None
        },
    }


def _linked_names() -> list[tuple[str, str]]:
    kb = knowledge()
    return sorted(
        (name, ingredient.intervention)
        for ingredient in kb.ingredients.values()
        if ingredient.intervention is not None
        for name in [*ingredient.names]
    )


LINKED_NAMES = _linked_names()
FORMS = ["", "tablet", "Oral Capsule", "softgel", "chewable", "powder", "ER", "gummies"]
STRENGTHS = ["", "400 mg", "1000 UNT", "50 MCG", "1 g", "25mg", "2,000 IU"]
BRANDS = ["", "Nature's", "[OTC]", "Pharmacy brand", "(store)", "Extra strength"]


def _dress(name: str, case: str) -> str:
    words = name.split()
    if case == "upper":
        return " ".join(words).upper()
    if case == "title":
        return " ".join(w.capitalize() for w in words)
    if case == "hyphen":
        return "-".join(words)
    return " ".join(words)


product_texts = st.builds(
    lambda named, case, strength, form, brand, tail: (
        " ".join(p for p in (brand, _dress(named[0], case), strength, form, tail) if p),
        named[1],
    ),
    st.sampled_from(LINKED_NAMES),
    st.sampled_from(["lower", "upper", "title", "hyphen"]),
    st.sampled_from(STRENGTHS),
    st.sampled_from(FORMS),
    st.sampled_from(BRANDS),
    st.sampled_from(["", "daily", "as directed", "take with food"]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(product_texts)
def test_a_product_named_in_the_table_is_the_same_intervention_to_every_matcher(
    product: tuple[str, str],
) -> None:
    kb = knowledge()
    text, intervention_id = product
    fact = draft_fact(kb, draft_order(text))
    found = recognised(kb, fact)
    assert found["guidance"] <= found["gate"], (text, found)
    assert found["gate"] == found["table"], (text, found)
    # The name recognises its own intervention (a longer name of another ingredient may add one).
    assert intervention_id in found["gate"], (text, found)


free_text = st.lists(
    st.one_of(
        st.sampled_from([name for name, _ in LINKED_NAMES]),
        st.sampled_from(["mg", "oral", "vitamin", "acid", "oil", "extract", "complex", "plus"]),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz-0123456789 ", min_size=1, max_size=12),
    ),
    min_size=1,
    max_size=5,
).map(" ".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(free_text)
def test_anything_any_matcher_calls_an_intervention_the_safety_gate_classifies(text: str) -> None:
    kb = knowledge()
    fact = draft_fact(kb, draft_order(text))
    found = recognised(kb, fact)
    assert found["guidance"] <= found["gate"], (text, found)
    if found["guidance"]:
        assert fact.classified, text


codes = st.sampled_from(
    sorted(
        {
            ("rxnorm", cui)
            for i in knowledge().ingredients.values()
            if i.intervention
            for cui in i.rxnorm
        }
        | {
            ("local-supplement", code)
            for i in knowledge().ingredients.values()
            if i.intervention
            for code in i.supplement_codes
        }
        | {
            ("atc", atc)
            for i in knowledge().ingredients.values()
            if i.intervention
            for atc in i.atc
        }
    )
)


@settings(max_examples=150, deadline=None)
@given(codes, st.sampled_from(["Drug X", "", "Supplement"]))
def test_a_coded_product_is_recognised_whatever_its_display(
    coded: tuple[str, str], display: str
) -> None:
    kb = knowledge()
    system, code = coded
    concept: dict[str, Any] = {"coding": [{"system": kb.uri(system), "code": code}]}
    if display:
        concept["text"] = display
    resource = draft_order("placeholder")
    resource["medicationCodeableConcept"] = concept
    fact = draft_fact(kb, resource)
    found = recognised(kb, fact)
    assert found["gate"] and found["guidance"] == found["gate"] == found["table"], (coded, found)


@pytest.mark.parametrize("intervention_id", sorted(knowledge().interventions))
def test_the_services_own_suggestion_ordered_as_is_is_recognised_by_the_gate(
    kb: KnowledgeBase, intervention_id: str
) -> None:
    intervention = kb.interventions[intervention_id]
    suggestion = medication_request(kb, intervention, PATIENT_ID, "test")
    suggestion["id"] = "accepted-suggestion"
    fact = draft_fact(kb, suggestion)
    assert kb.base_intervention(intervention_id) in recognised(kb, fact)["gate"]
    # Recognised by its code alone too, with no text to fall back on.
    suggestion["medicationCodeableConcept"].pop("text")
    suggestion["medicationCodeableConcept"]["coding"][0].pop("display")
    assert (
        kb.base_intervention(intervention_id) in recognised(kb, draft_fact(kb, suggestion))["gate"]
    )


@pytest.mark.parametrize(
    ("text", "intervention_id"),
    [
        ("SAMe 400 mg tablet", "same"),  # the bypass: text only, usual product name
        ("SAM-e 200 mg", "same"),
        ("S-Adenosyl-L-Methionine 400 MG", "same"),
        ("Vitamin D 1000 IU softgel", "vitamin-d3"),
        ("Algal oil omega-3 500 mg", "omega-3-epa"),
        ("Krill oil 1000 mg", "omega-3-epa"),
        ("Glycerylphosphorylcholine 600 mg", "alpha-gpc"),
    ],
)
def test_text_only_products_the_guidance_used_to_know_alone(
    kb: KnowledgeBase, text: str, intervention_id: str
) -> None:
    fact = draft_fact(kb, draft_order(text))
    assert recognised(kb, fact)["gate"] == {intervention_id}, text


def test_statements_and_orders_read_with_the_same_table(kb: KnowledgeBase) -> None:
    snapshot = snapshot_of(
        kb,
        medication_statement("SAMe 400 mg"),
        active_order(None, "Algae oil omega-3 1 g"),
        active_order("9002", "Drug X"),
    )
    assert sorted(m.interventions for m in snapshot.medications) == [
        ("omega-3-epa",),
        ("same",),
        ("vitamin-b6",),
    ]
    assert RXNORM  # the factories' RxNorm system is the one the table uses
    assert kb.uri("rxnorm") == RXNORM
