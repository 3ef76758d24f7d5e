"""Cards must not contradict each other or offer a step that changes nothing.

Found by reading the examples as a clinician would: a recorded pregnancy still offered a
pregnancy test; a 16-year-old was offered a test "before amino-acid precursors" the adult-only
rule never allows; a critical "remove this 5-HTP order" card sat beside "the data support it";
a do-not-offer supplement order was told to wait for a pregnancy test.
"""

from __future__ import annotations

from cds_service.knowledge import KnowledgeBase
from tests.factories import (
    condition,
    hook_request,
    medication_request,
    observation,
    patient,
    prefetch_for,
    supplement_order,
)
from tests.helpers import run_hook

PHQ9_TOTAL = ("44261-6", 14, "{score}")


def labels(response: dict) -> list[str]:
    return [s["label"] for c in response["cards"] for s in c.get("suggestions", [])]


def hcg_offered(response: dict, kb: KnowledgeBase) -> bool:
    code = kb.lab_orders["hcg-serum"].code.code
    return any(
        action.get("resource", {}).get("code", {}).get("coding", [{}])[0].get("code") == code
        for card in response["cards"]
        for suggestion in card.get("suggestions", [])
        for action in suggestion.get("actions", [])
    )


def test_a_recorded_pregnancy_is_not_sent_for_a_pregnancy_test(kb: KnowledgeBase) -> None:
    prefetch = prefetch_for(
        observation(*PHQ9_TOTAL),
        condition("77386006", "Pregnancy"),
        patient_resource=patient(age=30),
    )
    response = run_hook(kb, hook_request(prefetch=prefetch)).response
    assert not hcg_offered(response, kb)
    # Near miss: the same woman without the recorded pregnancy is asked for a test first.
    response = run_hook(
        kb,
        hook_request(
            prefetch=prefetch_for(observation(*PHQ9_TOTAL), patient_resource=patient(age=30))
        ),
    ).response
    assert hcg_offered(response, kb)


def test_an_adolescent_is_not_offered_a_test_for_supplements_she_cannot_have(
    kb: KnowledgeBase,
) -> None:
    prefetch = prefetch_for(observation(*PHQ9_TOTAL), patient_resource=patient(age=16))
    response = run_hook(kb, hook_request(prefetch=prefetch)).response
    assert not hcg_offered(response, kb)
    assert not any(label.startswith("Consider") for label in labels(response))


def test_no_test_is_offered_when_another_block_stands(kb: KnowledgeBase) -> None:
    # On phenelzine (an MAOI), 5-HTP, tryptophan and SAMe are blocked (S1) whatever a pregnancy
    # test says, so the test is not suggested and its finding does not make a card.
    prefetch = prefetch_for(
        observation(*PHQ9_TOTAL),
        medication_request("8123", "phenelzine 15 MG Oral Tablet"),
        patient_resource=patient(age=30),
    )
    response = run_hook(kb, hook_request(prefetch=prefetch)).response
    assert not hcg_offered(response, kb)
    assert not any("Pregnancy status unknown" in c["summary"] for c in response["cards"])
    # Near miss: on sertraline SAMe is only a warning, so the test still matters for it.
    prefetch = prefetch_for(
        observation(*PHQ9_TOTAL),
        medication_request("36437", "sertraline 50 MG Oral Tablet"),
        patient_resource=patient(age=30),
    )
    assert hcg_offered(run_hook(kb, hook_request(prefetch=prefetch)).response, kb)


def test_a_blocked_order_is_never_also_called_supported(kb: KnowledgeBase) -> None:
    prefetch = prefetch_for(
        observation(*PHQ9_TOTAL),
        medication_request("8123", "phenelzine 15 MG Oral Tablet"),
        patient_resource=patient(age=68, gender="male"),
    )
    draft = supplement_order(None, "5-hydroxytryptophan (5-HTP) 100 MG Oral Capsule")
    for hook in ("order-select", "order-sign"):
        response = run_hook(
            kb, hook_request(hook, prefetch=prefetch, draft_orders=[draft])
        ).response
        indicators = [c["indicator"] for c in response["cards"]]
        assert "critical" in indicators
        assert not any("the data support it" in c["summary"] for c in response["cards"])


def test_a_do_not_offer_order_is_not_told_to_wait_for_a_test(kb: KnowledgeBase) -> None:
    draft = supplement_order(None, "DL-Phenylalanine 500 mg capsule")
    prefetch = prefetch_for(patient_resource=patient(age=50))
    response = run_hook(
        kb, hook_request("order-sign", prefetch=prefetch, draft_orders=[draft])
    ).response
    assert not hcg_offered(response, kb)
    assert any("not offered by this service" in c["summary"] for c in response["cards"])
    assert any(label.startswith("Remove the draft order") for label in labels(response))
