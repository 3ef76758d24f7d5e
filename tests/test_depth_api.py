"""Issue 17 through the HTTP API: the service under uvicorn on 127.0.0.1 (tests/conftest.py),
responses re-validated by the service itself (CDS_VALIDATE_RESPONSES) and by the validator
here. One patient per new behaviour, and a near miss."""

from __future__ import annotations

from typing import Any

import httpx

from cds_service.knowledge import KnowledgeBase
from cds_service.protocol.validate import check_response
from tests.depth_scenarios import SCENARIOS
from tests.factories import (
    SERVICE_FOR_HOOK,
    draft_order,
    hook_request,
    observation,
    patient,
    prefetch_for,
)
from tests.helpers import suggested_resources

PV = f"/cds-services/{SERVICE_FOR_HOOK['patient-view']}"


def post(client: httpx.Client, request: dict[str, Any], path: str = PV) -> list[dict[str, Any]]:
    response = client.post(path, json=request)
    assert response.status_code == 200, response.text
    body = response.json()
    assert check_response(body) == []
    return body["cards"]


def codes(cards: list[dict[str, Any]]) -> set[str]:
    return {
        (r.get("medicationCodeableConcept") or r["code"])["coding"][0]["code"]
        for card in cards
        for r in suggested_resources(card)
    }


def test_severe_hypomagnesaemia_over_http(client: httpx.Client, kb: KnowledgeBase) -> None:
    cards = post(client, SCENARIOS["severe_hypomagnesaemia_on_omeprazole"]())
    assert cards[0]["indicator"] == "warning" and "Omeprazole" in cards[0]["detail"]
    assert kb.interventions["magnesium"].ingredient.code not in codes(cards)
    near = post(client, SCENARIOS["magnesium_055_near_miss"]())
    assert kb.interventions["magnesium"].ingredient.code in codes(near)


def test_untreated_severe_depression_over_http(client: httpx.Client, kb: KnowledgeBase) -> None:
    cards = post(client, SCENARIOS["woman_40_phq9_21_untreated"]())
    assert cards[0]["indicator"] == "warning"
    assert cards[0]["summary"].startswith("PHQ-9 21, severe: no first-line treatment recorded")
    adjuncts = {kb.interventions[i].ingredient.code for i in ("5-htp", "tryptophan", "same")}
    assert not adjuncts & codes(cards)
    on_sertraline = post(client, SCENARIOS["phq9_16_on_sertraline_near_miss"]())
    assert kb.interventions["omega-3-epa"].ingredient.code in codes(on_sertraline)


def test_recheck_due_over_http(client: httpx.Client, kb: KnowledgeBase) -> None:
    [card] = post(client, SCENARIOS["on_b12_for_4_months_no_result_since"]())
    assert card["source"]["topic"]["code"] == "follow-up"
    assert codes([card]) == {kb.lab_orders["b12"].code.code}
    assert post(client, SCENARIOS["on_b12_for_6_weeks_recheck_not_yet_due"]()) == []


def test_c_ssrs_screen_over_http(client: httpx.Client) -> None:
    cards = post(client, SCENARIOS["cssrs_suicidal_thoughts_yes"]())
    assert cards[0]["indicator"] == "critical"
    assert cards[0]["summary"].startswith("C-SSRS: wish to be dead = yes: assess suicide risk")
    assert all(
        c["indicator"] != "critical" for c in post(client, SCENARIOS["cssrs_all_no_near_miss"]())
    )


def test_a_tyrosine_order_with_a_suppressed_tsh_meets_c12(client: httpx.Client) -> None:
    """C12 reads the TSH result at order time too (the order checks are issue 16's; the rule's
    trigger is this issue's)."""

    def order_tyrosine(tsh: float) -> list[dict[str, Any]]:
        prefetch = prefetch_for(
            observation("3016-3", tsh, "mIU/L"), patient_resource=patient(age=50, gender="male")
        )
        request = hook_request(
            "order-sign", prefetch=prefetch, draft_orders=[draft_order("L-Tyrosine 500 MG")]
        )
        return post(client, request, f"/cds-services/{SERVICE_FOR_HOOK['order-sign']}")

    assert any("C12" in c["detail"] for c in order_tyrosine(0.05))
    assert not any("C12" in c["detail"] for c in order_tyrosine(0.3))
