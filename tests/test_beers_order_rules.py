"""Order-time AGS Beers Criteria 2023 rules (mappings/safety.yaml, section 5.3): a draft order of
a strongly anticholinergic drug (Beers Table 7) for a patient with dementia or cognitive
impairment (B1, Table 3), or for a patient 65 or older already on another one (B2, Table 5).
Warnings with override reasons, never blocks; near-misses stay quiet; patient-view unchanged."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cds_service.knowledge import KnowledgeBase
from cds_service.protocol.validate import check_response
from tests.factories import (
    ICD10CM,
    SERVICE_FOR_HOOK,
    condition,
    daily_dosage,
    draft_order,
    hook_request,
    medication_request,
    medication_statement,
    patient,
    prefetch_for,
)
from tests.helpers import card_rule_ids, run_hook

DEMENTIA = "B1.anticholinergic-dementia"
COMBINATION = "B2.anticholinergic-combination"
BEERS = (DEMENTIA, COMBINATION)

Res = dict[str, Any]


def oxybutynin_draft(resource_id: str = "d1", **kw: Any) -> Res:
    return draft_order(
        "oxybutynin chloride 5 MG Oral Tablet", "32675", resource_id=resource_id, **kw
    )


def dementia(**kw: Any) -> Res:
    return condition("52448006", "Dementia", **kw)


def evaluate(
    kb: KnowledgeBase,
    hook: str,
    drafts: list[Res],
    record: list[Res],
    *,
    age: int | None = 72,
    selections: list[str] | None = None,
) -> list[dict[str, Any]]:
    prefetch = prefetch_for(*record, patient_resource=patient(age=age, gender="female"))
    request = hook_request(hook, prefetch=prefetch, draft_orders=drafts, selections=selections)
    return run_hook(kb, request).response["cards"]  # run_hook validates the response


def rule_ids(cards: list[dict[str, Any]]) -> set[str]:
    """Every rule id a card shows as a finding (topic and the findings list)."""
    return card_rule_ids(cards)


def card_with(cards: list[dict[str, Any]], rule_id: str) -> dict[str, Any]:
    matching = [c for c in cards if rule_id in rule_ids([c])]
    assert len(matching) == 1, (rule_id, [c["summary"] for c in cards])
    return matching[0]


def finding_block(detail: str, rule_id: str) -> str:
    """The finding line of one rule (rule, grade, message, what it met, on one line)."""
    return next(line for line in detail.splitlines() if f"`{rule_id}`" in line and "- **" in line)


def inputs_line(detail: str) -> str:
    """The card's inputs: conditions, results and the age the rules read."""
    return next(line for line in detail.splitlines() if line.startswith("**Inputs**"))


# -- B1: dementia or cognitive impairment -------------------------------------------------------


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_anticholinergic_ordered_in_dementia_warns(kb: KnowledgeBase, hook: str) -> None:
    diagnosis = dementia()
    cards = evaluate(kb, hook, [oxybutynin_draft(dose=(1, "{pill}"))], [diagnosis], age=58)
    card = card_with(cards, DEMENTIA)
    assert card["indicator"] == "warning"  # a drug-disease caution, never critical
    assert card["summary"].startswith("oxybutynin chloride 5 MG Oral Tablet: ")
    detail = card["detail"]
    assert "**Order**: oxybutynin chloride 5 MG Oral Tablet (MedicationRequest/d1)" in detail
    finding = finding_block(detail, DEMENTIA)
    assert "grade B" in finding
    assert "quality of evidence moderate, recommendation strong" in finding
    assert "AGS Beers 2023 advises avoiding" in finding  # the rule, in one sentence
    assert f"Dementia (Condition/{diagnosis['id']})" in inputs_line(detail)
    assert "doi:10.1111/jgs.18372" in detail and "PMID 37139824" in detail
    assert card["source"]["url"] == kb.citations["beers-2023"].link
    # Overridable with a recorded reason; no delete (not a block), nothing suggested.
    reasons = card["overrideReasons"]
    assert reasons and all(r["display"] and r["code"] for r in reasons)
    assert not card.get("suggestions")
    assert COMBINATION not in rule_ids(cards)  # under 65 and no second drug


