"""Issue 17, follow-up of a supplement already taken: never suggested again; the recheck due
per follow_up.yaml from the start date (the test suggested when no result since), not before;
a result since the start shown as before -> after with dates and whether the target was
reached. Pure stages (snapshot baselines, engine/focus.py) and the whole pipeline."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from cds_service.engine.assess import assess
from cds_service.engine.focus import current_supplements
from cds_service.knowledge import KnowledgeBase
from cds_service.snapshot.reader import build_snapshot
from tests.depth_scenarios import SCENARIOS
from tests.factories import medication_request, medication_statement, observation, patient
from tests.factories import prefetch_for as prefetch_with
from tests.helpers import run_hook, suggested_resources


def respond(kb: KnowledgeBase, name: str) -> dict[str, Any]:
    return run_hook(kb, SCENARIOS[name]()).response


def codes(response: dict[str, Any]) -> set[str]:
    return {
        (r.get("medicationCodeableConcept") or r["code"])["coding"][0]["code"]
        for card in response["cards"]
        for r in suggested_resources(card)
    }


def supplements(kb: KnowledgeBase, *resources: dict[str, Any]):
    prefetch = prefetch_with(*resources, patient_resource=patient(age=50))
    snapshot = build_snapshot(
        kb, patient_id="pat-1", now=datetime.now(UTC), prefetch_values=prefetch.values()
    )
    return snapshot, current_supplements(assess(snapshot, kb), snapshot, kb)


def ago(days: float) -> date:
    return (datetime.now(UTC) - timedelta(days=days)).date()


# -- Pure: the snapshot's baseline and the engine's decision ----------------------------------


def test_the_baseline_is_the_newest_result_on_or_before_the_start(kb: KnowledgeBase) -> None:
    snapshot, [b12] = supplements(
        kb,
        observation("2132-9", 150, "pg/mL", days=300),
        observation("14685-2", 140, "pmol/L", days=130),  # 189.7 pg/mL: the baseline
        observation("2132-9", 420, "pg/mL", days=5),
        medication_statement("Vitamin B12 1000 MCG", "11248", days=120),
    )
    baseline = snapshot.baselines["vitamin-b12"]
    assert round(baseline.value or 0, 1) == 189.7 and baseline.unit == "pg/mL"
    [recheck] = b12.rechecks
    assert recheck.status == "result-since" and recheck.reached is True
    assert recheck.baseline is baseline and recheck.latest.value == 420  # type: ignore[union-attr]
    assert b12.since is not None and b12.since.date() == ago(120)


def test_no_baseline_is_read_for_a_measure_no_current_supplement_follows(
    kb: KnowledgeBase,
) -> None:
    snapshot, current = supplements(kb, observation("2132-9", 150, "pg/mL", days=130))
    assert current == () and snapshot.baselines == {}


def test_the_recheck_is_due_from_start_plus_interval(kb: KnowledgeBase) -> None:
    interval = kb.follow_ups["vitamin-b12-oral"][0].recheck_after_days
    start = interval + 3
    _, [b12] = supplements(
        kb,
        observation("2132-9", 185, "pg/mL", days=start + 10),
        medication_statement("Vitamin B12 1000 MCG", "11248", days=start),
    )
    [recheck] = b12.rechecks
    assert recheck.status == "due" and recheck.due == ago(start) + timedelta(days=interval)
    assert recheck.suggests_test
    _, [early] = supplements(
        kb,
        observation("2132-9", 185, "pg/mL", days=interval),
        medication_statement("Vitamin B12 1000 MCG", "11248", days=interval - 2),
    )
    assert early.rechecks[0].status == "not-due" and not early.rechecks[0].suggests_test


def test_a_stopped_supplement_is_not_taken(kb: KnowledgeBase) -> None:
    _, current = supplements(
        kb,
        observation("2132-9", 185, "pg/mL", days=130),
        medication_statement("Vitamin B12 1000 MCG", "11248", days=120, status="stopped"),
    )
    assert current == ()


def test_a_recheck_only_follows_a_treated_deficiency(kb: KnowledgeBase) -> None:
    _, [b12] = supplements(
        kb,
        observation("2132-9", 450, "pg/mL", days=130),
        medication_statement("Vitamin B12 1000 MCG", "11248", days=120),
    )
    assert b12.rechecks[0].status == "not-indicated" and not b12.actionable


def test_without_a_start_date_a_result_outside_the_target_is_for_review(
    kb: KnowledgeBase,
) -> None:
    statement = medication_statement("Vitamin B12 1000 MCG", "11248")
    del statement["effectivePeriod"]
    _, [b12] = supplements(kb, observation("2132-9", 160, "pg/mL", days=10), statement)
    [recheck] = b12.rechecks
    assert b12.since is None and recheck.status == "start-unknown"
    assert recheck.reached is False and recheck.actionable and not recheck.suggests_test


# -- Through the pipeline ----------------------------------------------------------------------


def test_b12_for_four_months_with_no_result_since_gets_the_recheck(kb: KnowledgeBase) -> None:
    response = respond(kb, "on_b12_for_4_months_no_result_since")
    [card] = response["cards"]
    assert card["source"]["topic"]["code"] == "follow-up"
    assert card["summary"].startswith(f"Taking oral B12 since {ago(120).isoformat()}: ")
    assert "B12 recheck due" in card["summary"]
    assert codes(response) == {kb.lab_orders["b12"].code.code}
    detail = card["detail"]
    assert "not suggested again" in detail.lower()
    assert f"before the start: 185 pg/mL, deficient ({ago(130).isoformat()})" in detail
    assert "`follow-up.vitamin-b12`, grade" in detail
    # Never suggested again, and no second card about the same deficiency.
    assert kb.interventions["vitamin-b12-oral"].ingredient.code not in codes(response)


def test_a_recheck_not_yet_due_suggests_nothing(kb: KnowledgeBase) -> None:
    response = respond(kb, "on_b12_for_6_weeks_recheck_not_yet_due")
    assert response["cards"] == []  # being treated; nothing to do before the recheck day


def test_a_result_since_the_start_shows_before_and_after(kb: KnowledgeBase) -> None:
    response = respond(kb, "on_b12_result_since_not_reached")
    [card] = response["cards"]
    change = f"185 pg/mL ({ago(130).isoformat()}) → 190 pg/mL ({ago(5).isoformat()})"
    assert change in card["detail"] and "not in the target range" in card["detail"]
    assert change in card["summary"]
    assert codes(response) == set()  # no test (there is one), no B12 again


def test_a_target_reached_is_no_card_of_its_own(kb: KnowledgeBase) -> None:
    assert respond(kb, "on_b12_result_since_reached")["cards"] == []


def test_otc_b12_with_normal_results_is_left_alone(kb: KnowledgeBase) -> None:
    assert respond(kb, "on_otc_b12_with_normal_results")["cards"] == []


def test_vitamin_d_recheck_after_a_treated_deficiency(kb: KnowledgeBase) -> None:
    response = respond(kb, "on_vitamin_d_for_4_months_after_deficiency")
    assert codes(response) == {kb.lab_orders["vitamin-d"].code.code}
    assert "service default" in response["cards"][0]["detail"]


def test_iron_rechecks_run_on_their_own_intervals(kb: KnowledgeBase) -> None:
    response = respond(kb, "on_iron_for_6_weeks_anaemic")
    assert codes(response) == {kb.lab_orders["cbc"].code.code}  # Hb due at 4 weeks
    detail = response["cards"][0]["detail"]
    assert f"Ferritin recheck due from {(ago(42) + timedelta(days=84)).isoformat()}" in detail
    assert kb.interventions["iron"].ingredient.code not in codes(response)
    # The iron-deficiency finding is being treated: no pathway card repeats it.
    assert [c["source"]["topic"]["code"] for c in response["cards"]] == ["follow-up"]


def test_a_supplement_taken_is_not_suggested_again_even_with_the_finding(
    kb: KnowledgeBase,
) -> None:
    prefetch = prefetch_with(
        observation("19123-9", 1.5, "mg/dL"),  # 0.62 mmol/L: low, magnesium would be offered
        observation("98979-8", 80, "mL/min/{1.73_m2}"),
        medication_request("6582", "Magnesium oxide 400 MG", days=20),
        patient_resource=patient(age=50),
    )
    from tests.factories import hook_request

    response = run_hook(kb, hook_request(prefetch=prefetch)).response
    assert kb.interventions["magnesium"].ingredient.code not in codes(response)
