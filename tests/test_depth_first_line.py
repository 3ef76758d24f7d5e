"""Issue 17, first-line care before adjuncts (clinical-reference §7.5): PHQ-2 -> PHQ-9; no
first-line treatment recorded; L-methylfolate only with an antidepressant; isoniazid ->
pyridoxine prophylaxis. Each rule where it fires and its near miss."""

from __future__ import annotations

from typing import Any

from cds_service.knowledge import KnowledgeBase
from tests.depth_scenarios import SCENARIOS
from tests.helpers import card_with_rule, run_hook, suggested_resources

MOOD_ADJUNCTS = ("5-htp", "tryptophan", "tyrosine", "vitamin-c", "same", "omega-3-epa")


def respond(kb: KnowledgeBase, name: str) -> dict[str, Any]:
    return run_hook(kb, SCENARIOS[name]()).response


def resources(response: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for card in response["cards"] for r in suggested_resources(card)]


def codes(response: dict[str, Any]) -> set[str]:
    return {
        (r.get("medicationCodeableConcept") or r["code"])["coding"][0]["code"]
        for r in resources(response)
    }


def ingredient(kb: KnowledgeBase, *ids: str) -> set[str]:
    return {kb.interventions[i].ingredient.code for i in ids}


# -- PHQ-2 -> PHQ-9 --------------------------------------------------------------------------


def test_positive_phq2_suggests_a_phq9_and_nothing_else_for_mood(kb: KnowledgeBase) -> None:
    response = respond(kb, "phq2_positive_without_phq9")
    [request] = resources(response)
    assert request["resourceType"] == "ServiceRequest"
    assert request["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "44249-1",
        "display": kb.lab_orders["phq9"].code.display,
    }
    assert request["status"] == "draft" and request["intent"] == "proposal"
    assert "phq2-positive-needs-phq9" in response["cards"][0]["detail"]


def test_negative_phq2_suggests_nothing(kb: KnowledgeBase) -> None:
    assert respond(kb, "phq2_negative_near_miss")["cards"] == []


def test_positive_phq2_with_a_current_phq9_asks_for_no_phq9(kb: KnowledgeBase) -> None:
    response = respond(kb, "phq2_positive_with_a_phq9_near_miss")
    assert "44249-1" not in codes(response)
    assert not any("phq2-positive-needs-phq9" in c["detail"] for c in response["cards"])


# -- No first-line treatment recorded --------------------------------------------------------


def test_untreated_severe_depression_leads_with_first_line_care(kb: KnowledgeBase) -> None:
    response = respond(kb, "woman_40_phq9_21_untreated")
    first = response["cards"][0]
    assert first["indicator"] == "warning"
    assert first["summary"].startswith("PHQ-9 21, severe: no first-line treatment recorded")
    assert "psychotherapy not known to this service" in first["detail"]
    assert "NICE NG222" in first["detail"] and "Psychological Association 2019" in first["detail"]
    # No precursor, no mood adjunct anywhere: the options are not the answer.
    assert not ingredient(kb, *MOOD_ADJUNCTS, "l-methylfolate") & codes(response)
    # ... and the option cards do not each repeat it (F1 silences them).
    topics = [c["source"]["topic"]["code"] for c in response["cards"]]
    assert "inflammation" not in topics and "methylation" not in topics
    # A deficiency found is still shown and treated (iron with low-grade inflammation).
    assert ingredient(kb, "iron") <= codes(response)
    # The five cards with twelve suggestions are down to two cards.
    assert len(response["cards"]) <= 3
    assert sum(len(c.get("suggestions", [])) for c in response["cards"]) <= 2


def test_promis_depression_70_or_more_counts_as_more_severe(kb: KnowledgeBase) -> None:
    response = respond(kb, "promis_depression_72_untreated")
    assert "depression-no-first-line-treatment" in response["cards"][0]["detail"]
    assert not ingredient(kb, *MOOD_ADJUNCTS) & codes(response)


