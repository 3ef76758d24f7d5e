"""Issue 17, suicide risk: also from a suicide attempt on record (ICD-10-CM T14.91XA/XD/XS
current; Z91.51 or Z91.5 history with depressive symptoms) and from a C-SSRS screener; the
critical card states the answer that fired and what to do, with suicide-risk management
sources first. C20 as before: critical card first, no supplement suggestions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cds_service.knowledge import KnowledgeBase
from cds_service.snapshot.reader import build_snapshot
from tests.depth_scenarios import NO, SCENARIOS, YES
from tests.factories import coded_observation, observation, patient, prefetch_for
from tests.helpers import run_hook, suggested_resources

FIRES = [
    ("phq9_item9_positive", "PHQ-9 item 9 = 2"),
    ("prior_attempt_with_depressive_symptoms", "Prior suicide attempt or self-harm on record"),
    ("current_suicide_attempt", "Suicide attempt on record"),
    ("resolved_attempt_with_depression_on_record", "Prior suicide attempt or self-harm on record"),
    ("cssrs_suicidal_thoughts_yes", "C-SSRS: wish to be dead = yes"),
    ("cssrs_recent_behaviour_yes", "C-SSRS: recent suicidal behaviour = yes"),
    (
        "cssrs_lifetime_behaviour_with_phq2_positive",
        "C-SSRS: suicidal behaviour = yes",
    ),
]
NEAR_MISSES = [
    "prior_attempt_without_mood_data_near_miss",
    "cssrs_all_no_near_miss",
    "cssrs_lifetime_behaviour_alone_near_miss",
]


def respond(kb: KnowledgeBase, name: str) -> dict[str, Any]:
    return run_hook(kb, SCENARIOS[name]()).response


@pytest.mark.parametrize(("name", "answer"), FIRES)
def test_the_critical_card_states_the_answer_and_the_action(
    kb: KnowledgeBase, name: str, answer: str
) -> None:
    response = respond(kb, name)
    card = response["cards"][0]
    assert card["indicator"] == "critical" and card["source"]["topic"]["code"] == "C20"
    assert card["summary"].startswith(f"{answer}: assess suicide risk today")
    assert len(card["summary"]) <= 140 and "…" not in card["summary"]
    detail = card["detail"]
    assert f"**Answer**: {answer}" in detail
    assert "do not leave the patient alone" in detail and "safety plan" in detail
    assert "988" in detail
    # The card's source is a suicide-risk management source, not a questionnaire-validity paper.
    assert card["source"]["url"] == kb.citations["nimh-asq-pathway"].link
    # As before: no supplement is suggested anywhere in the response.
    assert not any(
        r["resourceType"] == "MedicationRequest"
        for c in response["cards"]
        for r in suggested_resources(c)
    )


@pytest.mark.parametrize("name", NEAR_MISSES)
def test_no_critical_card_for_the_near_misses(kb: KnowledgeBase, name: str) -> None:
    response = respond(kb, name)
    assert all(c["indicator"] != "critical" for c in response["cards"])


def test_a_remote_attempt_alone_does_not_withhold_b12(kb: KnowledgeBase) -> None:
    response = respond(kb, "prior_attempt_without_mood_data_near_miss")
    codes = {
        r["medicationCodeableConcept"]["coding"][0]["code"]
        for c in response["cards"]
        for r in suggested_resources(c)
        if r["resourceType"] == "MedicationRequest"
    }
    assert kb.interventions["vitamin-b12-oral"].ingredient.code in codes


def test_the_card_lists_only_the_inputs_of_what_fired(kb: KnowledgeBase) -> None:
    detail = respond(kb, "current_suicide_attempt")["cards"][0]["detail"]
    assert "Condition: Suicide attempt, initial encounter (Condition/" in detail
    assert "PHQ-9 item 9" not in detail  # not read: not listed as missing


def test_c_ssrs_items_read_from_observations_coded_text_or_boolean(kb: KnowledgeBase) -> None:
    def labs(*resources: dict[str, Any]):
        prefetch = prefetch_for(*resources, patient_resource=patient())
        return build_snapshot(
            kb, patient_id="pat-1", now=datetime.now(UTC), prefetch_values=prefetch.values()
        ).labs

    coded = labs(coded_observation("93247-5", YES))["cssrs-suicidal-thoughts"]
    assert (coded.band, coded.value) == ("yes", 1.0)
    assert labs(coded_observation("93247-5", NO))["cssrs-suicidal-thoughts"].band == "no"
    text = observation("93246-7", None, None, valueString="Yes")
    assert labs(text)["cssrs-wish-dead"].band == "yes"
    boolean = observation("93269-9", None, None, valueBoolean=False)
    assert labs(boolean)["cssrs-behaviour-3-months"].band == "no"


def test_coded_phq9_item9_answers_keep_their_score(kb: KnowledgeBase) -> None:
    prefetch = prefetch_for(coded_observation("44260-8", "LA6570-1"), patient_resource=patient())
    response = run_hook(kb, {**SCENARIOS["phq9_item9_positive"](), "prefetch": prefetch}).response
    assert response["cards"][0]["summary"].startswith("PHQ-9 item 9 = 2: ")


def test_every_answer_c20_can_state_fits_the_summary(kb: KnowledgeBase) -> None:
    """The summary is the answer then the rule's action; none may be cut (140 characters)."""
    from cds_service.knowledge.references import walk
    from cds_service.knowledge.schema import ConditionPredicate, LabPredicate

    [c20] = [r for r in kb.safety_rules if r.id == "C20"]
    assert c20.advice is not None
    answers = [
        f"{kb.condition_classes[n.condition].name} on record"
        for n in walk(c20.trigger)
        if isinstance(n, ConditionPredicate)
    ]
    answers += [
        f"{kb.measures[n.lab].name.split(' (')[0]} = {'yes' if 'cssrs' in n.lab else '3'}"
        for n in walk(c20.trigger)
        if isinstance(n, LabPredicate)
    ]
    assert answers
    for answer in answers:
        assert len(f"{answer}: {c20.advice}") < 140, answer
