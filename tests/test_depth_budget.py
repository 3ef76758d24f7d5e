"""The card budget of issue 15 on every issue-17 scenario (tests/depth_scenarios.py).

Issue 17 adds findings, causes, rechecks and answers as engine output; issue 15 (the lead)
rewrites the patient-view renderer (cards/pathway.py, cards/detail.py) to fit them in the
budget. This test runs the budget (tests/budget.py) per scenario and per aspect:

- "cards": at most 3 cards; "order": critical, then warning, then info;
- "summary": at most 140 characters, never cut with an ellipsis;
- "detail": at most 1,200 characters.

OVER_BUDGET_TODAY lists the aspects today's renderer breaches, as strict expected failures:
nearly every detail (each pathway card prints every band, limitation, check and the long
footer; 2,300-6,300 characters), summaries led by the pathway name and cut with "…", one card
per pathway (4 cards for a depressed patient with options on four pathways), and a warning
option card ranked after info cards by pathway order. The clinical behaviour of each scenario
is asserted, without any expected failure, in tests/test_depth_*.py. When the rewrite brings an
aspect within budget its entry here fails as XPASS: delete the entry.
"""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.knowledge import KnowledgeBase
from tests.budget import ASPECTS, assert_within_budget, budget_problems
from tests.depth_scenarios import SCENARIOS
from tests.helpers import run_hook

# Scenario -> aspects today's renderer breaches (measured on this branch; see the docstring).
OVER_BUDGET_TODAY: dict[str, set[str]] = {
    "severe_hypomagnesaemia_on_omeprazole": {"summary", "detail"},
    "magnesium_055_near_miss": {"detail"},
    "severe_hypomagnesaemia_on_furosemide_with_alcohol_use_disorder": {"summary", "detail"},
    "vitamin_d_deficient_with_high_calcium": {"detail"},
    "vitamin_d_deficient_calcium_103_near_miss": {"detail"},
    "tsh_suppressed": {"summary", "detail"},
    "tsh_03_near_miss": {"detail"},
    "man_68_with_low_ferritin": {"detail"},
    "man_68_with_iron_deficiency_anaemia": {"detail"},
    "woman_35_with_low_ferritin_near_miss": {"detail"},
    "b12_deficient_on_metformin_with_pernicious_anaemia": {"detail"},
    "b12_deficient_no_cause_on_record": {"detail"},
    "equivocal_hcg": {"detail"},
    "phq2_positive_without_phq9": {"detail"},
    "woman_40_phq9_21_untreated": {"detail"},
    "promis_depression_72_untreated": {"detail"},
    "phq9_16_on_sertraline_near_miss": {"order", "summary", "detail"},
    "phq9_14_untreated_near_miss": {"summary", "detail"},
    "phq9_12_without_antidepressant": {"cards", "summary", "detail"},
    "pregnant_on_sertraline_phq9_16": {"summary", "detail"},
    "bipolar_on_sertraline_phq9_16": {"cards", "summary", "detail"},
    "isoniazid": {"summary", "detail"},
    "on_b12_for_4_months_no_result_since": {"detail"},
    "on_b12_result_since_not_reached": {"detail"},
    "on_vitamin_d_for_4_months_after_deficiency": {"detail"},
    "on_iron_for_6_weeks_anaemic": {"detail"},
    "phq9_item9_positive": {"detail"},
    "prior_attempt_with_depressive_symptoms": {"cards", "detail"},
    "prior_attempt_without_mood_data_near_miss": {"detail"},
    "current_suicide_attempt": {"detail"},
    "resolved_attempt_with_depression_on_record": {"detail"},
    "cssrs_suicidal_thoughts_yes": {"detail"},
    "cssrs_all_no_near_miss": {"detail"},
    "cssrs_recent_behaviour_yes": {"detail"},
    "cssrs_lifetime_behaviour_with_phq2_positive": {"detail"},
    "cssrs_lifetime_behaviour_alone_near_miss": {"detail"},
}

REASONS = {
    "cards": "one card per pathway under today's renderer (issue 15 groups by action)",
    "order": "a warned option card follows info cards in pathway order (issue 15)",
    "summary": "pathway-name prefix and an ellipsis cut under today's renderer (issue 15)",
    "detail": "every band, limitation and the long footer on the card (issue 15)",
}


def _params() -> list[Any]:
    params = []
    for name in SCENARIOS:
        for aspect in ASPECTS:
            marks = []
            if aspect in OVER_BUDGET_TODAY.get(name, set()):
                marks.append(pytest.mark.xfail(strict=True, reason=REASONS[aspect]))
            params.append(pytest.param(name, aspect, marks=marks, id=f"{name}-{aspect}"))
    return params


@pytest.mark.parametrize(("name", "aspect"), _params())
def test_scenario_fits_the_card_budget(kb: KnowledgeBase, name: str, aspect: str) -> None:
    assert_within_budget(run_hook(kb, SCENARIOS[name]()).response, (aspect,))


def test_the_list_of_breaches_names_only_known_scenarios_and_aspects() -> None:
    assert set(OVER_BUDGET_TODAY) <= set(SCENARIOS)
    assert all(aspects <= set(ASPECTS) for aspects in OVER_BUDGET_TODAY.values())


def _card(summary: str = "Finding: action", detail: str = "x", indicator: str = "info") -> dict:
    return {
        "summary": summary,
        "detail": detail,
        "indicator": indicator,
        "source": {"label": "s", "topic": {"code": "t"}},
    }


def test_the_budget_catches_each_breach() -> None:
    fine = {"cards": [_card(indicator="critical"), _card(indicator="warning"), _card()]}
    assert not any(budget_problems(fine).values())
    assert budget_problems({"cards": [_card()] * 4})["cards"]
    assert budget_problems({"cards": [_card(), _card(indicator="warning")]})["order"]
    assert budget_problems({"cards": [_card(summary="x" * 141)]})["summary"]
    assert budget_problems({"cards": [_card(summary="Cut short…")]})["summary"]
    assert not budget_problems({"cards": [_card(summary="x" * 140)]})["summary"]
    assert budget_problems({"cards": [_card(detail="x" * 1201)]})["detail"]
    assert not budget_problems({"cards": [_card(detail="x" * 1200)]})["detail"]
