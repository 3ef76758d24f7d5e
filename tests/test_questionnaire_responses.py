"""Questionnaire scores from QuestionnaireResponse when no total-score Observation exists."""

from __future__ import annotations

from cds_service.knowledge import KnowledgeBase
from tests.factories import (
    observation,
    phq9_answers,
    questionnaire_response,
)
from tests.helpers import snapshot_of


def test_phq9_total_is_the_sum_of_coded_items_and_item9_is_read(kb: KnowledgeBase) -> None:
    qr = questionnaire_response(phq9_answers([2, 2, 2, 2, 1, 1, 2, 1, 1]))
    snapshot = snapshot_of(kb, qr)
    assert snapshot.labs["phq9"].value == 14
    assert snapshot.labs["phq9"].band == "moderate"
    assert snapshot.labs["phq9"].resource_id == f"QuestionnaireResponse/{qr['id']}"
    assert "sum of 9 items" in snapshot.labs["phq9"].reported
    assert snapshot.labs["phq9-item9"].value == 1
    assert snapshot.labs["phq9-item9"].band == "any"
    # The first two PHQ-9 items are the PHQ-2.
    assert snapshot.labs["phq2"].value == 4
    assert snapshot.labs["phq2"].band == "positive"


def test_integer_answers_and_bare_link_ids(kb: KnowledgeBase) -> None:
    qr = questionnaire_response(
        phq9_answers([0, 0, 1, 0, 0, 0, 0, 0, 0]), coded=False, link_prefix="", questionnaire=None
    )
    snapshot = snapshot_of(kb, qr)
    assert snapshot.labs["phq9"].value == 1
    assert snapshot.labs["phq9-item9"].band == "none"


def test_total_item_wins_over_the_sum(kb: KnowledgeBase) -> None:
    qr = questionnaire_response(phq9_answers([0] * 9), total=21)
    assert snapshot_of(kb, qr).labs["phq9"].value == 21


def test_ordinal_value_extension_scores_a_local_answer_code(kb: KnowledgeBase) -> None:
    qr = questionnaire_response(phq9_answers([0] * 9))
    first = qr["item"][0]["item"][0]
    first["answer"] = [
        {
            "valueCoding": {
                "system": "urn:local",
                "code": "often",
                "extension": [
                    {
                        "url": "http://hl7.org/fhir/StructureDefinition/ordinalValue",
                        "valueDecimal": 3,
                    }
                ],
            }
        }
    ]
    assert snapshot_of(kb, qr).labs["phq9"].value == 3


def test_incomplete_response_gives_no_total_and_says_so(kb: KnowledgeBase) -> None:
    qr = questionnaire_response(phq9_answers([2, 2, 2, 2, None, 1, 2, 1, 0]))
    snapshot = snapshot_of(kb, qr)
    assert "phq9" not in snapshot.labs
    assert any("incomplete" in i.reason for i in snapshot.ignored)
    # Item 9 was answered: it is still read on its own.
    assert snapshot.labs["phq9-item9"].band == "none"


def test_unusable_responses_are_ignored_with_a_reason(kb: KnowledgeBase) -> None:
    in_progress = questionnaire_response(phq9_answers([3] * 9), status="in-progress")
    other = questionnaire_response(phq9_answers([3] * 9), patient_id="someone-else")
    future = questionnaire_response(phq9_answers([3] * 9), days=-5)
    undated = questionnaire_response(phq9_answers([3] * 9))
    del undated["authored"]
    snapshot = snapshot_of(kb, in_progress, other, future, undated)
    assert "phq9" not in snapshot.labs
    reasons = {i.reason for i in snapshot.ignored}
    assert {
        "status 'in-progress' is not completed",
        "a different patient",
        "dated in the future",
        "no date",
    } <= reasons


def test_a_total_observation_takes_precedence(kb: KnowledgeBase) -> None:
    qr = questionnaire_response(phq9_answers([3] * 9), days=1)
    snapshot = snapshot_of(kb, qr, observation("44261-6", 6, "{score}", days=20))
    assert snapshot.labs["phq9"].value == 6
    assert snapshot.labs["phq9"].resource_id.startswith("Observation/")


def test_a_stale_response_is_not_current(kb: KnowledgeBase) -> None:
    qr = questionnaire_response(phq9_answers([3] * 9), days=120)
    snapshot = snapshot_of(kb, qr)
    assert "phq9" not in snapshot.labs
    assert snapshot.stale_labs["phq9"].value == 27


def test_latest_response_wins(kb: KnowledgeBase) -> None:
    old = questionnaire_response(phq9_answers([3] * 9), days=40)
    new = questionnaire_response(phq9_answers([1] * 9), days=3)
    assert snapshot_of(kb, old, new).labs["phq9"].value == 9


def test_gad7_and_stu3_reference_to_the_questionnaire(kb: KnowledgeBase) -> None:
    items = ["69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"]
    qr = questionnaire_response(dict.fromkeys(items, 2), questionnaire=None)
    qr["questionnaire"] = {"reference": "http://loinc.org/q/69737-5|2.68"}
    snapshot = snapshot_of(kb, qr)
    assert snapshot.labs["gad7"].value == 14
    assert snapshot.labs["gad7"].band == "moderate"


def test_unrelated_questionnaire_is_not_scored(kb: KnowledgeBase) -> None:
    qr = questionnaire_response(
        {"12345-6": 3, "99999-9": 2}, questionnaire="http://example.org/q/x"
    )
    snapshot = snapshot_of(kb, qr)
    assert not any(m in snapshot.labs for m in ("phq9", "phq2", "gad7", "phq9-item9"))


def test_moca_total_from_its_total_item(kb: KnowledgeBase) -> None:
    qr = questionnaire_response(
        {}, questionnaire="http://loinc.org/q/72133-2", total=22, total_link_id="/72172-0"
    )
    snapshot = snapshot_of(kb, qr)
    assert snapshot.labs["moca"].value == 22
    assert snapshot.labs["moca"].band == "below-normal"
