"""Issue 17, content defects: each one reproduced as the review found it, and its near miss.

- a zinc-dose note (C23) at order time printed the patient's age, which the rule never needed;
- "C-reactive protein: no result" was listed while a high-sensitivity CRP was on file;
- the tyrosine limitation (Jongkees 2015) was printed on every catecholaminergic card, the
  iron-deficiency card included.
(The citation defects are in tests/test_check_knowledge.py.)
"""

from __future__ import annotations

from typing import Any

from cds_service.knowledge import KnowledgeBase
from tests.factories import (
    draft_order,
    hook_request,
    observation,
    patient,
    prefetch_for,
)
from tests.helpers import card_with_rule, run_hook

CRP_LOW = observation("30522-7", 0.8, "mg/L")


def view(kb: KnowledgeBase, *resources: dict[str, Any], age: int = 45, gender: str = "female"):
    prefetch = prefetch_for(*resources, patient_resource=patient(age=age, gender=gender))
    return run_hook(kb, hook_request(prefetch=prefetch)).response


def test_a_zinc_dose_note_names_the_dose_not_the_age(kb: KnowledgeBase) -> None:
    prefetch = prefetch_for(patient_resource=patient(age=76, gender="male"))
    request = hook_request(
        "order-sign", prefetch=prefetch, draft_orders=[draft_order("Zinc 50 MG", dose=(50, "mg"))]
    )
    cards = run_hook(kb, request).response["cards"]
    [card] = [c for c in cards if "C23" in c["detail"]]
    assert "50 mg/day" in card["detail"]  # the dose that decided it is shown
    assert "Age:" not in card["detail"] and "76 years" not in card["detail"]


def test_a_zinc_dose_at_the_limit_gives_no_c23_note(kb: KnowledgeBase) -> None:
    prefetch = prefetch_for(patient_resource=patient(age=76, gender="male"))
    request = hook_request(
        "order-sign", prefetch=prefetch, draft_orders=[draft_order("Zinc 40 MG", dose=(40, "mg"))]
    )
    assert not any("C23" in c["detail"] for c in run_hook(kb, request).response["cards"])


def test_crp_is_not_reported_missing_when_hs_crp_is_on_file(kb: KnowledgeBase) -> None:
    response = view(kb, observation("2276-4", 9, "ng/mL"), observation("30522-7", 0.8, "mg/L"))
    detail = card_with_rule(response, "iron-deficiency")["detail"]
    assert "No current result" not in detail  # neither CRP is called missing
    assert "hs-CRP **0.8 mg/L**" in detail


def test_crp_is_still_reported_missing_when_no_crp_of_either_kind_exists(
    kb: KnowledgeBase,
) -> None:
    response = view(kb, observation("2276-4", 9, "ng/mL"))
    detail = card_with_rule(response, "iron-ferritin-needs-crp")["detail"]
    [row] = [line for line in detail.splitlines() if "No current result" in line]
    assert "hs-CRP" in row and "CRP," not in row  # named once, as the test to order


def test_the_iron_card_carries_no_tyrosine_limitation(kb: KnowledgeBase) -> None:
    response = view(kb, observation("2276-4", 9, "ng/mL"), CRP_LOW, age=60)
    detail = card_with_rule(response, "iron-deficiency")["detail"]
    assert "Iron deficiency" in detail
    assert "potential to treat clinical disorders" not in detail


def test_the_tyrosine_option_still_states_its_limitation(kb: KnowledgeBase) -> None:
    response = view(
        kb,
        observation("44261-6", 12, "{score}"),
        observation("71963-3", 66, "{score}"),
        observation("3016-3", 1.8, "mIU/L"),
        age=60,
    )
    card = card_with_rule(response, "catecholamine-precursor-option")
    # The option's grade is on the card; its limitation ("potential to treat clinical
    # disorders seems limited") is on its knowledge page, one click away.
    assert "L-tyrosine" in card["detail"] and "grade C" in card["detail"]
