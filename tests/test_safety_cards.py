"""Safety on patient-view and the pieces under it: the critical suicide-risk card first, the
monitoring prompts, C24 replacements rendered as "order this test", dose reading, drug and
condition classification, and the suite-wide safety net itself."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cds_service.cards.patient import patient_view_cards
from cds_service.engine.safety import gate
from cds_service.engine.types import Candidate, Finding, PathwayAssessment, Trace
from cds_service.knowledge import KnowledgeBase
from cds_service.pipeline import Evaluation
from cds_service.snapshot.classify import classify_condition, classify_drug
from cds_service.snapshot.reader import build_snapshot
from tests import safety_net
from tests.factories import (
    ICD10CM,
    PATIENT_ID,
    bundle,
    daily_dosage,
    draft_order,
    hook_request,
    medication_request,
    medication_statement,
    observation,
    patient,
    prefetch_for,
)
from tests.helpers import run_hook


def test_suicide_risk_card_comes_first_and_is_critical(kb: KnowledgeBase) -> None:
    prefetch = prefetch_for(
        observation("44260-8", 1, "{score}"), observation("2132-9", 150, "pg/mL")
    )
    cards = run_hook(kb, hook_request(prefetch=prefetch)).response["cards"]
    # The critical card alone: nothing else competes for the clinician's attention.
    [card] = cards
    assert card["indicator"] == "critical" and card["source"]["topic"]["code"] == "C20"
    assert card["summary"].startswith("PHQ-9 item 9 = 1: assess suicide risk today")
    assert "**Answer**: PHQ-9 item 9 = 1" in card["detail"]
    assert "suggestions" not in card


def test_no_suicide_card_when_item_9_is_zero(kb: KnowledgeBase) -> None:
    prefetch = prefetch_for(observation("44260-8", 0, "{score}"))
    cards = run_hook(kb, hook_request(prefetch=prefetch)).response["cards"]
    assert all(c["indicator"] != "critical" for c in cards)


def test_depletion_prompts_offer_the_test(kb: KnowledgeBase) -> None:
    metformin = medication_request(
        "860975", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet"
    )
    ppi = medication_request(
        "854868", "Rabeprazole sodium 20 MG Delayed Release Oral Tablet", days=400
    )
    cards = run_hook(kb, hook_request(prefetch=prefetch_for(metformin, ppi))).response["cards"]
    [card] = [c for c in cards if c["source"]["topic"]["code"] == "monitoring"]
    codes = {
        a["resource"]["code"]["coding"][0]["code"]
        for s in card["suggestions"]
        for a in s["actions"]
    }
    assert codes == {"2132-9", "19123-9"}  # B12 once (metformin and PPI), magnesium (PPI > 1 year)
    assert card["indicator"] == "info"
    # Near-miss: a current B12 and a recent PPI start -> no prompt.
    quiet = prefetch_for(
        metformin,
        medication_request("854868", "rabeprazole", days=30),
        observation("2132-9", 400, "pg/mL"),
    )
    cards = run_hook(kb, hook_request(prefetch=quiet)).response["cards"]
    assert not [c for c in cards if c["source"]["topic"]["code"] == "monitoring"]


def test_long_term_zinc_prompts_copper(kb: KnowledgeBase) -> None:
    zinc = medication_statement("Zinc gluconate 50 mg", days=60)
    cards = run_hook(kb, hook_request(prefetch=prefetch_for(zinc))).response["cards"]
    assert any("C23.duration" in c["detail"] for c in cards)
    recent = medication_statement("Zinc gluconate 50 mg", days=20)
    cards = run_hook(kb, hook_request(prefetch=prefetch_for(recent))).response["cards"]
    assert not any("C23.duration" in c["detail"] for c in cards)


def test_blocked_supplement_card_offers_the_replacement_test(kb: KnowledgeBase) -> None:
    snapshot = build_snapshot(
        kb, patient_id=PATIENT_ID, now=datetime.now(UTC), prefetch_values=[patient()]
    )
    rule = kb.rules[0]
    assessment = PathwayAssessment(
        kb.pathways["methylation"], "possible limitation", (Finding(rule, Trace()),), (), ()
    )
    decisions = gate(
        [Candidate("medication", "magnesium", "methylation", (rule.id,))], snapshot, kb
    )
    [card] = patient_view_cards([assessment], decisions, (), snapshot, kb)
    resources = [a.resource for s in card.card.suggestions or [] for a in s.actions or []]
    assert [r["resourceType"] for r in resources] == ["ServiceRequest"]
    assert resources[0]["code"]["coding"][0]["code"] == kb.lab_orders["egfr"].code.code
    assert "order eGFR first" in card.card.summary


@pytest.mark.parametrize(
    ("dosage", "name", "expected"),
    [
        (daily_dosage(1, "{pill}", 2), "Pyridoxine 50 MG Oral Tablet", (100, "mg", True)),
        (daily_dosage(0.5, "g"), "fish oil", (500, "mg", True)),
        (
            [{"doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}]}],
            "Pyridoxine 50 MG Oral Tablet",
            (50, "mg", False),
        ),
        (
            [
                {
                    "timing": {"code": {"coding": [{"code": "TID"}]}},
                    "doseQuantity": {"value": 400, "unit": "[iU]"},
                }
            ],
            "Vitamin E",
            (1200, "IU", True),
        ),
    ],
)
def test_daily_dose_is_read_from_the_dosage(
    kb: KnowledgeBase, dosage: list, name: str, expected: tuple
) -> None:
    order = draft_order(name)
    order["dosageInstruction"] = dosage
    snapshot = build_snapshot(
        kb,
        patient_id=PATIENT_ID,
        now=datetime.now(UTC),
        prefetch_values=[patient()],
        draft_orders=bundle(order),
    )
    [fact] = snapshot.drafts
    [dose] = fact.doses.values()
    assert (dose.amount, dose.unit, dose.per_day) == pytest.approx(expected)


def test_ambiguous_doses_stay_unknown_and_a_missing_quantity_is_a_lower_bound(
    kb: KnowledgeBase,
) -> None:
    order = draft_order("Fish oil 1200 MG (EPA 360 MG) capsule")
    order["dosageInstruction"] = daily_dosage(1, "{pill}")
    snapshot = build_snapshot(
        kb,
        patient_id=PATIENT_ID,
        now=datetime.now(UTC),
        prefetch_values=[patient()],
        draft_orders=bundle(order, draft_order("Pyridoxine 50 MG"), draft_order("Pyridoxine")),
    )
    ambiguous, strength_only, nothing = (dict(d.doses) for d in snapshot.drafts)
    assert ambiguous == {} and nothing == {}
    # No dosage at all: the printed strength is one administration, a lower bound; never exact.
    [dose] = strength_only.values()
    assert (dose.amount, dose.unit, dose.per_day, dose.units_assumed) == (50, "mg", False, True)
    assert not dose.exact and "one unit per dose assumed" in dose.text


def test_drug_classification_by_code_product_atc_and_name(kb: KnowledgeBase) -> None:
    rx = "http://www.nlm.nih.gov/research/umls/rxnorm"
    assert classify_drug(kb, [{"coding": [{"system": rx, "code": "36437"}]}]).ingredients == (
        "sertraline",
    )
    assert classify_drug(kb, [{"coding": [{"system": rx, "code": "861771"}]}]).ingredients == (
        "metformin",
        "sitagliptin",
    )
    atc = classify_drug(
        kb, [{"coding": [{"system": "http://www.whocc.no/atc", "code": "N06AB99"}]}]
    )
    # An ATC-only SSRI is an antidepressant too (issue 17: first-line treatment on record).
    assert atc.ingredients == () and set(atc.classes) == {"ssri", "serotonergic", "antidepressant"}
    assert classify_drug(kb, [{"text": "Sinemet 25/100"}]).ingredients == ("levodopa", "carbidopa")
    assert classify_drug(kb, [{"text": "Zinc oxide 20% ointment"}]).ingredients == ("zinc-oxide",)
    assert not classify_drug(kb, [{"text": "Zyxoprofen"}]).classified


def test_condition_classification_honours_codes_and_exclusions(kb: KnowledgeBase) -> None:
    snomed = "http://snomed.info/sct"
    assert classify_condition(kb, {"coding": [{"system": snomed, "code": "13746004"}]}) == (
        "bipolar",
    )
    assert classify_condition(kb, {"coding": [{"system": ICD10CM, "code": "O09.90"}]}) == (
        "pregnancy",
    )
    assert classify_condition(
        kb, {"text": "Bipolar I disorder, most recent episode depressed"}
    ) == ("bipolar",)
    assert classify_condition(kb, {"text": "Family history of bipolar disorder"}) == ()


def test_the_safety_net_catches_a_blocked_suggestion(kb: KnowledgeBase) -> None:
    # A response that (wrongly) suggests 5-HTP to a patient on phenelzine must be flagged.
    prefetch = prefetch_for(medication_request("8123", "phenelzine 15 MG"))
    result = run_hook(kb, hook_request(prefetch=prefetch))
    five_htp = kb.interventions["5-htp"]
    bad = {
        "cards": [
            {
                "summary": "bad",
                "suggestions": [
                    {
                        "actions": [
                            {
                                "type": "create",
                                "resource": {
                                    "resourceType": "MedicationRequest",
                                    "medicationCodeableConcept": {
                                        "coding": [
                                            {
                                                "system": kb.uri("rxnorm"),
                                                "code": five_htp.ingredient.code,
                                            }
                                        ]
                                    },
                                },
                            }
                        ]
                    }
                ],
            }
        ]
    }
    problems = safety_net.blocked_suggestions(Evaluation(bad, (), result.snapshot), kb)
    assert problems and "S1" in problems[0]
    assert safety_net.blocked_suggestions(result, kb) == []
