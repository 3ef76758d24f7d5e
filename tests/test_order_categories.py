"""Order checks by Leapfrog CPOE category (issue 16; clinical-reference §7), through the HTTP API.

For every category: an order that must alert, a near miss that must not (a limit just under, an
allergy refuted, a statement stopped 3 months ago, TSH 0.3...) and a nuisance control (an
appropriate order gets no card above ``info``), each as an R4 MedicationRequest and a DSTU2
MedicationOrder draft, at order-select and order-sign, on the service under uvicorn. Then the
three cases the issue names, the corrective actions, allergies that cannot be had, and the card
budget on every scenario here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from cds_service.knowledge import KnowledgeBase
from cds_service.protocol.validate import check_response
from tests.factories import (
    ICD10CM,
    PATIENT_ID,
    SERVICE_FOR_HOOK,
    allergy,
    condition,
    days_ago,
    draft_order,
    hook_request,
    medication_request,
    medication_statement,
    observation,
    patient,
    prefetch_for,
)
from tests.helpers import card_rule_ids
from tests.servers import FhirServer

Res = dict[str, Any]
HL7_REASONS = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"
RANK = {"critical": 0, "warning": 1, "info": 2}

# Labs that keep the missing-data rules (C24) quiet unless a case wants them.
BASE = [
    lambda: observation("98979-8", 90, "mL/min/{1.73_m2}", days=20),
    lambda: observation("2132-9", 500, "pg/mL", days=20),
    lambda: observation("30522-7", 1, "mg/L", days=20),
]


def dosage(value: float, unit: str, *, per: int = 1, period_unit: str = "d", dstu2: bool) -> Res:
    """One dose of ``value unit``, once per ``per period_unit`` (R4 or DSTU2 shape)."""
    timing = {"repeat": {"frequency": 1, "period": per, "periodUnit": period_unit}}
    quantity = {"value": value, "unit": unit}
    if dstu2:
        return {"timing": timing, "doseQuantity": quantity}
    return {"timing": timing, "doseAndRate": [{"doseQuantity": quantity}]}


def draft(
    name: str,
    rxnorm: str | None = None,
    *,
    per_day: float | None = 1,
    weekly: bool = False,
    monthly: bool = False,
    count: float = 1,
    unit: str = "{pill}",
    rid: str = "d1",
) -> Callable[[bool], Res]:
    """A draft order builder: ``count`` units once a day (or week, or month); ``per_day=None``
    sends no dosage at all."""

    def build(dstu2: bool) -> Res:
        resource = draft_order(name, rxnorm, resource_id=rid, dstu2=dstu2)
        if per_day is not None:
            period = "wk" if weekly else "mo" if monthly else "d"
            doses = [dosage(count, unit, period_unit=period, dstu2=dstu2)]
            doses[0]["timing"]["repeat"]["frequency"] = per_day
            resource["dosageInstruction"] = doses
        return resource

    return build


def taking(name: str, *, count: float = 1, unit: str = "{pill}", per_day: float = 1) -> Res:
    """An active over-the-counter supplement, recorded as an R4 MedicationStatement."""
    return medication_statement(
        name,
        days=60,
        dosage=[
            {
                "timing": {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": count, "unit": unit}}],
            }
        ],
    )


def stopped_3_months_ago(name: str) -> Res:
    return medication_statement(
        name,
        status="completed",
        effectivePeriod={"start": days_ago(200), "end": days_ago(90)},
    )


@dataclass(frozen=True)
class Case:
    id: str
    category: str  # the Leapfrog CPOE category
    rule: str
    draft: Callable[[bool], Res]
    record: Callable[[], list[Res]] = lambda: []
    kind: str = "alert"  # alert | near | nuisance
    indicator: str | None = None  # of the card carrying the rule (alert)
    age: int = 50
    gender: str = "male"
    extra: dict[str, Any] = field(default_factory=dict)


VITD_1000 = draft("Vitamin D3 1000 UNT Oral Tablet")
CASES = [
    # -- Therapeutic duplication / inappropriate combinations (§7.2) ------------------------
    Case("dup-same", "duplication", "D1.same-supplement", VITD_1000,
         lambda: [taking("Vitamin D3 2000 IU softgel")], indicator="warning"),
    Case("dup-stopped", "duplication", "D1.same-supplement", VITD_1000,
         lambda: [stopped_3_months_ago("Vitamin D3 2000 IU softgel")], kind="near"),
    Case("dup-other", "duplication", "D1.same-supplement", VITD_1000,
         lambda: [taking("Cyanocobalamin 1000 MCG tablet")], kind="nuisance"),
    Case("alt-5htp", "duplication", "D2.5htp-tryptophan", draft("5-HTP 100 MG capsule"),
         lambda: [taking("L-Tryptophan 500 mg capsule")], indicator="warning"),
    Case("alt-5htp-stopped", "duplication", "D2.5htp-tryptophan", draft("5-HTP 100 MG capsule"),
         lambda: [stopped_3_months_ago("L-Tryptophan 500 mg capsule")], kind="near"),
    Case("alt-choline", "duplication", "D2.choline-sources", draft("Alpha-GPC 300 MG capsule"),
         lambda: [taking("Citicoline 250 mg capsule")], indicator="warning"),
    Case("lat1", "duplication", "D3.lat1", draft("L-Tyrosine 500 MG capsule"),
         lambda: [taking("5-HTP 100 mg capsule")], indicator="warning"),
    Case("lat1-stopped", "duplication", "D3.lat1", draft("L-Tyrosine 500 MG capsule"),
         lambda: [stopped_3_months_ago("5-HTP 100 mg capsule")], kind="near"),
    # -- Single and cumulative dose limits (§7.1) --------------------------------------------
    Case("d-tenfold", "dose", "DL.vitamin-d", draft("Cholecalciferol 50000 UNT Oral Capsule"),
         indicator="warning"),
    Case("d-at-limit", "dose", "DL.vitamin-d", draft("Cholecalciferol 4000 UNT Oral Capsule"),
         kind="near"),
    Case("d-cumulative", "dose", "DL.vitamin-d", draft("Vitamin D3 3000 UNT capsule"),
         lambda: [taking("Vitamin D3 2000 IU softgel")], indicator="warning"),
    Case("d-cumulative-at-limit", "dose", "DL.vitamin-d", draft("Vitamin D3 2000 UNT capsule"),
         lambda: [taking("Vitamin D3 2000 IU softgel")], kind="near"),
    Case("d-weekly", "dose", "DL.vitamin-d",
         draft("Ergocalciferol 50000 UNT Oral Capsule", weekly=True),
         lambda: [observation("62292-8", 30, "ng/mL")], indicator="warning"),  # 7,143 IU/day
    Case("d-weekly-repletion", "dose", "DL.vitamin-d",
         draft("Ergocalciferol 50000 UNT Oral Capsule", weekly=True),
         lambda: [observation("62292-8", 9, "ng/mL")], kind="near"),  # deficient: 10,000 IU
    Case("d-monthly", "dose", "DL.vitamin-d",
         draft("Cholecalciferol 50000 UNT Oral Capsule", monthly=True), kind="near"),
    Case("b6-100", "dose", "DL.vitamin-b6", draft("Pyridoxine 100 MG Oral Tablet"),
         indicator="warning"),
    Case("b6-40", "dose", "DL.vitamin-b6", draft("Pyridoxine 40 MG Oral Tablet"),
         indicator="info"),
    Case("b6-25", "dose", "DL.vitamin-b6", draft("Pyridoxine 25 MG Oral Tablet"), kind="near"),
    Case("zinc-150", "dose", "DL.zinc", draft("Zinc gluconate 50 mg", count=3),
         indicator="warning"),
    Case("zinc-40", "dose", "DL.zinc", draft("Zinc gluconate 40 mg"), kind="near"),
    Case("iron-no-deficiency", "dose", "DL.iron", draft("ferrous sulfate 325 MG Oral Tablet",
         per_day=3), lambda: [observation("2276-4", 100, "ng/mL")], indicator="warning"),
    Case("iron-treatment", "dose", "DL.iron", draft("ferrous sulfate 325 MG Oral Tablet",
         per_day=3), lambda: [observation("2276-4", 12, "ng/mL")], kind="near"),  # 195 mg
    Case("vit-e-1200", "dose", "DL.vitamin-e", draft("Vitamin E 1200 UNT Oral Capsule"),
         indicator="warning"),  # 1,091 mg alpha-tocopherol
    Case("vit-e-1000", "dose", "DL.vitamin-e", draft("Vitamin E 1000 UNT Oral Capsule"),
         kind="near"),  # 909 mg
    Case("dose-unreadable", "dose", "DL.vitamin-d", draft("Cholecalciferol capsule",
         per_day=None), indicator="info"),
    # -- Allergies and cross-allergies (§7.3) ---------------------------------------------
    Case("fish", "allergy", "A1.fish-omega-3", draft("Fish oil 1000 MG capsule"),
         lambda: [allergy("227037002", "Fish - dietary (substance)")], indicator="warning"),
    Case("fish-refuted", "allergy", "A1.fish-omega-3", draft("Fish oil 1000 MG capsule"),
         lambda: [allergy("227037002", "Fish", verification="refuted")], kind="near"),
    Case("fish-algal", "allergy", "A1.fish-omega-3", draft("Algal oil omega-3 500 MG capsule"),
         lambda: [allergy("227037002", "Fish - dietary (substance)")], kind="nuisance"),
    Case("shellfish-krill", "allergy", "A1.fish-omega-3", draft("Krill oil 500 MG capsule"),
         lambda: [allergy("300913006", "Shellfish allergy")], indicator="warning"),
    Case("cobalt", "allergy", "A2.cobalt-b12", draft("Cyanocobalamin 1000 MCG Oral Tablet"),
         lambda: [allergy("54808007", "Cobalt (substance)")], indicator="warning"),
    Case("cobalt-resolved", "allergy", "A2.cobalt-b12",
         draft("Cyanocobalamin 1000 MCG Oral Tablet"),
         lambda: [allergy("54808007", "Cobalt", clinical="resolved")], kind="near"),
    Case("same-allergy", "allergy", "A3.supplement-allergy", draft("SAMe 400 mg tablet"),
         lambda: [allergy(None, "S-adenosylmethionine")], indicator="warning"),
    Case("no-known-allergy", "allergy", "A3.supplement-allergy", draft("SAMe 400 mg tablet"),
         lambda: [allergy("716186003", "No known allergy")], kind="near"),
    Case("unknown-allergen", "allergy", "A3.supplement-allergy", draft("SAMe 400 mg tablet"),
         lambda: [allergy("91936005", "Allergy to penicillin")], kind="nuisance"),
    # -- Drug-age (C1 at order time) ----------------------------------------------------------
    Case("age-17", "age", "C1.orders", draft("5-HTP 100 MG capsule"), age=17,
         indicator="warning"),
    Case("age-18", "age", "C1.orders", draft("5-HTP 100 MG capsule"), age=18, kind="near"),
    Case("age-17-drug", "age", "C1.orders", draft("amlodipine 5 MG Oral Tablet", "197361"),
         age=17, kind="nuisance"),
    # -- Drug-lab (§7.4) ------------------------------------------------------------------
    Case("tsh", "lab", "C12", draft("L-Tyrosine 500 MG capsule"),
         lambda: [observation("3016-3", 0.05, "m[IU]/L")], indicator="warning"),
    Case("tsh-0.3", "lab", "C12", draft("L-Tyrosine 500 MG capsule"),
         lambda: [observation("3016-3", 0.3, "m[IU]/L")], kind="near"),
    Case("calcium", "lab", "C15", VITD_1000,
         lambda: [observation("17861-6", 11.8, "mg/dL")], indicator="warning"),
    Case("calcium-ionised", "lab", "C15", VITD_1000,
         lambda: [observation("1995-0", 1.40, "mmol/L")], indicator="warning"),
    Case("calcium-10.3", "lab", "C15", VITD_1000,
         lambda: [observation("17861-6", 10.3, "mg/dL")], kind="near"),
    Case("tsat", "lab", "C9", draft("ferrous sulfate 325 MG Oral Tablet"),
         lambda: [observation("2276-4", 100, "ng/mL"), observation("2502-3", 45, "%")],
         indicator="warning"),
    Case("tsat-44", "lab", "C9", draft("ferrous sulfate 325 MG Oral Tablet"),
         lambda: [observation("2276-4", 100, "ng/mL"), observation("2502-3", 44, "%")],
         kind="near"),
    Case("mg-severe", "lab", "C25.magnesium-severe", draft("Magnesium oxide 400 MG Oral Tablet"),
         lambda: [observation("2601-3", 0.4, "mmol/L")], indicator="warning"),
    Case("mg-0.55", "lab", "C25.magnesium-severe", draft("Magnesium oxide 400 MG Oral Tablet"),
         lambda: [observation("2601-3", 0.55, "mmol/L")], kind="near"),
    Case("mg-severe-iv", "lab", "C25.magnesium-severe",
         draft("Magnesium Sulfate 500 MG/ML Injectable Solution", per_day=None),
         lambda: [observation("2601-3", 0.4, "mmol/L")], kind="near"),
    # -- Drug-drug: the three cases of the issue -----------------------------------------
    Case("same-phenelzine", "drug-drug", "S1", draft("SAMe 400 mg tablet", per_day=None),
         lambda: [medication_request("8123", "phenelzine 15 MG Oral Tablet")],
         indicator="critical"),
    Case("same-phenelzine-washed-out", "drug-drug", "S1", draft("SAMe 400 mg tablet"),
         lambda: [medication_request("8123", "phenelzine 15 MG", status="stopped", days=20)],
         kind="near"),
    Case("linezolid", "drug-drug", "S1.linezolid", draft("linezolid 600 MG Oral Tablet",
         "190376", per_day=2), lambda: [medication_request("36437", "sertraline 50 MG")],
         indicator="critical"),
    Case("linezolid-washed-out", "drug-drug", "S1.linezolid",
         draft("linezolid 600 MG Oral Tablet", "190376", per_day=2),
         lambda: [medication_request("36437", "sertraline 50 MG", status="stopped", days=20)],
         kind="near"),
    Case("sertraline-otc", "drug-drug", "S3", draft("Sertraline 50 MG Oral Tablet", "312938"),
         lambda: [taking("5-HTP 100 mg capsule"), taking("St John's Wort 300 mg tablet")],
         indicator="warning"),
    # -- Excessive (nuisance) alerts: appropriate orders ------------------------------------
    Case("vitd-deficient", "nuisance", "*", VITD_1000,
         lambda: [observation("62292-8", 9, "ng/mL")], kind="nuisance", gender="female"),
    Case("b12-deficient", "nuisance", "*", draft("Cyanocobalamin 1000 MCG Oral Tablet"),
         lambda: [observation("2132-9", 150, "pg/mL", days=2)], kind="nuisance"),
    Case("magnesium-normal-egfr", "nuisance", "*", draft("Magnesium glycinate 200 mg"),
         lambda: [observation("2601-3", 0.8, "mmol/L")], kind="nuisance"),
]  # fmt: skip

HOOKS = ["order-select", "order-sign"]


def post(client: httpx.Client, request: Res) -> list[Res]:
    response = client.post(f"/cds-services/{SERVICE_FOR_HOOK[request['hook']]}", json=request)
    assert response.status_code == 200, response.text
    body = response.json()
    assert check_response(body) == []
    cards: list[Res] = body["cards"]
    return cards


def run(client: httpx.Client, case: Case, hook: str, dstu2: bool) -> list[Res]:
    record = [make() for make in BASE] + case.record()
    prefetch = prefetch_for(*record, patient_resource=patient(age=case.age, gender=case.gender))
    request = hook_request(hook, prefetch=prefetch, draft_orders=[case.draft(dstu2)])
    return post(client, request)


def with_rule(cards: list[Res], rule_id: str) -> list[Res]:
    return [c for c in cards if rule_id in card_rule_ids([c])]


@pytest.mark.parametrize("dstu2", [False, True], ids=["r4", "dstu2"])
@pytest.mark.parametrize("hook", HOOKS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_order_category(client: httpx.Client, case: Case, hook: str, dstu2: bool) -> None:
    cards = run(client, case, hook, dstu2)
    found = with_rule(cards, case.rule)
    if case.kind == "alert":
        assert found, (case.id, [c["summary"] for c in cards])
        assert found[0]["indicator"] == case.indicator, found[0]["summary"]
        assert f"`{case.rule}`" in found[0]["detail"]  # the finding line names the rule
    else:
        assert not found, (case.id, [c["summary"] for c in cards])
    if case.kind == "nuisance":
        assert all(c["indicator"] == "info" for c in cards), [c["summary"] for c in cards]


def test_every_category_is_tested_three_ways() -> None:
    kinds: dict[str, set[str]] = {}
    for case in CASES:
        kinds.setdefault(case.category, set()).add(case.kind)
    assert set(kinds) >= {"duplication", "dose", "allergy", "age", "lab", "drug-drug", "nuisance"}
    for category, seen in kinds.items():
        assert "near" in seen or category == "nuisance", category
        assert "alert" in seen or category == "nuisance", category
    assert {"duplication", "allergy", "age"} <= {c.category for c in CASES if c.kind == "nuisance"}


# -- The three cases the issue names (§7) -----------------------------------------------------


def deletes(card: Res) -> list[str]:
    return [
        a["resourceId"]
        for s in card.get("suggestions", [])
        for a in s.get("actions", [])
        if a["type"] == "delete"
    ]


def updates(card: Res) -> list[Res]:
    return [
        a["resource"]
        for s in card.get("suggestions", [])
        for a in s.get("actions", [])
        if a["type"] == "update"
    ]


@pytest.mark.parametrize("dstu2", [False, True], ids=["r4", "dstu2"])
def test_same_text_only_on_phenelzine_is_a_hard_block(client: httpx.Client, dstu2: bool) -> None:
    case = next(c for c in CASES if c.id == "same-phenelzine")
    [card] = with_rule(run(client, case, "order-sign", dstu2), "S1")
    assert card["indicator"] == "critical" and "overrideReasons" not in card
    assert card["summary"].startswith("Do not give SAMe 400 mg tablet")
    assert deletes(card) == [f"{'MedicationOrder' if dstu2 else 'MedicationRequest'}/d1"]
    assert "phenelzine" in card["detail"] and "Hard rule" in card["detail"]


@pytest.mark.parametrize("dstu2", [False, True], ids=["r4", "dstu2"])
def test_sertraline_on_otc_5htp_offers_to_stop_the_5htp(client: httpx.Client, dstu2: bool) -> None:
    five_htp = taking("5-HTP 100 mg capsule")
    st_johns_wort = taking("St John's Wort 300 mg tablet")
    prefetch = prefetch_for(
        *[m() for m in BASE], five_htp, st_johns_wort, patient_resource=patient()
    )
    sertraline = draft("Sertraline 50 MG Oral Tablet", "312938")(dstu2)
    cards = post(client, hook_request("order-sign", prefetch=prefetch, draft_orders=[sertraline]))
    [card] = with_rule(cards, "S3")
    assert {"S3", "S3.st-johns-wort"} <= card_rule_ids([card])  # one card for the order
    assert card["indicator"] == "warning" and card["overrideReasons"]
    assert "stop 5-HTP 100 mg capsule" in card["summary"]
    assert deletes(card) == [f"{sertraline['resourceType']}/d1"]  # and remove the draft
    if dstu2:
        assert updates(card) == []  # DSTU2 clients get no R4 resources; the detail names it
        assert "**Choice**: stop 5-HTP 100 mg capsule" in card["detail"]
        return
    stopped = {u["id"]: u for u in updates(card)}
    assert stopped[five_htp["id"]] == {**five_htp, "status": "stopped"}  # the whole resource
    assert stopped[st_johns_wort["id"]]["status"] == "stopped"
    assert card["selectionBehavior"] == "any"  # stop either or both, or remove the draft


@pytest.mark.parametrize(
    ("name", "rxnorm"),
    [("linezolid 600 MG Oral Tablet", "190376"), ("Methylene Blue 5 MG/ML Injectable Solution", None)],
)  # fmt: skip
def test_linezolid_on_sertraline_is_critical_overridable_with_fda_advice(
    client: httpx.Client, name: str, rxnorm: str | None
) -> None:
    prefetch = prefetch_for(
        *[m() for m in BASE],
        medication_request("36437", "sertraline 50 MG"),
        patient_resource=patient(),
    )
    request = hook_request(
        "order-sign", prefetch=prefetch, draft_orders=[draft(name, rxnorm)(False)]
    )
    cards = post(client, request)
    [card] = with_rule(cards, "S1.linezolid")
    assert card["indicator"] == "critical"
    assert not {"S1.drugs", "S1.drugs-reverse"} & card_rule_ids([card])  # not the hard rule
    reasons = {(r["system"], r["code"]): r["display"] for r in card["overrideReasons"]}
    assert (
        reasons[(HL7_REASONS, "risk-benefit-ratio")] == "Recipient assessment of risk/benefit ratio"
    )
    detail = card["detail"]
    assert "monitor for serotonin toxicity for 2 weeks" in detail and "24 h" in detail
    assert "Elbarbry 2023" in detail
    # No "antidepressant co-factor status" card for an antibiotic or a dye.
    assert not [c for c in cards if "co-factor" in c["summary"]], [c["summary"] for c in cards]


def test_ordering_sertraline_while_on_linezolid_stays_a_hard_block(client: httpx.Client) -> None:
    prefetch = prefetch_for(
        *[m() for m in BASE],
        medication_request("190376", "linezolid 600 MG Oral Tablet"),
        patient_resource=patient(),
    )
    sertraline = draft("Sertraline 50 MG Oral Tablet", "312938")(False)
    cards = post(client, hook_request("order-sign", prefetch=prefetch, draft_orders=[sertraline]))
    [card] = with_rule(cards, "S1.drugs")
    assert card["indicator"] == "critical" and "overrideReasons" not in card


# -- What the cards say ---------------------------------------------------------------------


def test_dose_limit_names_the_limit_its_source_and_the_combined_dose(client: httpx.Client) -> None:
    case = next(c for c in CASES if c.id == "d-cumulative")
    [card] = with_rule(run(client, case, "order-sign", False), "DL.vitamin-d")
    line = next(x for x in card["detail"].splitlines() if "`DL.vitamin-d`" in x)
    assert "combined 5,000 IU/day" in line and "this order 3,000 IU" in line
    assert "Vitamin D3 2000 IU softgel" in line and "2,000 IU" in line
    assert "limit 4,000 IU/day, IOM 2011 upper limit" in line
    # The same supplement already taken: duplication, on the same card, with the stop offer.
    assert "D1.same-supplement" in card_rule_ids([card]) and updates(card)


def test_repletion_of_a_deficiency_raises_the_limit_and_says_so(client: httpx.Client) -> None:
    record = [observation("62292-8", 9, "ng/mL")]
    prefetch = prefetch_for(*[m() for m in BASE], *record, patient_resource=patient())
    order = draft("Cholecalciferol 50000 UNT Oral Capsule", per_day=2, weekly=True)(False)
    cards = post(client, hook_request("order-sign", prefetch=prefetch, draft_orders=[order]))
    [card] = with_rule(cards, "DL.vitamin-d")  # 100,000 IU a week: 14,286 IU/day
    assert "14,286 IU/day" in card["detail"] and "repletion" in card["detail"]
    assert "limit 10,000 IU/day" in card["detail"]


def test_an_unreadable_dose_is_dose_not_checked_never_safe(client: httpx.Client) -> None:
    case = next(c for c in CASES if c.id == "dose-unreadable")
    [card] = with_rule(run(client, case, "order-sign", False), "DL.vitamin-d")
    assert card["indicator"] == "info" and "dose not checked" in card["detail"]
    assert "within" not in card["detail"].lower()


def test_a_fish_allergy_names_the_algal_alternative(client: httpx.Client) -> None:
    case = next(c for c in CASES if c.id == "fish")
    [card] = with_rule(run(client, case, "order-sign", False), "A1.fish-omega-3")
    labels = [s["label"] for s in card["suggestions"]]
    assert any("algal-oil omega-3" in label for label in labels), labels
    assert "Fish - dietary (substance) (AllergyIntolerance/" in card["detail"]


def test_dstu2_allergies_are_read(client: httpx.Client) -> None:
    record = [allergy(None, "Fish", dstu2=True), allergy("227037002", "Fish", dstu2=True,
              verification="refuted")]  # fmt: skip
    prefetch = prefetch_for(*[m() for m in BASE], *record, patient_resource=patient())
    order = draft("Fish oil 1000 MG capsule")(True)
    cards = post(client, hook_request("order-sign", prefetch=prefetch, draft_orders=[order]))
    [card] = with_rule(cards, "A1.fish-omega-3")
    assert record[0]["id"] in card["detail"] and record[1]["id"] not in card["detail"]


# -- Allergies that cannot be had, and the FHIR fallback ---------------------------------------


def test_allergies_that_cannot_be_had_are_said_not_checked_not_412(client: httpx.Client) -> None:
    prefetch = prefetch_for(*[m() for m in BASE], patient_resource=patient())
    del prefetch["allergies"]  # not sent, and no FHIR server to fetch them from
    request = hook_request(
        "order-sign", prefetch=prefetch, draft_orders=[draft("Fish oil 1000 MG capsule")(False)]
    )
    response = client.post(f"/cds-services/{SERVICE_FOR_HOOK['order-sign']}", json=request)
    assert response.status_code == 200
    body = response.json()
    assert (
        "allergies: could not be obtained; not checked"
        in (body["extension"]["org.neurotransmitter-cds"]["dataNotes"])
    )
    assert any("Allergies: not checked" in c["detail"] for c in body["cards"])


def test_allergies_missing_from_prefetch_are_fetched_from_the_fhir_server(
    client: httpx.Client, fhir_server: FhirServer
) -> None:
    fish = allergy("227037002", "Fish - dietary (substance)")
    fhir_server.state.add(fish)
    try:
        prefetch = prefetch_for(*[m() for m in BASE], patient_resource=patient())
        del prefetch["allergies"]
        request = hook_request(
            "order-sign",
            prefetch=prefetch,
            draft_orders=[draft("Fish oil 1000 MG capsule")(False)],
            fhirServer=fhir_server.base(),
        )
        cards = post(client, request)
    finally:
        fhir_server.state.resources.pop("AllergyIntolerance", None)
    [card] = with_rule(cards, "A1.fish-omega-3")
    assert fish["id"] in card["detail"]
    assert not any("Allergies: not checked" in c["detail"] for c in cards)
    assert any(
        r["path"].startswith(f"/fhir/AllergyIntolerance?patient={PATIENT_ID}")
        for r in fhir_server.state.requests
    )


def test_an_allergy_withholds_the_supplement_at_patient_view(client: httpx.Client) -> None:
    """A3 at patient-view: iron with proven deficiency, but an iron allergy: not suggested."""
    record = [
        observation("2276-4", 10, "ng/mL"),
        observation("30522-7", 1, "mg/L"),
        allergy(None, "Ferrous sulfate"),
    ]
    prefetch = prefetch_for(*record, patient_resource=patient(age=40, gender="male"))
    cards = post(client, hook_request("patient-view", prefetch=prefetch))
    suggested = {
        c.get("code")
        for card in cards
        for s in card.get("suggestions", [])
        for a in s.get("actions", [])
        for c in (a.get("resource", {}).get("medicationCodeableConcept") or {}).get("coding", [])
    }
    assert "24947" not in suggested  # ferrous sulfate
    assert any("A3.supplement-allergy" in c.get("detail", "") for c in cards)


# -- The card budget (issue 15): on every scenario here, and when many drafts have problems --


def many_drafts() -> list[Res]:
    return [
        draft("SAMe 400 mg tablet", rid="m1")(False),
        draft("5-HTP 100 MG capsule", rid="m2")(False),
        draft("Cholecalciferol 50000 UNT Oral Capsule", rid="m3")(False),
        draft("Pyridoxine 100 MG Oral Tablet", rid="m4")(False),
        draft("Fish oil 1000 MG capsule", rid="m5")(False),
        draft("Zinc gluconate 50 mg", count=3, rid="m6")(False),
    ]


def assert_budget(cards: list[Res]) -> None:
    assert len(cards) <= 3, [c["summary"] for c in cards]
    assert [RANK[c["indicator"]] for c in cards] == sorted(RANK[c["indicator"]] for c in cards)
    for card in cards:
        summary, detail = card["summary"], card.get("detail", "")
        assert len(summary) < 140 and "…" not in summary and not summary.endswith("..."), summary
        assert len(detail) <= 1200, (summary, len(detail))
        labels = [line.split("**")[1] for line in detail.splitlines() if line.startswith("- **")]
        severities = [
            {"Critical": "critical", "Warning": "warning", "Note": "info"}[x]
            for x in labels
            if x in ("Critical", "Warning", "Note")
        ]
        if severities:  # an order card: the indicator is that of its most severe finding
            assert card["indicator"] == min(severities, key=RANK.__getitem__), summary
        actions = [
            (a["type"], a.get("resourceId") or a["resource"].get("id") or str(a["resource"]))
            for s in card.get("suggestions", [])
            for a in s.get("actions", [])
        ]
        assert len(actions) == len(set(actions)), summary  # one suggestion per real choice


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_scenario_fits_the_card_budget(client: httpx.Client, case: Case) -> None:
    for hook in HOOKS:
        for dstu2 in (False, True):
            assert_budget(run(client, case, hook, dstu2))


def test_many_problem_drafts_fold_into_three_cards_and_lose_no_finding(
    client: httpx.Client, kb: KnowledgeBase
) -> None:
    record = [medication_request("8123", "phenelzine 15 MG"), allergy("227037002", "Fish")]
    prefetch = prefetch_for(*[m() for m in BASE], *record, patient_resource=patient(age=17))
    unknown = draft("Zyxoprofen 10 mg tablet", rid="m7")(False)  # "not checked": folded too
    orders = [*many_drafts(), unknown]
    cards = post(client, hook_request("order-sign", prefetch=prefetch, draft_orders=orders))
    assert_budget(cards)
    assert cards[0]["indicator"] == "critical"
    assert any("Zyxoprofen" in c["detail"] for c in cards)
    # The Why links name rules only, never the topic of a folded card without rules.
    known = kb.card_rule_ids()
    for card in cards:
        for link in card.get("links", []):
            if "rules=" in link["url"]:
                named = link["url"].split("rules=")[1].split(",")
                assert set(named) <= known, named
    # Every draft's finding is still on a card: a card of its own or a line of the last one.
    text = " ".join(c["summary"] + c.get("detail", "") for c in cards)
    for rule in ("S1", "DL.vitamin-d", "DL.vitamin-b6", "A1.fish-omega-3", "DL.zinc", "C1.orders"):
        assert rule in text, rule
    # The folded card keeps the suggestions of the cards it holds (remove each draft).
    removed = {r for c in cards for r in deletes(c)}
    assert {f"MedicationRequest/m{i}" for i in (1, 2)} <= removed


def test_a_condition_and_a_dose_limit_on_one_draft_share_its_card(client: httpx.Client) -> None:
    """Several problems with one draft order: one card, the indicator of the worst."""
    record = [condition("E83.52", "Hypercalcemia", system=ICD10CM)]
    prefetch = prefetch_for(*[m() for m in BASE], *record, patient_resource=patient())
    order = draft("Cholecalciferol 50000 UNT Oral Capsule")(False)
    cards = post(client, hook_request("order-sign", prefetch=prefetch, draft_orders=[order]))
    [card] = [c for c in cards if {"C15", "DL.vitamin-d"} <= card_rule_ids([c])]
    assert card["indicator"] == "warning"
    assert_budget(cards)


def test_an_order_revised_and_re_signed_is_not_its_own_duplicate(client: httpx.Client) -> None:
    """order-sign of a revised, non-draft order (Hook Library 1.1): the draft *is* the active
    order, so it is neither a duplicate of itself nor counted twice in the cumulative dose."""
    active = medication_request(
        None,
        "Vitamin D3 3000 UNT capsule",
        resource_id="d1",
        dosageInstruction=[dosage(1, "{pill}", dstu2=False)],
    )
    prefetch = prefetch_for(*[m() for m in BASE], active, patient_resource=patient())
    resigned = draft("Vitamin D3 3000 UNT capsule")(False)
    cards = post(client, hook_request("order-sign", prefetch=prefetch, draft_orders=[resigned]))
    rules = card_rule_ids(cards)
    assert not {"D1.same-supplement", "DL.vitamin-d"} & rules, [c["summary"] for c in cards]
    # A second, new order of the same product is both.
    second = draft("Vitamin D3 3000 UNT capsule", rid="d2")(False)
    cards = post(client, hook_request("order-sign", prefetch=prefetch, draft_orders=[second]))
    assert {"D1.same-supplement", "DL.vitamin-d"} <= card_rule_ids(cards)


def test_patient_view_says_allergies_not_checked_when_they_cannot_be_had(
    client: httpx.Client,
) -> None:
    record = [observation("2132-9", 150, "pg/mL", days=2)]  # B12 deficient: B12 is suggested
    prefetch = prefetch_for(*record, patient_resource=patient(age=40, gender="male"))
    with_allergies = post(client, hook_request("patient-view", prefetch=prefetch))
    assert with_allergies and not any(
        "Allergies: not checked" in c["detail"] for c in with_allergies
    )
    del prefetch["allergies"]
    without = post(client, hook_request("patient-view", prefetch=prefetch))
    assert any("Allergies: not checked" in c["detail"] for c in without)
