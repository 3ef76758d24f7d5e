"""The vitamin B12 rule family end to end: boundaries in both unit systems, cards, suggestions."""

from __future__ import annotations

import pytest

from cds_service.knowledge import KnowledgeBase
from tests.factories import RXNORM, hook_request, observation, patient, prefetch_for
from tests.helpers import cards_by_topic, run_hook, suggested_resources


def b12_response(
    kb: KnowledgeBase, value: float, unit: str, code: str = "2132-9", **patient_kw: object
) -> dict:
    prefetch = prefetch_for(observation(code, value, unit), patient_resource=patient(**patient_kw))  # type: ignore[arg-type]
    return run_hook(kb, hook_request(prefetch=prefetch)).response


@pytest.mark.parametrize(
    ("value", "unit", "code", "expected"),
    [
        (199.9, "pg/mL", "2132-9", "b12-deficient"),
        (200.0, "pg/mL", "2132-9", "b12-indeterminate"),
        (200.1, "pg/mL", "2132-9", "b12-indeterminate"),
        (300.0, "pg/mL", "2132-9", "b12-indeterminate"),
        (300.1, "pg/mL", "2132-9", None),
        (147.5, "pmol/L", "14685-2", "b12-deficient"),  # 199.86 pg/mL
        (147.6, "pmol/L", "14685-2", "b12-indeterminate"),  # 200.0 pg/mL
        (221.4, "pmol/L", "14685-2", "b12-indeterminate"),  # 300.0 pg/mL
        (221.5, "pmol/L", "14685-2", None),  # 300.14 pg/mL
        (0.2, "ng/mL", "2132-9", None),  # unit not convertible: not used
    ],
)
def test_b12_boundaries(
    kb: KnowledgeBase, value: float, unit: str, code: str, expected: str | None
) -> None:
    response = b12_response(kb, value, unit, code)
    methylation = cards_by_topic(response).get("methylation")
    if expected is None:
        assert methylation is None
    else:
        assert methylation is not None
        assert f"`{expected}`" in methylation["detail"]


def test_deficient_b12_suggests_oral_b12_as_a_draft_proposal(kb: KnowledgeBase) -> None:
    response = b12_response(kb, 150, "pg/mL")
    card = cards_by_topic(response)["methylation"]
    assert card["indicator"] == "info"
    assert card["selectionBehavior"] == "any"
    [resource] = suggested_resources(card)
    assert resource["resourceType"] == "MedicationRequest"
    assert (resource["status"], resource["intent"]) == ("draft", "proposal")
    coding = resource["medicationCodeableConcept"]["coding"][0]
    assert (
        coding["system"] == RXNORM
        and coding["code"] == kb.interventions["vitamin-b12-oral"].ingredient.code
    )
    assert (
        resource["dosageInstruction"][0]["text"] == kb.interventions["vitamin-b12-oral"].dose_text
    )
    # The clinician can verify the card alone: input, rule, threshold, grade, citation, version.
    detail = card["detail"]
    assert "B12 **150 pg/mL** on " in detail and "Vitamin B12 deficient" in detail
    assert "< 200 pg/mL" in detail
    assert "grade A" in detail
    assert "pubmed.ncbi.nlm.nih.gov/24942828" in detail
    assert f"Knowledge base {kb.version}" in detail
    # The adjunct boilerplate belongs to mood options only, not to a deficiency.
    assert "not FDA-approved" not in detail
    assert card["summary"] == "B12 150 pg/mL, deficient: consider oral B12 1,000 µg/day"
    assert response["extension"]["org.neurotransmitter-cds"]["knowledgeVersion"] == kb.version


def test_indeterminate_b12_suggests_methylmalonic_acid(kb: KnowledgeBase) -> None:
    card = cards_by_topic(b12_response(kb, 250, "pg/mL"))["methylation"]
    [resource] = suggested_resources(card)
    assert resource["resourceType"] == "ServiceRequest"
    assert resource["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "13964-2",
        "display": "Methylmalonate [Moles/volume] in Serum or Plasma",
    }


def test_indeterminate_b12_with_raised_mma_suggests_b12(kb: KnowledgeBase) -> None:
    prefetch = prefetch_for(
        observation("2132-9", 250, "pg/mL"), observation("13964-2", 0.55, "umol/L")
    )
    card = cards_by_topic(run_hook(kb, hook_request(prefetch=prefetch)).response)["methylation"]
    assert [r["resourceType"] for r in suggested_resources(card)] == ["MedicationRequest"]
    assert "b12-indeterminate-mma-raised" in card["detail"]


def test_adequate_b12_gives_no_card(kb: KnowledgeBase) -> None:
    assert b12_response(kb, 600, "pg/mL")["cards"] == []


def test_under_18_gets_no_card(kb: KnowledgeBase) -> None:
    # C1 is silent at patient-view: an adult-only service has nothing to show a minor's team.
    assert b12_response(kb, 150, "pg/mL", age=16)["cards"] == []


def test_unknown_age_is_treated_conservatively(kb: KnowledgeBase) -> None:
    assert b12_response(kb, 150, "pg/mL", age=None)["cards"] == []


def test_card_audit_lists_rules_and_suggestion_kinds(kb: KnowledgeBase) -> None:
    prefetch = prefetch_for(observation("2132-9", 150, "pg/mL"))
    result = run_hook(kb, hook_request(prefetch=prefetch))
    [audit] = result.cards
    assert audit.topic == "methylation"
    assert audit.rule_ids == ("b12-deficient",)
    assert [s.kind for s in audit.suggestions] == ["create:MedicationRequest"]
    # Each suggestion names the rule behind it: acceptance is reported per rule.
    assert [s.rule_ids for s in audit.suggestions] == [("b12-deficient",)]
    assert audit.uuid == result.response["cards"][0]["uuid"]
    minor = prefetch_for(observation("2132-9", 150, "pg/mL"), patient_resource=patient(age=16))
    assert run_hook(kb, hook_request(prefetch=minor)).cards == ()