DEMENTIA_NEAR_MISSES = [
    ("no-dementia", oxybutynin_draft(), []),
    (
        "not-anticholinergic",
        draft_order("Sertraline 50 MG Oral Tablet", "312938", resource_id="d1"),
        [dementia()],
    ),
    ("refuted", oxybutynin_draft(), [dementia(verification="refuted")]),
    ("entered-in-error", oxybutynin_draft(), [dementia(verification="entered-in-error")]),
    (
        "doxepin-3-mg-a-day",
        draft_order("doxepin 3 MG Oral Tablet", "3638", resource_id="d1", dose=(3, "mg")),
        [dementia()],
    ),
    (
        "doxepin-6-mg-a-day",
        draft_order("doxepin 6 MG Oral Tablet", "3638", resource_id="d1", dose=(1, "{pill}")),
        [dementia()],
    ),
    (
        "family-history-only",
        oxybutynin_draft(),
        [condition("Z82.0", "Family history of dementia", system=ICD10CM)],
    ),
]


@pytest.mark.parametrize(
    ("case", "draft", "record"), DEMENTIA_NEAR_MISSES, ids=[c[0] for c in DEMENTIA_NEAR_MISSES]
)
def test_dementia_rule_near_misses(kb: KnowledgeBase, case: str, draft: Res, record: list) -> None:
    cards = evaluate(kb, "order-sign", [draft], record, age=58)
    assert DEMENTIA not in rule_ids(cards), [c["summary"] for c in cards]


@pytest.mark.parametrize(
    ("draft", "dose_text"),
    [
        (draft_order("doxepin 10 MG Oral Capsule", "3638", resource_id="d1", dose=(1, "{pill}")), "10 mg/day"),
        (draft_order("doxepin 25 mg", "3638", resource_id="d1", dose=(25, "mg")), "25 mg/day"),
        (draft_order("doxepin", "3638", resource_id="d1"), "not stated"),
    ],
    ids=["10-mg-capsule", "25-mg", "dose-unknown"],
)  # fmt: skip
def test_doxepin_above_6_mg_or_unknown_dose_counts(
    kb: KnowledgeBase, draft: Res, dose_text: str
) -> None:
    card = card_with(evaluate(kb, "order-sign", [draft], [dementia()]), DEMENTIA)
    assert dose_text in card["detail"].split("\n", 1)[0]  # the draft line shows the dose read


@pytest.mark.parametrize(
    ("clinical", "verification", "fires"),
    [
        ("resolved", "confirmed", True),  # lifelong class (counts_when_resolved in conditions.yaml)
        ("inactive", "confirmed", True),
        ("active", "provisional", True),  # only refuted / entered-in-error are ignored
        ("resolved", "refuted", False),
    ],
)
def test_recorded_status_as_conditions_yaml_defines(
    kb: KnowledgeBase, clinical: str, verification: str, fires: bool
) -> None:
    assert kb.condition_classes["cognitive-impairment"].counts_when_resolved
    record = [dementia(clinical=clinical, verification=verification)]
    cards = evaluate(kb, "order-sign", [oxybutynin_draft()], record)
    assert (DEMENTIA in rule_ids(cards)) is fires


@pytest.mark.parametrize(
    ("code", "display", "system"),
    [
        ("26929004", "Alzheimer's disease", None),
        ("386805003", "Mild cognitive disorder", None),
        ("G30.9", "Alzheimer's disease, unspecified", ICD10CM),
        ("F01.50", "Vascular dementia without behavioral disturbance", ICD10CM),
    ],
)
def test_each_kind_of_dementia_record_counts(
    kb: KnowledgeBase, code: str, display: str, system: str | None
) -> None:
    record = condition(code, display, **({"system": system} if system else {}))
    cards = evaluate(kb, "order-sign", [oxybutynin_draft()], [record], age=58)
    assert f"{display} (Condition/{record['id']})" in inputs_line(
        card_with(cards, DEMENTIA)["detail"]
    )


