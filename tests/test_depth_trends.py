"""Issue 17, trends in the inputs: the snapshot keeps the previous usable result of each measure,
converted to the same canonical unit, and every input row on a card shows it with its date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cds_service.knowledge import KnowledgeBase
from cds_service.snapshot.reader import build_snapshot
from tests.factories import hook_request, observation, patient, prefetch_for
from tests.helpers import card_with_rule, run_hook


def snapshot_of(kb: KnowledgeBase, *resources: dict[str, Any], gender: str = "female"):
    prefetch = prefetch_for(*resources, patient_resource=patient(gender=gender))
    return build_snapshot(
        kb, patient_id="pat-1", now=datetime.now(UTC), prefetch_values=prefetch.values()
    )


def test_the_previous_result_is_converted_to_the_canonical_unit(kb: KnowledgeBase) -> None:
    snapshot = snapshot_of(
        kb,
        observation("2132-9", 185, "pg/mL", days=10),
        observation("14685-2", 150, "pmol/L", days=120),  # = 203.3 pg/mL
        observation("2132-9", 400, "pg/mL", days=400),  # older still: not kept
    )
    fact = snapshot.labs["vitamin-b12"]
    assert fact.value == 185 and fact.band == "deficient"
    previous = fact.previous
    assert previous is not None
    assert previous.unit == "pg/mL" and round(previous.value or 0, 1) == 203.3
    assert previous.band == "indeterminate" and previous.reported == "150 pmol/L"
    assert (datetime.now(UTC) - previous.effective).days in (119, 120)
    assert previous.previous is None  # one step of history, not a chain


def test_an_unusable_result_is_passed_over_quietly_on_the_way_to_the_previous_one(
    kb: KnowledgeBase,
) -> None:
    preliminary = observation("2132-9", 900, "pg/mL", days=30, status="preliminary")
    unitless_text = observation("2132-9", None, None, days=60, valueString="<100")
    snapshot = snapshot_of(
        kb,
        observation("2132-9", 185, "pg/mL", days=10),
        preliminary,
        unitless_text,
        observation("2132-9", 260, "pg/mL", days=90),
    )
    previous = snapshot.labs["vitamin-b12"].previous
    assert previous is not None and previous.value == 260
    ignored = {i.ref for i in snapshot.ignored}
    # The preliminary result is named (status is checked on every result, as before); the
    # older text value was never a candidate for the result, so it is not "not checked".
    assert f"Observation/{preliminary['id']}" in ignored
    assert f"Observation/{unitless_text['id']}" not in ignored


def test_a_single_result_has_no_previous(kb: KnowledgeBase) -> None:
    snapshot = snapshot_of(kb, observation("2132-9", 185, "pg/mL"))
    assert snapshot.labs["vitamin-b12"].previous is None


def test_the_previous_result_gets_the_sex_specific_band_too(kb: KnowledgeBase) -> None:
    snapshot = snapshot_of(
        kb,
        observation("2276-4", 120, "ng/mL", days=10),
        observation("2276-4", 180, "ng/mL", days=100),
        gender="male",
    )
    fact = snapshot.labs["ferritin"]
    assert fact.band == "adequate"
    assert fact.previous is not None and fact.previous.band == "adequate"  # > 150 is overload
    female = snapshot_of(
        kb,
        observation("2276-4", 120, "ng/mL", days=10),
        observation("2276-4", 180, "ng/mL", days=100),
        gender="female",
    )
    assert female.labs["ferritin"].previous.band == "overload"  # type: ignore[union-attr]


def test_a_stale_result_keeps_its_previous_too(kb: KnowledgeBase) -> None:
    snapshot = snapshot_of(
        kb,
        observation("2276-4", 20, "ng/mL", days=400),
        observation("2276-4", 35, "ng/mL", days=700),
    )
    stale = snapshot.stale_labs["ferritin"]
    assert stale.previous is not None and stale.previous.value == 35


def test_every_input_row_shows_the_previous_result_with_its_date(kb: KnowledgeBase) -> None:
    earlier = datetime.now(UTC) - timedelta(days=120)
    prefetch = prefetch_for(
        observation("2132-9", 185, "pg/mL", days=10),
        observation("2132-9", 240, "pg/mL", days=120),
        patient_resource=patient(age=45),
    )
    detail = card_with_rule(
        run_hook(kb, hook_request(prefetch=prefetch)).response, "b12-deficient"
    )["detail"]
    [row] = [line for line in detail.splitlines() if line.startswith("- B12 ")]
    assert "**185 pg/mL**" in row and "deficient" in row
    assert f"previous 240 pg/mL ({earlier.date().isoformat()})" in row


def test_a_row_without_history_shows_no_previous(kb: KnowledgeBase) -> None:
    prefetch = prefetch_for(observation("2132-9", 185, "pg/mL"), patient_resource=patient(age=45))
    detail = card_with_rule(
        run_hook(kb, hook_request(prefetch=prefetch)).response, "b12-deficient"
    )["detail"]
    [row] = [line for line in detail.splitlines() if line.startswith("- B12 ")]
    assert "previous" not in row
