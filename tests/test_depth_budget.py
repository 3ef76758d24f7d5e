"""The card budget (issue 15) on every issue-17 scenario (tests/depth_scenarios.py), aspect by
aspect: at most 3 cards; critical, then warning, then info; every summary under 140 characters
and never cut with an ellipsis; every detail at most 1,200 characters. The clinical behaviour
of each scenario is asserted in tests/test_depth_*.py.
"""

from __future__ import annotations

import pytest

from cds_service.knowledge import KnowledgeBase
from tests.budget import ASPECTS, assert_within_budget, budget_problems
from tests.depth_scenarios import SCENARIOS
from tests.helpers import run_hook


@pytest.mark.parametrize("aspect", ASPECTS)
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_fits_the_card_budget(kb: KnowledgeBase, name: str, aspect: str) -> None:
    assert_within_budget(run_hook(kb, SCENARIOS[name]()).response, (aspect,))


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
    assert budget_problems({"cards": [_card(summary="x" * 140)]})["summary"]
    assert budget_problems({"cards": [_card(summary="Cut short…")]})["summary"]
    assert not budget_problems({"cards": [_card(summary="x" * 139)]})["summary"]
    assert budget_problems({"cards": [_card(detail="x" * 1201)]})["detail"]
    assert not budget_problems({"cards": [_card(detail="x" * 1200)]})["detail"]
