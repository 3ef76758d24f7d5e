"""Order-time checks through the HTTP API (uvicorn on 127.0.0.1): each interaction of issue 4 with
R4 MedicationRequest and DSTU2 MedicationOrder drafts, hard interactions as critical cards with a
delete by resourceId, warnings with override reasons, near-misses that stay quiet, and the same
answer from order-select and order-sign."""

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
    draft_order,
    hook_request,
    medication_request,
    medication_statement,
    observation,
    patient,
    prefetch_for,
)
from tests.helpers import card_rule_ids

# Labs that keep the missing-data rules (C24) quiet unless a test wants them.
BASE = [
    lambda: observation("98979-8", 90, "mL/min/{1.73_m2}"),
    lambda: observation("2132-9", 500, "pg/mL"),
    lambda: observation("2276-4", 50, "ng/mL"),
    lambda: observation("30522-7", 1, "mg/L"),
]


def call(
    client: httpx.Client,
    hook: str,
    drafts: list[dict[str, Any]],
    therapy: list[dict[str, Any]],
    *,
    selections: list[str] | None = None,
    gender: str = "male",
    age: int = 50,
) -> list[dict[str, Any]]:
    prefetch = prefetch_for(
        *[make() for make in BASE], *therapy, patient_resource=patient(age=age, gender=gender)
    )
    request = hook_request(hook, prefetch=prefetch, draft_orders=drafts, selections=selections)
    response = client.post(f"/cds-services/{SERVICE_FOR_HOOK[hook]}", json=request)
    assert response.status_code == 200, response.text
    body = response.json()
    assert check_response(body) == []
    return body["cards"]


def topics(cards: list[dict[str, Any]]) -> set[str]:
    """Rule ids on the cards; a mirror rule ("X-reverse") counts as its pair X."""
    found = card_rule_ids(cards)
    return found | {t.removesuffix("-reverse") for t in found}


def deletes(card: dict[str, Any]) -> list[str]:
    return [
        action["resourceId"]
        for suggestion in card.get("suggestions", [])
        for action in suggestion.get("actions", [])
        if action["type"] == "delete"
    ]


def card_for(cards: list[dict[str, Any]], rule_id: str) -> dict[str, Any]:
    matching = [c for c in cards if rule_id in topics([c])]
    assert matching, f"no card for {rule_id}: {[c['summary'] for c in cards]}"
    return matching[0]


HOOKS = ["order-select", "order-sign"]

