"""The tolerant reader: units, comparators, statuses, dates, other patients, odd shapes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cds_service.knowledge import KnowledgeBase
from cds_service.snapshot.reader import build_snapshot
from tests.factories import PATIENT_ID, bundle, medication_request, observation, patient


def snap(kb: KnowledgeBase, *resources: dict, **kwargs: object):  # type: ignore[no-untyped-def]
    return build_snapshot(
        kb,
        patient_id=PATIENT_ID,
        now=datetime.now(UTC),
        prefetch_values=[patient(), bundle(*resources)],
        **kwargs,  # type: ignore[arg-type]
    )


def test_si_units_are_converted_to_the_canonical_unit(kb: KnowledgeBase) -> None:
    s = snap(kb, observation("14685-2", 147.6, "pmol/L"))
    fact = s.labs["vitamin-b12"]
    assert fact.unit == "pg/mL"
    assert fact.value == pytest.approx(200.0)
    assert fact.band == "indeterminate"  # 147.6 pmol/L is exactly 200 pg/mL


def test_latest_usable_result_wins(kb: KnowledgeBase) -> None:
    s = snap(
        kb,
        observation("2132-9", 150, "pg/mL", days=100),
        observation("2132-9", 450, "pg/mL", days=5),
        observation("2132-9", 120, "pg/mL", days=1, status="preliminary"),
        observation("2132-9", 110, "pg/mL", days=0.5, status="entered-in-error"),
    )
    assert s.labs["vitamin-b12"].value == 450
    reasons = {i.reason for i in s.ignored}
    assert "status 'preliminary' is not final" in reasons
    assert "status 'entered-in-error' is not final" in reasons


def test_stale_results_are_not_current(kb: KnowledgeBase) -> None:
    s = snap(kb, observation("2132-9", 150, "pg/mL", days=400))
    assert "vitamin-b12" not in s.labs
    assert s.stale_labs["vitamin-b12"].stale is True


@pytest.mark.parametrize(
    ("comparator", "value", "band"),
    [
        ("<", 150, "deficient"),
        ("<", 200, "deficient"),
        ("<=", 200, None),
        ("<", 250, None),
        (">", 300, "adequate"),
        (">=", 300, None),
    ],
)
def test_comparators_are_bounds_not_numbers(
    kb: KnowledgeBase, comparator: str, value: float, band: str | None
) -> None:
    s = snap(kb, observation("2132-9", value, "pg/mL", comparator=comparator))
    fact = s.labs["vitamin-b12"]
    assert fact.comparator == comparator
    assert fact.band == band


def test_unusable_values_are_recorded_with_a_reason(kb: KnowledgeBase) -> None:
    s = snap(
        kb,
        observation("2132-9", 150, "furlongs"),
        observation("2132-9", None, None, valueString="<150"),
        observation("2132-9", float("nan"), "pg/mL"),
        observation("2132-9", 150, "pg/mL", patient_id="someone-else"),
        observation("2132-9", 150, "pg/mL", days=-30),
        {
            "resourceType": "Observation",
            "id": "no-date",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "2132-9"}]},
            "valueQuantity": {"value": 100, "unit": "pg/mL"},
        },
    )
    assert "vitamin-b12" not in s.labs
    reasons = [i.reason for i in s.ignored]
    assert any("furlongs" in r for r in reasons)
    assert "value given as text, not as a quantity" in reasons
    assert "value is not a finite number" in reasons
    assert "a different patient" in reasons
    assert "dated in the future" in reasons
    assert "no date" in reasons


def test_missing_unit_falls_back_to_the_unit_of_the_loinc_code(kb: KnowledgeBase) -> None:
    s = snap(kb, observation("14685-2", 100, None))
    assert s.labs["vitamin-b12"].value == pytest.approx(100 / 0.738)


def test_loinc_oid_system_is_recognised(kb: KnowledgeBase) -> None:
    s = snap(kb, observation("2132-9", 150, "pg/mL", system="urn:oid:2.16.840.1.113883.6.1"))
    assert s.labs["vitamin-b12"].band == "deficient"


def test_garbage_never_raises(kb: KnowledgeBase) -> None:
    garbage = [
        {"resourceType": "Observation", "code": "2132-9"},
        {"resourceType": "Observation", "code": {"coding": "nope"}},
        {"resourceType": "Observation", "code": {"coding": [None, 1, {"code": 5}]}},
        {"resourceType": "MedicationRequest", "medicationCodeableConcept": 7, "status": 3},
        {"resourceType": "Condition", "code": [], "clinicalStatus": {"coding": [1]}},
        {"resourceType": "Patient", "id": PATIENT_ID, "birthDate": "not-a-date"},
    ]
    s = build_snapshot(
        kb,
        patient_id=PATIENT_ID,
        now=datetime.now(UTC),
        prefetch_values=[bundle(*garbage), "x", None, 5],
    )
    assert s.patient_found and s.birth_date is None


def test_drafts_without_bundle_type_and_dstu2_shapes(kb: KnowledgeBase) -> None:
    draft_orders = {
        "resourceType": "Bundle",
        "entry": [
            {
                "resource": {
                    "resourceType": "MedicationOrder",
                    "id": "order-123",
                    "status": "draft",
                    "medicationCodeableConcept": {"text": "Something"},
                }
            },
            {
                "resource": medication_request(
                    None, "Another", status="draft", resource_id="request-123"
                )
            },
            {
                "resource": {
                    "resourceType": "ServiceRequest",
                    "id": "sr-1",
                    "status": "draft",
                    "code": {"text": "MRI"},
                }
            },
        ],
    }
    s = snap(kb, draft_orders=draft_orders, selections=["MedicationOrder/order-123"])
    assert [d.ref for d in s.drafts] == [
        "MedicationOrder/order-123",
        "MedicationRequest/request-123",
    ]
    assert s.drafts[0].selected and not s.drafts[1].selected
    assert s.other_drafts[0].resource_type == "ServiceRequest"