def test_order_select_reports_only_the_selected_draft(kb: KnowledgeBase) -> None:
    drafts = [
        oxybutynin_draft("d1"),
        draft_order("amlodipine 5 MG Oral Tablet", "197361", resource_id="d2"),
    ]
    other = evaluate(kb, "order-select", drafts, [dementia()], selections=["MedicationRequest/d2"])
    assert not set(BEERS) & rule_ids(other), [c["summary"] for c in other]
    chosen = evaluate(kb, "order-select", drafts, [dementia()], selections=["MedicationRequest/d1"])
    assert "MedicationRequest/d1" in card_with(chosen, DEMENTIA)["detail"]


def test_a_current_anticholinergic_alone_is_not_an_order_finding(kb: KnowledgeBase) -> None:
    """Current use is the patient-view pathway card's business, not the order being signed."""
    record = [dementia(), medication_request("32675", "oxybutynin chloride 5 MG Oral Tablet")]
    cards = evaluate(kb, "order-sign", [draft_order("amlodipine 5 MG", "197361")], record)
    assert not set(BEERS) & rule_ids(cards)


# -- B2: a second strong anticholinergic at 65 or older -----------------------------------------


def test_second_anticholinergic_at_65_warns_naming_the_current_drug(kb: KnowledgeBase) -> None:
    current = medication_statement("diphenhydramine 25 MG Oral Capsule", "3498")
    draft = draft_order("Amitriptyline 25 MG Oral Tablet", "704", resource_id="d1")
    cards = evaluate(kb, "order-sign", [draft], [current], age=65)
    card = card_with(cards, COMBINATION)
    assert card["indicator"] == "warning" and card["overrideReasons"]
    assert not card.get("suggestions")
    assert card["summary"].startswith("Amitriptyline 25 MG Oral Tablet: ")
    finding = finding_block(card["detail"], COMBINATION)
    # The finding is about the draft; the current drug is what it meets.
    assert (
        f"With: diphenhydramine 25 MG Oral Capsule (MedicationStatement/{current['id']}, since "
        in finding
    )
    assert "age 65 years" in inputs_line(card["detail"])
    assert "grade B" in finding and "quality of evidence moderate" in finding
    assert DEMENTIA not in rule_ids(cards)  # no dementia on record


COMBINATION_NEAR_MISSES = [
        ("aged-64", [medication_request("3498", "diphenhydramine 25 MG")], 64),
        ("age-unknown", [medication_request("3498", "diphenhydramine 25 MG")], None),
        ("no-other-drug", [], 80),
        (
            "other-drug-stopped",
            [medication_request("3498", "diphenhydramine 25 MG", status="stopped", days=3)],
            80,
        ),
        (
            "other-drug-entered-in-error",
            [medication_request("3498", "diphenhydramine 25 MG", status="entered-in-error")],
            80,
        ),
        (
            "other-is-doxepin-3-mg",
            [medication_statement("doxepin 3 MG Oral Tablet", "3638", dosage=daily_dosage(3, "mg"))],
            80,
        ),
        ("same-drug-already-taken", [medication_request("32675", "oxybutynin 5 MG")], 80),
        ("other-not-anticholinergic", [medication_request("36437", "sertraline 50 MG")], 80),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "record", "age"),
    COMBINATION_NEAR_MISSES,
    ids=[c[0] for c in COMBINATION_NEAR_MISSES],
)
def test_combination_rule_near_misses(
    kb: KnowledgeBase, case: str, record: list[Res], age: int | None
) -> None:
    cards = evaluate(kb, "order-sign", [oxybutynin_draft()], record, age=age)
    assert COMBINATION not in rule_ids(cards), [c["summary"] for c in cards]