# (case id, rule, indicator, draft (R4 kwargs), current therapy, patient kwargs, near-miss therapy)
INTERACTIONS = [
    (
        "ssri-on-tryptophan",
        "S3",
        "warning",
        ("Sertraline 100 MG Oral Tablet", "312938"),
        lambda: [medication_statement("L-tryptophan 500 mg capsule")],
        {},
        lambda: [medication_statement("L-tryptophan 500 mg capsule", status="completed", days=30)],
    ),
    (
        "ssri-on-5htp",
        "S3",
        "warning",
        ("Escitalopram 10 MG Oral Tablet [Lexapro]", "352272"),
        lambda: [medication_statement("5-HTP 100 mg")],
        {},
        lambda: [],
    ),
    (
        "ssri-on-st-johns-wort",
        "S3.st-johns-wort",
        "warning",
        ("Sertraline 100 MG Oral Tablet", "312938"),
        lambda: [medication_statement("St John's Wort extract 300 mg")],
        {},
        lambda: [],
    ),
    (
        "5htp-on-ssri",
        "S3",
        "warning",
        ("5-HTP 100 mg capsule", None),
        lambda: [medication_request("36437", "sertraline 50 MG")],
        {},
        lambda: [medication_request("36437", "sertraline 50 MG", status="stopped", days=20)],
    ),
    (
        "tryptophan-on-snri",
        "S3",
        "warning",
        ("L-Tryptophan 1000 mg", None),
        lambda: [medication_request("72625", "duloxetine 60 MG")],
        {},
        lambda: [],
    ),
    (
        "5htp-on-maoi",
        "S1",
        "critical",
        ("5-HTP 50 mg", None),
        lambda: [medication_request("8123", "phenelzine 15 MG")],
        {},
        lambda: [medication_request("8123", "phenelzine 15 MG", status="stopped", days=15)],
    ),
    (
        "tyrosine-on-maoi",
        "S2",
        "critical",
        ("L-Tyrosine 500 mg capsule", None),
        lambda: [medication_request("10734", "tranylcypromine 10 MG")],
        {},
        lambda: [],
    ),
    (
        "phenylalanine-on-maoi",
        "S2",
        "critical",
        ("DL-Phenylalanine 500 mg", None),
        lambda: [medication_request(None, "Emsam (selegiline) patch")],
        {},
        lambda: [],
    ),
    (
        "maoi-on-tyrosine",
        "S2",
        "critical",
        ("phenelzine 15 MG Oral Tablet", "8123"),
        lambda: [medication_statement("L-Tyrosine 500 mg")],
        {},
        lambda: [],
    ),
    (
        # Linezolid and methylene blue have their own, overridable rule (test_order_categories).
        "maoi-on-ssri",
        "S1.drugs",
        "critical",
        ("phenelzine 15 MG Oral Tablet", "8123"),
        lambda: [medication_request("4493", "fluoxetine 20 MG", status="stopped", days=30)],
        {},
        lambda: [medication_request("4493", "fluoxetine 20 MG", status="stopped", days=40)],
    ),
    (
        "b6-on-levodopa",
        "S5",
        "warning",
        ("Pyridoxine 50 MG Oral Tablet", None),
        lambda: [medication_request("6375", "levodopa 250 MG")],
        {},
        lambda: [
            medication_request(None, "Carbidopa 25 MG / Levodopa 100 MG Oral Tablet [Sinemet]")
        ],
    ),
    (
        "iron-on-levothyroxine",
        "S8",
        "info",
        ("ferrous sulfate 325 MG Oral Tablet", "310325"),
        lambda: [
            medication_request("966222", "Levothyroxine Sodium 0.075 MG Oral Tablet"),
            # Proven iron deficiency: 65 mg elemental iron is treatment, not above its limit.
            observation("2276-4", 30, "ng/mL", days=5),
        ],
        {},
        lambda: [],
    ),
    (
        "magnesium-on-quinolone",
        "S9",
        "info",
        ("Magnesium oxide 400 mg tablet", None),
        lambda: [medication_request("211816", "Levofloxacin 500 MG Oral Tablet [Levaquin]")],
        {},
        lambda: [],
    ),
    (
        "zinc-on-tetracycline",
        "S10",
        "info",
        ("Zinc gluconate 25 mg", None),  # within the 40 mg/day limit (DL.zinc)
        lambda: [medication_request("199026", "Doxycycline 100 MG Oral Capsule")],
        {},
        lambda: [],
    ),
    (
        "calcium-on-bisphosphonate",
        "S11",
        "info",
        ("Calcium carbonate 500 mg [Tums]", None),
        lambda: [
            medication_request(
                None, "{4 (Risedronate 35 MG Oral Tablet [Actonel]) } Pack [Actonel 35]"
            )
        ],
        {},
        lambda: [],
    ),
    (
        "omega3-on-warfarin",
        "S13",
        "warning",
        ("Fish oil 1200 MG Oral Capsule", None),
        lambda: [medication_request("855332", "Warfarin Sodium 5 MG Oral Tablet")],
        {},
        lambda: [],
    ),
    (
        "vitamin-e-on-warfarin",
        "S13.vitamin-e-warfarin",
        "warning",
        ("Vitamin E 400 UNT Oral Capsule", None),
        lambda: [medication_request("855332", "Warfarin Sodium 5 MG Oral Tablet")],
        {},
        lambda: [
            medication_request(
                "855332", "Warfarin Sodium 5 MG Oral Tablet", status="stopped", days=10
            )
        ],
    ),
    (
        "vitamin-e-on-apixaban",
        "S13.vitamin-e",
        "warning",
        ("Vitamin E 1000 UNT Oral Capsule", None),
        lambda: [medication_request(None, "Eliquis 5 mg")],
        {},
        lambda: [],
    ),
    (
        "folic-acid-on-phenytoin",
        "S14.folic-acid",
        "warning",
        ("Folic Acid 5 MG Oral Tablet", None),
        lambda: [medication_request("8183", "phenytoin 100 MG")],
        {},
        lambda: [],
    ),
    (
        "folate-on-methotrexate",
        "S15",
        "warning",
        ("L-methylfolate 15 mg", None),
        lambda: [medication_request("6851", "methotrexate 2.5 MG")],
        {},
        lambda: [],
    ),
    (
        "5htp-in-pregnancy",
        "C2",
        "warning",
        ("5-HTP 100 mg", None),
        lambda: [condition("77386006", "Pregnancy")],
        {"gender": "female"},
        lambda: [
            condition("77386006", "Pregnancy", verification="refuted"),
            observation("2106-3", None, None, valueString="negative"),
        ],
    ),
    (
        "same-in-bipolar",
        "C4",
        "warning",
        ("SAM-e 400 mg", None),
        lambda: [condition("F31.9", "Bipolar disorder, unspecified", system=ICD10CM)],
        {},
        lambda: [],
    ),
    (
        "phenylalanine-in-pku",
        "C7",
        "critical",
        ("L-Phenylalanine 500 mg", None),
        lambda: [condition("E70.0", "Classical phenylketonuria", system=ICD10CM)],
        {},
        lambda: [],
    ),
]