def test_phq9_16_on_sertraline_keeps_the_adjuncts_as_before(kb: KnowledgeBase) -> None:
    response = respond(kb, "phq9_16_on_sertraline_near_miss")
    assert not any("depression-no-first-line-treatment" in c["detail"] for c in response["cards"])
    suggested = codes(response)
    assert ingredient(kb, "omega-3-epa", "same", "l-methylfolate") <= suggested
    # As before: the serotonergic precursors are withheld on an SSRI (S3), SAMe is warned (S4).
    assert not ingredient(kb, "5-htp", "tryptophan") & suggested
    mood = card_with_rule(response, "same-adjunct-option")
    assert "S3" in mood["detail"]  # 5-HTP and L-tryptophan: not offered, and why
    assert mood["indicator"] == "warning" and "S4" in mood["summary"]


def test_phq9_14_without_treatment_keeps_the_options(kb: KnowledgeBase) -> None:
    response = respond(kb, "phq9_14_untreated_near_miss")
    assert not any("depression-no-first-line-treatment" in c["detail"] for c in response["cards"])
    # 5-HTP and L-tryptophan are one choice: 5-HTP's draft, L-tryptophan named in its label.
    assert ingredient(kb, "5-htp", "omega-3-epa", "same") <= codes(response)


# -- L-methylfolate --------------------------------------------------------------------------


def test_no_l_methylfolate_without_an_antidepressant(kb: KnowledgeBase) -> None:
    response = respond(kb, "phq9_12_without_antidepressant")
    assert not ingredient(kb, "l-methylfolate") & codes(response)
    assert ingredient(kb, "same") <= codes(response)  # the other adjuncts stand
    assert not any("methylfolate-adjunct-option" in c["detail"] for c in response["cards"])


def test_l_methylfolate_is_withheld_in_pregnancy_and_says_why(kb: KnowledgeBase) -> None:
    response = respond(kb, "pregnant_on_sertraline_phq9_16")
    assert not ingredient(kb, "l-methylfolate") & codes(response)
    detail = card_with_rule(response, "methylfolate-adjunct-option")["detail"]
    assert "Not offered: L-methylfolate" in detail or "not offered: L-methylfolate" in detail
    assert "C2.l-methylfolate" in detail


def test_l_methylfolate_is_withheld_in_bipolar_disorder(kb: KnowledgeBase) -> None:
    response = respond(kb, "bipolar_on_sertraline_phq9_16")
    assert not ingredient(kb, "l-methylfolate") & codes(response)
    assert "C4.l-methylfolate" in card_with_rule(response, "methylfolate-adjunct-option")["detail"]


# -- Isoniazid -------------------------------------------------------------------------------


def test_isoniazid_gets_pyridoxine_prophylaxis_not_a_plp_test(kb: KnowledgeBase) -> None:
    response = respond(kb, "isoniazid")
    [request] = resources(response)
    assert request["resourceType"] == "MedicationRequest"
    assert request["medicationCodeableConcept"]["coding"][0]["code"] == "9002"  # pyridoxine
    dose = request["dosageInstruction"][0]
    assert dose["maxDosePerPeriod"]["numerator"]["value"] == 25
    assert "isoniazid" in dose["text"] and "25-50 mg/day" in dose["text"]
    assert kb.lab_orders["plp"].code.code not in codes(response)
    assert not any("P.b6-antagonist" in c["detail"] for c in response["cards"])


def test_hydralazine_still_prompts_a_plp_test(kb: KnowledgeBase) -> None:
    response = respond(kb, "hydralazine_near_miss")
    assert codes(response) == {kb.lab_orders["plp"].code.code}
    assert "9002" not in codes(response)


def test_isoniazid_with_pyridoxine_already_taken_suggests_nothing(kb: KnowledgeBase) -> None:
    assert respond(kb, "isoniazid_already_on_pyridoxine")["cards"] == []


def test_the_first_line_finding_is_for_adults(kb: KnowledgeBase) -> None:
    from tests.factories import hook_request, observation, patient, prefetch_for

    prefetch = prefetch_for(
        observation("44261-6", 21, "{score}"), patient_resource=patient(age=16, gender="male")
    )
    response = run_hook(kb, hook_request(prefetch=prefetch)).response
    assert not any("depression-no-first-line-treatment" in c["detail"] for c in response["cards"])
    assert not any(
        r["resourceType"] == "MedicationRequest" for r in resources(response)
    )  # C1: nothing for a minor either way
