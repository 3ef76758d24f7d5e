"""What the verification pass changed: codes that were missing are now recognised, verified
items leave the reviewer's list, unverified ones stay on it, and the verification record
(docs/knowledge-verification.md) names every item it marked."""

from __future__ import annotations

import pytest

from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.check import unverified
from cds_service.settings import PROJECT_ROOT
from tests.factories import condition, medication_request
from tests.helpers import snapshot_of


@pytest.mark.parametrize(
    ("rxcui", "ingredient", "drug_class"),
    [
        ("67109", "dalteparin", "anticoagulant"),  # was uncoded: matched by name only
        ("321208", "fondaparinux", "anticoagulant"),  # was uncoded: matched by name only
        ("37418", "sumatriptan", "triptan"),
        ("88014", "rizatriptan", "triptan"),
    ],
)
def test_codes_added_or_confirmed_are_recognised_by_code_alone(
    kb: KnowledgeBase, rxcui: str, ingredient: str, drug_class: str
) -> None:
    resource = medication_request(rxcui, "Drug X")  # a display that names nothing
    resource["medicationCodeableConcept"].pop("text")
    (fact,) = snapshot_of(kb, resource).medications
    assert ingredient in fact.ingredients and drug_class in fact.classes


@pytest.mark.parametrize(
    ("code", "condition_class"),
    [
        ("431857002", "ckd-severe"),
        ("46177005", "ckd-severe"),
        ("433144002", "ckd-moderate"),
        ("399187006", "haemochromatosis"),
        ("49049000", "parkinsons"),
        ("91637004", "myasthenia-gravis"),
        ("6471006", "suicidal-ideation"),
        ("28293008", "bleeding-disorder"),
        ("7573000", "pku"),
        ("371089000", "serotonin-syndrome-history"),
    ],
)
def test_verified_snomed_codes_classify(kb: KnowledgeBase, code: str, condition_class: str) -> None:
    snapshot = snapshot_of(kb, condition(code, "Coded condition"))
    assert condition_class in snapshot.conditions[0].classes
    assert code in kb.condition_classes[condition_class].verified


def test_reviewer_list_drops_verified_items_and_keeps_the_rest(kb: KnowledgeBase) -> None:
    items = unverified(kb)
    # Verified in this pass: no longer listed.
    assert not any("snomed|49049000 " in i for i in items)
    assert not any("citation beers-2023 " in i for i in items)
    assert not any("citation inker-2021 " in i for i in items)
    assert not any("loinc|38483-4 " in i for i in items)
    assert not any("(ingredient oxybutynin)" in i for i in items)
    # Not verified: still listed, for conditions and medications too.
    assert "code snomed|25487003 (condition trimethylaminuria)" in items
    assert "code rxnorm|10811 (ingredient trihexyphenidyl)" in items
    assert "code rxnorm|10962 (tyrosine)" in items


def test_verification_record_names_every_item_marked_in_this_pass() -> None:
    record = (PROJECT_ROOT / "docs" / "knowledge-verification.md").read_text()
    for item in [
        "beers-2023", "inker-2021", "fioravanti-2005", "oxybutynin", "dalteparin", "49049000",
        "38483-4", "55757-9", "50190-8", "tyrosine", "7573000",
    ]:  # fmt: skip
        assert item in record, item
    assert "| Item | Status | Source |" in record


def test_every_verified_citation_is_locatable(kb: KnowledgeBase) -> None:
    for citation in kb.citations.values():
        if citation.verified:
            assert citation.pmid or citation.doi or citation.url, citation.id


@pytest.mark.parametrize(
    ("code", "wrong_class", "right_code"),
    [
        ("75084000", "mania", "231494001"),  # 75084000: severe major depression
        ("24079001", "eosinophilia-myalgia", "89155008"),  # 24079001: atopic dermatitis
    ],
)
def test_codes_found_to_name_another_concept_no_longer_classify(
    kb: KnowledgeBase, code: str, wrong_class: str, right_code: str
) -> None:
    wrong = snapshot_of(kb, condition(code, "Coded condition"))
    assert not any(wrong_class in c.classes for c in wrong.conditions)
    # The same resource with a code that does name the class still classifies.
    right = snapshot_of(kb, condition(right_code, "Coded condition"))
    assert wrong_class in right.conditions[0].classes


def test_rxcui_4450_is_no_longer_read_as_ergocalciferol(kb: KnowledgeBase) -> None:
    resource = medication_request("4450", "Drug X")  # 4450 is fluconazole in public tables
    resource["medicationCodeableConcept"].pop("text")
    (fact,) = snapshot_of(kb, resource).medications
    assert "ergocalciferol" not in fact.ingredients
    # The name and ATC fallbacks still recognise vitamin D2.
    (named,) = snapshot_of(
        kb, medication_request("99999999", "Ergocalciferol 50000 UNT")
    ).medications
    assert "ergocalciferol" in named.ingredients


@pytest.mark.parametrize(
    ("code", "condition_class"),
    [
        ("47200007", "pregnancy"),
        ("413712001", "lactation"),
        ("371596008", "bipolar"),
        ("33380008", "mania"),
        ("89155008", "eosinophilia-myalgia"),
        ("86715000", "thalassaemia-transfused"),
        ("302215000", "bleeding-disorder"),
    ],
)
def test_codes_verified_in_the_second_pass_classify(
    kb: KnowledgeBase, code: str, condition_class: str
) -> None:
    snapshot = snapshot_of(kb, condition(code, "Coded condition"))
    assert condition_class in snapshot.conditions[0].classes
    assert code in kb.condition_classes[condition_class].verified


def test_second_pass_drops_verified_items_and_corrects_refsum(kb: KnowledgeBase) -> None:
    items = unverified(kb)
    assert "code rxnorm|787390 (ingredient tapentadol)" not in items
    assert "citation livertox (" not in " ".join(items)
    assert not any("(ingredient ergocalciferol)" in i for i in items)  # code removed
    assert "code snomed|58264006 (condition eosinophilia-myalgia)" in items  # still open
    refsum = kb.citations["refsum-2004"]
    assert (refsum.pmid, refsum.doi) == ("14709635", "10.1373/clinchem.2003.021634")


def test_verification_record_names_the_second_pass_corrections() -> None:
    record = (PROJECT_ROOT / "docs" / "knowledge-verification.md").read_text()
    for item in ["75084000", "24079001", "4450", "refsum-2004", "787390", "livertox"]:
        assert item in record, item
    assert "## Second pass" in record