@pytest.mark.parametrize("dstu2", [False, True], ids=["r4", "dstu2"])
@pytest.mark.parametrize("hook", HOOKS)
@pytest.mark.parametrize(
    ("case", "rule_id", "indicator", "drug", "therapy", "patient_kw", "near"),
    INTERACTIONS,
    ids=[c[0] for c in INTERACTIONS],
)
def test_interaction_at_order_time(
    client: httpx.Client,
    hook: str,
    dstu2: bool,
    case: str,
    rule_id: str,
    indicator: str,
    drug: tuple[str, str | None],
    therapy: Any,
    patient_kw: dict[str, Any],
    near: Any,
) -> None:
    name, rxnorm = drug
    rid = "order-123" if dstu2 else "request-123"
    draft = draft_order(name, rxnorm, resource_id=rid, dstu2=dstu2, dose=(1, "{pill}"))
    ref = f"{draft['resourceType']}/{rid}"
    cards = call(client, hook, [draft], therapy(), **patient_kw)
    card = card_for(cards, rule_id)
    assert card["indicator"] == indicator
    assert name[:20] in card["summary"] or name[:20] in card["detail"]
    detail = card["detail"]
    assert rule_id in topics([card]) and "Sources: [" in detail and "grade" in detail
    if indicator == "critical":
        assert deletes(card) == [ref]
        assert "overrideReasons" not in card  # hard rule: not to be overridden
    elif indicator == "warning":
        assert all(r["display"] for r in card["overrideReasons"])
    quiet = call(client, hook, [draft], near(), **patient_kw)
    assert rule_id not in topics(quiet), [c["summary"] for c in quiet]


def test_blocks_suggest_removing_the_draft_warnings_do_not(client: httpx.Client) -> None:
    block = call(
        client,
        "order-sign",
        [draft_order("5-HTP 100 mg", resource_id="abc")],
        [medication_request("36437", "sertraline 50 MG")],
    )
    assert deletes(card_for(block, "S3")) == ["MedicationRequest/abc"]
    warn = call(
        client,
        "order-sign",
        [draft_order("Fish oil 1000 MG capsule", resource_id="fo", dose=(2, "{pill}"))],
        [medication_request("855332", "Warfarin Sodium 5 MG Oral Tablet")],
    )
    card = card_for(warn, "S13")
    assert card["indicator"] == "warning" and deletes(card) == []
    assert "2,000 mg/day" in card["detail"]


def test_dose_below_threshold_is_quiet_and_unknown_dose_is_conservative(
    client: httpx.Client,
) -> None:
    warfarin = [medication_request("855332", "Warfarin Sodium 5 MG Oral Tablet")]
    low = draft_order("Fish oil 500 MG Oral Capsule", dose=(1, "{pill}"))
    assert "S13" not in topics(call(client, "order-sign", [low], warfarin))
    unknown = draft_order("Fish oil softgel")
    card = card_for(call(client, "order-sign", [unknown], warfarin), "S13")
    assert "dose unknown" in card["detail"]


def test_drafts_are_checked_against_each_other(client: httpx.Client) -> None:
    drafts = [
        draft_order("5-HTP 100 mg", resource_id="d1"),
        draft_order("Sertraline 100 MG Oral Tablet", "312938", resource_id="d2"),
    ]
    cards = call(client, "order-sign", drafts, [])
    assert deletes(card_for(cards, "S3")) == [
        "MedicationRequest/d1"
    ]  # the supplement, not the drug


