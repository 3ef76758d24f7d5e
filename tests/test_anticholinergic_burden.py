"""Anticholinergic drug burden on the cholinergic pathway (AGS Beers Criteria 2023, Table 7):
which drugs count, when the finding fires (a low cognitive screen or age 65+, active use
only), its near-misses, and what the card says and suggests."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.knowledge import KnowledgeBase
from tests.factories import (
    daily_dosage,
    hook_request,
    medication_request,
    medication_statement,
    observation,
    patient,
    prefetch_for,
)
from tests.helpers import (
    card_with_rule,
    cards_by_topic,
    fired_rules,
    group_of,
    run_hook,
    snapshot_of,
)

RULE = "cholinergic-anticholinergic-burden"
CLASS = "strong-anticholinergic"
ATC = "http://www.whocc.no/atc"

# AGS Beers Criteria 2023, Table 7 "Drugs with strong anticholinergic properties", less
# atropine and homatropine (left out: mostly ophthalmic or sub-therapeutic combination doses,
# see docs/knowledge-verification.md). Doxepin counts only above 6 mg/day (tested below).
BEERS_TABLE_7 = [
    "amitriptyline", "amoxapine", "clomipramine", "desipramine", "imipramine", "nortriptyline",
    "paroxetine", "prochlorperazine", "promethazine", "brompheniramine", "chlorpheniramine",
    "cyproheptadine", "dimenhydrinate", "diphenhydramine", "doxylamine", "hydroxyzine",
    "meclizine", "triprolidine", "darifenacin", "fesoterodine", "flavoxate", "oxybutynin",
    "solifenacin", "tolterodine", "trospium", "benztropine", "trihexyphenidyl",
    "chlorpromazine", "clozapine", "olanzapine", "perphenazine", "clidinium", "dicyclomine",
    "hyoscyamine", "scopolamine", "cyclobenzaprine", "orphenadrine",
]  # fmt: skip

Res = dict[str, Any]


def oxybutynin(**kw: Any) -> Res:
    return medication_request("32675", "oxybutynin chloride 5 MG Oral Tablet", **kw)


def moca(score: float) -> Res:
    return observation("72172-0", score, "{score}")


def mmse(score: float) -> Res:
    return observation("72106-8", score, "{score}")


def fires(kb: KnowledgeBase, *resources: Res, age: int | None = 50) -> bool:
    return RULE in fired_rules(kb, *resources, patient_resource=patient(age=age, gender="male"))


@pytest.mark.parametrize("drug", BEERS_TABLE_7)
def test_every_beers_table_7_drug_is_recognised_by_name(kb: KnowledgeBase, drug: str) -> None:
    snapshot = snapshot_of(kb, medication_request(None, f"{drug} oral tablet"))
    (fact,) = snapshot.medications
    assert fact.classified and CLASS in fact.classes, (drug, fact.classes)


@pytest.mark.parametrize(
    ("coding", "display"),
    [
        ({"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "32675"}, "Drug A"),
        ({"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "3498"}, "Drug B"),
        ({"system": ATC, "code": "G04BD08"}, "Drug C"),  # solifenacin by ATC
        ({"system": ATC, "code": "N04AC01"}, "Drug D"),  # benztropine by ATC
    ],
)
def test_recognised_by_code_without_a_name(
    kb: KnowledgeBase, coding: dict[str, str], display: str
) -> None:
    resource = medication_request(None, display)
    resource["medicationCodeableConcept"] = {"coding": [coding]}
    (fact,) = snapshot_of(kb, resource).medications
    assert CLASS in fact.classes


@pytest.mark.parametrize(
    ("resources", "age", "expected"),
    [
        ([oxybutynin(), moca(25)], 50, True),  # MoCA at the cut-off
        ([oxybutynin(), moca(26)], 50, False),  # just above, under 65
        ([oxybutynin(), mmse(23)], 50, True),
        ([oxybutynin(), mmse(24)], 50, False),
        ([oxybutynin()], 65, True),  # age alone, at the boundary
        ([oxybutynin()], 64, False),  # just under, no cognitive screen
        ([oxybutynin(), moca(26)], 65, True),  # normal screen, but 65 or over
        ([oxybutynin()], None, False),  # age unknown and no screen: not assumed old
        ([moca(20)], 80, False),  # no anticholinergic drug
        ([oxybutynin(status="stopped", days=2), moca(20)], 80, False),  # active use only
        ([oxybutynin(status="entered-in-error"), moca(20)], 80, False),
        ([medication_request("36437", "sertraline 50 MG Oral Tablet"), moca(20)], 80, False),
        ([medication_statement("Benadryl 25 mg at night"), moca(20)], 50, True),  # brand, uncoded
        (
            [medication_statement("scopolamine butylbromide 10 mg"), moca(20)],
            80,
            False,
        ),  # not Beers
    ],
)
def test_fires_and_near_misses(
    kb: KnowledgeBase, resources: list[Res], age: int | None, expected: bool
) -> None:
    assert fires(kb, *resources, age=age) is expected


@pytest.mark.parametrize(
    ("dose_mg", "expected"),
    [(3, False), (6, False), (6.5, True), (25, True), (None, True)],  # unknown dose: counts
)
def test_doxepin_counts_only_above_6_mg_a_day(
    kb: KnowledgeBase, dose_mg: float | None, expected: bool
) -> None:
    statement = medication_statement("doxepin", "3638")
    if dose_mg is not None:
        statement["dosage"] = daily_dosage(dose_mg, "mg")
    (fact,) = snapshot_of(kb, statement).medications
    assert (CLASS in fact.classes) is expected
    assert "tca" in fact.classes  # the unconditional classes never depend on the dose
    assert fires(kb, statement, moca(20)) is expected


def test_doxepin_dose_read_from_the_product_strength(kb: KnowledgeBase) -> None:
    tablet = medication_statement(
        "doxepin 3 MG Oral Tablet",
        dosage=[{"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                 "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}]}],
    )  # fmt: skip
    (fact,) = snapshot_of(kb, tablet).medications
    assert "doxepin" in fact.ingredients and CLASS not in fact.classes


def test_card_shows_the_doxepin_dose_that_decided(kb: KnowledgeBase) -> None:
    known = medication_statement("doxepin", "3638", dosage=daily_dosage(25, "mg"))
    assert "doxepin (MedicationStatement/" in card_for(kb, known)["detail"]
    assert "; dose 25 mg/day)" in card_for(kb, known)["detail"]
    unknown = medication_statement("doxepin", "3638")
    assert "; dose unknown: counted)" in card_for(kb, unknown)["detail"]


def card_for(kb: KnowledgeBase, *resources: Res, age: int = 72) -> dict[str, Any]:
    request = hook_request(
        prefetch=prefetch_for(*resources, patient_resource=patient(age=age, gender="female"))
    )
    return card_with_rule(run_hook(kb, request).response, RULE)


def test_card_names_the_drugs_and_suggests_no_supplement_for_them(kb: KnowledgeBase) -> None:
    diphenhydramine = medication_statement("diphenhydramine 25 MG Oral Capsule", "3498")
    card = card_for(kb, oxybutynin(), diphenhydramine)
    assert card["summary"].endswith("consider a medication review")
    assert "oxybutynin" in card["summary"] and "diphenhydramine" in card["summary"]
    assert group_of(card) == "medication review"
    detail = card["detail"]
    assert f"`{RULE}`, grade B" in detail
    assert "oxybutynin chloride 5 MG Oral Tablet (MedicationRequest/" in detail
    assert (
        f"diphenhydramine 25 MG Oral Capsule (MedicationStatement/{diphenhydramine['id']})"
        in detail
    )
    assert "Age 72" in detail
    assert "AGS Beers Criteria 2023" in detail and kb.citations["beers-2023"].link in detail
    # Age alone (no cognitive screen): no supplement at all on the card, and no warning.
    assert not card.get("suggestions")
    assert card["indicator"] == "info"
    assert "Not checked (not recognised)" not in detail


def test_choline_sources_stay_behind_their_own_rule(kb: KnowledgeBase) -> None:
    request = hook_request(
        prefetch=prefetch_for(
            oxybutynin(), moca(22), observation("2132-9", 500, "pg/mL"),
            observation("3016-3", 2.0, "mIU/L"), patient_resource=patient(age=72, gender="female"),
        )
    )  # fmt: skip
    response = run_hook(kb, request).response
    review = card_with_rule(response, RULE)
    options = card_with_rule(response, "cholinergic-cognition-option")
    assert review is not options and not review.get("suggestions")
    # The medication review comes first; the choline option keeps its own card and rule.
    assert response["cards"].index(review) < response["cards"].index(options)
    labels = [s["label"] for s in options["suggestions"]]
    assert any("citicoline" in label for label in labels)


def test_no_card_below_65_with_a_normal_screen(kb: KnowledgeBase) -> None:
    request = hook_request(
        prefetch=prefetch_for(oxybutynin(), moca(28), patient_resource=patient(age=50))
    )
    assert "cholinergic" not in cards_by_topic(run_hook(kb, request).response)