def test_two_anticholinergic_drafts_are_checked_against_each_other(kb: KnowledgeBase) -> None:
    drafts = [
        oxybutynin_draft("d1"),
        draft_order("hydroxyzine hydrochloride 25 MG Oral Tablet", "5553", resource_id="d2"),
    ]
    cards = evaluate(kb, "order-sign", drafts, [], age=78)
    combination = [c for c in cards if COMBINATION in rule_ids([c])]
    assert len(combination) == 2  # one per draft order, each naming the other
    by_draft = {c["detail"].split("(", 1)[1].split(")", 1)[0]: c for c in combination}
    assert set(by_draft) == {"MedicationRequest/d1", "MedicationRequest/d2"}
    assert "With: hydroxyzine" in by_draft["MedicationRequest/d1"]["detail"]
    assert "With: oxybutynin" in by_draft["MedicationRequest/d2"]["detail"]
    # order-select on one of them reports that one only.
    selected = evaluate(kb, "order-select", drafts, [], age=78, selections=["MedicationRequest/d2"])
    assert [c["detail"].split("(", 1)[1].split(")", 1)[0] for c in selected] == [
        "MedicationRequest/d2"
    ]


def test_dementia_and_combination_share_one_card(kb: KnowledgeBase) -> None:
    record = [dementia(), medication_request("3498", "diphenhydramine 25 MG Oral Capsule")]
    cards = evaluate(kb, "order-sign", [oxybutynin_draft()], record, age=81)
    [card] = [c for c in cards if set(BEERS) & rule_ids([c])]
    assert set(BEERS) <= rule_ids([card]) and card["indicator"] == "warning"


# -- Patient-view is not affected ---------------------------------------------------------------


def test_patient_view_does_not_repeat_the_order_rules(kb: KnowledgeBase) -> None:
    record = [
        dementia(),
        medication_request("32675", "oxybutynin chloride 5 MG Oral Tablet"),
        medication_request("3498", "diphenhydramine 25 MG Oral Capsule"),
    ]
    prefetch = prefetch_for(*record, patient_resource=patient(age=80, gender="female"))
    response = run_hook(kb, hook_request(prefetch=prefetch)).response
    assert not any(r in str(response) for r in BEERS)
    # The cholinergic pathway card still speaks about current use, as before.
    assert any(c["source"]["topic"]["code"] == "cholinergic" for c in response["cards"])
    assert all(k.scope == ["orders"] for k in kb.safety_rules if k.id in BEERS)


# -- Through the HTTP API (uvicorn on 127.0.0.1) --------------------------------------------------


@pytest.mark.parametrize("dstu2", [False, True], ids=["r4", "dstu2"])
def test_order_sign_over_http(client: httpx.Client, dstu2: bool) -> None:
    rid = "order-7" if dstu2 else "request-7"
    draft = draft_order(
        "Benztropine Mesylate 1 MG Oral Tablet", "1424", resource_id=rid, dstu2=dstu2
    )
    record = [
        condition("F03.90", "Unspecified dementia without behavioral disturbance", system=ICD10CM),
        medication_request("32675", "oxybutynin chloride 5 MG Oral Tablet"),
    ]

    def sign(age: int, conditions: bool) -> list[dict[str, Any]]:
        resources = record if conditions else record[1:]
        prefetch = prefetch_for(*resources, patient_resource=patient(age=age, gender="male"))
        request = hook_request("order-sign", prefetch=prefetch, draft_orders=[draft])
        response = client.post(f"/cds-services/{SERVICE_FOR_HOOK['order-sign']}", json=request)
        assert response.status_code == 200, response.text
        body = response.json()
        assert check_response(body) == []
        return body["cards"]

    cards = sign(70, conditions=True)
    [card] = [c for c in cards if set(BEERS) & rule_ids([c])]
    assert set(BEERS) <= rule_ids([card])
    assert card["indicator"] == "warning" and card["overrideReasons"]
    assert f"({draft['resourceType']}/{rid})" in card["detail"]
    assert "Unspecified dementia without behavioral disturbance (Condition/" in card["detail"]
    assert "With: oxybutynin chloride 5 MG Oral Tablet (MedicationRequest/" in card["detail"]
    quiet = sign(50, conditions=False)
    assert not set(BEERS) & rule_ids(quiet), [c["summary"] for c in quiet]