def test_order_select_focuses_on_selections(client: httpx.Client) -> None:
    drafts = [
        draft_order("5-HTP 100 mg", resource_id="d1"),
        draft_order("amlodipine 5 mg", resource_id="d2"),
    ]
    therapy = [medication_request("36437", "sertraline 50 MG")]
    focused = call(client, "order-select", drafts, therapy, selections=["MedicationRequest/d2"])
    assert "S3" not in topics(focused)
    selected = call(client, "order-select", drafts, therapy, selections=["MedicationRequest/d1"])
    assert "S3" in topics(selected)


def _comparable(cards: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(
        (
            c["summary"],
            c["indicator"],
            c["source"]["topic"]["code"],
            tuple(deletes(c)),
            tuple(r["code"] for r in c.get("overrideReasons", [])),
        )
        for c in cards
    )


def test_order_select_and_order_sign_give_the_same_answer(client: httpx.Client) -> None:
    draft = draft_order("Magnesium oxide 400 mg tablet", resource_id="mg", dose=(1, "{pill}"))
    therapy = [
        medication_request("966222", "Levothyroxine Sodium 0.075 MG Oral Tablet"),
        condition("G70.00", "Myasthenia gravis", system=ICD10CM),
    ]
    select = call(client, "order-select", [draft], therapy)
    sign = call(client, "order-sign", [draft], therapy)
    assert select and _comparable(select) == _comparable(sign)
    again = call(client, "order-select", [draft], therapy)
    assert _comparable(again) == _comparable(select)


def test_missing_egfr_offers_the_test_and_removal(client: httpx.Client, kb: KnowledgeBase) -> None:
    prefetch = prefetch_for(patient_resource=patient(age=50, gender="male"))
    for dstu2 in (False, True):
        draft = draft_order("Magnesium glycinate 200 mg", resource_id="mg1", dstu2=dstu2)
        request = hook_request("order-sign", prefetch=prefetch, draft_orders=[draft])
        body = client.post("/cds-services/neurotransmitter-order-sign", json=request).json()
        card = card_for(body["cards"], "C24.egfr")
        assert card["indicator"] == "warning"
        created = [
            a["resource"]["code"]["coding"][0]["code"]
            for s in card["suggestions"]
            for a in s["actions"]
            if a["type"] == "create"
        ]
        # R4 clients get a ServiceRequest for eGFR; DSTU2 clients only the delete (no R4 resources).
        assert created == ([] if dstu2 else [kb.lab_orders["egfr"].code.code])
        assert deletes(card) == [f"{draft['resourceType']}/mg1"]


def test_unrecognised_drug_is_reported_not_checked_when_a_supplement_is_taken(
    client: httpx.Client,
) -> None:
    otc = medication_statement("5-HTP 100 mg capsule")
    cards = call(client, "order-sign", [draft_order("Zyxoprofen 10 mg")], [otc])
    [card] = cards
    assert card["indicator"] == "info" and "not checked" in card["detail"].lower()
    assert "Zyxoprofen" in card["summary"]


def test_unrecognised_drug_with_no_supplement_in_view_gives_no_card(
    client: httpx.Client,
) -> None:
    """Nothing here for it to interact with: a card on every such order is a nuisance alert."""
    stopped = medication_statement("5-HTP 100 mg capsule", status="stopped", days=400)
    assert call(client, "order-sign", [draft_order("Zyxoprofen 10 mg")], []) == []
    assert call(client, "order-sign", [draft_order("Zyxoprofen 10 mg")], [stopped]) == []


def test_sandbox_draft_without_a_drug_gives_no_card(client: httpx.Client) -> None:
    draft = {"resourceType": "MedicationRequest", "id": "request-123", "status": "draft"}
    assert call(client, "order-select", [draft], []) == []


def test_suicide_risk_gives_a_critical_card_when_a_supplement_is_ordered(
    client: httpx.Client,
) -> None:
    therapy = [observation("44260-8", 2, "{score}")]
    cards = call(client, "order-sign", [draft_order("Zinc gluconate 25 mg")], therapy)
    assert cards[0]["indicator"] == "critical" and cards[0]["source"]["topic"]["code"] == "C20"
    drug_only = call(client, "order-sign", [draft_order("amlodipine 5 mg")], therapy)
    assert "C20" not in topics(drug_only)
