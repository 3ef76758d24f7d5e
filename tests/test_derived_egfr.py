"""eGFR derived from creatinine (CKD-EPI 2021) when no current eGFR was sent: the value, when it
is and is not derived, that the safety rules reading eGFR act on it at their boundaries, and
that the card says what it was derived from."""

from __future__ import annotations

import math
from typing import Any

import pytest

from cds_service.engine.safety import check_intervention
from cds_service.knowledge import KnowledgeBase
from cds_service.snapshot.facts import LabFact, PatientSnapshot
from tests.factories import (
    hook_request,
    observation,
    patient,
    prefetch_for,
)
from tests.helpers import card_with_rule, run_hook, snapshot_of

Obs = dict[str, Any]


def serum(value: float, unit: str = "mg/dL", **kw: Any) -> Obs:
    code = "2160-0" if unit == "mg/dL" else "14682-9"
    return observation(code, value, unit, **kw)


def reference_egfr(scr: float, age: int, female: bool) -> float:
    """CKD-EPI 2021 as published (NKF): written out piecewise, independently of the service."""
    kappa, alpha = (0.7, -0.241) if female else (0.9, -0.302)
    exponent = alpha if scr <= kappa else -1.200  # the spline bends at Scr = kappa
    value: float = 142 * (scr / kappa) ** exponent * 0.9938**age
    return value * 1.012 if female else value


def creatinine_for(egfr: float, age: int) -> float:
    """The serum creatinine (mg/dL, male, above kappa) that gives this eGFR: the inverse."""
    scr: float = 0.9 * (egfr / (142 * 0.9938**age)) ** (1 / -1.200)
    return scr


def derived(
    kb: KnowledgeBase, *resources: Obs, age: int | None = 55, gender: str = "female"
) -> tuple[PatientSnapshot, LabFact | None]:
    snapshot = snapshot_of(kb, *resources, patient_resource=patient(age=age, gender=gender))
    return snapshot, snapshot.labs.get("egfr")


def test_published_worked_example(kb: KnowledgeBase) -> None:
    # 55-year-old woman, creatinine 0.9 mg/dL: 142 x (0.9/0.7)^-1.2 x 0.9938^55 x 1.012 = 75.5
    # (the NKF-style worked example rounds its intermediate terms to about 76).
    _, fact = derived(kb, serum(0.9))
    assert fact is not None and fact.derivation is not None
    assert fact.value == pytest.approx(75.495, abs=0.01)
    assert fact.band == "g1-g2"
    assert fact.derivation.label == "CKD-EPI 2021"
    assert fact.derivation.age == 55 and fact.derivation.sex == "female"


def test_si_creatinine_gives_the_same_value(kb: KnowledgeBase) -> None:
    _, conventional = derived(kb, serum(0.9))
    _, si = derived(kb, serum(0.9 * 88.4, "umol/L"))
    assert conventional is not None and si is not None
    assert si.value == pytest.approx(conventional.value, rel=1e-9)


@pytest.mark.parametrize("gender", ["female", "male"])
@pytest.mark.parametrize("scr", [0.4, 0.69, 0.7, 0.71, 0.9, 1.3, 2.5, 6.0])
@pytest.mark.parametrize("age", [18, 40, 65, 90])
def test_value_matches_the_published_equation(
    kb: KnowledgeBase, gender: str, scr: float, age: int
) -> None:
    _, fact = derived(kb, serum(scr), age=age, gender=gender)
    assert fact is not None
    assert fact.value == pytest.approx(reference_egfr(scr, age, gender == "female"), rel=1e-6)


@pytest.mark.parametrize(
    ("resources", "age", "gender", "reason"),
    [
        ([serum(1.0)], 50, "unknown", "sex not recorded as female or male"),
        ([serum(1.0)], 50, "other", "sex not recorded as female or male"),
        ([serum(1.0)], None, "female", "age unknown (no birth date)"),
        ([serum(1.0)], 17, "female", "CKD-EPI 2021 is for patients aged 18 or over"),
        ([serum(0.5, comparator="<")], 50, "female", "the result is a bound (<0.5 mg/dL)"),
        (
            [observation("38483-4", 1.2, "mg/dL")],  # Synthea's whole-blood creatinine
            50,
            "female",
            "not derived from creatinine, whole blood 1.2 mg/dL on",
        ),
        ([serum(1.0, days=91)], 50, "female", None),  # stale: nothing current to derive from
        ([serum(1.0, status="preliminary")], 50, "female", None),
    ],
)
def test_not_derived_and_why(
    kb: KnowledgeBase, resources: list[Obs], age: int | None, gender: str, reason: str | None
) -> None:
    snapshot, fact = derived(kb, *resources, age=age, gender=gender)
    assert fact is None
    note = snapshot.notes.get("egfr")
    if reason is None:
        assert note is None
    else:
        assert note is not None and reason in note, note


def test_whole_blood_note_says_which_creatinine_the_equation_uses(kb: KnowledgeBase) -> None:
    snapshot, _ = derived(kb, observation("38483-4", 1.2, "mg/dL"))
    assert snapshot.notes["egfr"].endswith("CKD-EPI 2021 uses creatinine, serum or plasma only")


def test_a_reported_egfr_is_used_not_a_derived_one(kb: KnowledgeBase) -> None:
    _, fact = derived(kb, serum(3.0), observation("98979-8", 75, "mL/min/{1.73_m2}"))
    assert fact is not None and fact.derivation is None and fact.value == 75


def test_a_stale_reported_egfr_gives_way_to_a_current_creatinine(kb: KnowledgeBase) -> None:
    snapshot, fact = derived(
        kb, serum(3.0, days=5), observation("98979-8", 75, "mL/min/{1.73_m2}", days=120)
    )
    assert fact is not None and fact.derivation is not None
    assert fact.band in ("g4", "g5")
    assert "egfr" not in snapshot.stale_labs


def test_whole_blood_creatinine_does_not_hide_a_serum_one(kb: KnowledgeBase) -> None:
    _, fact = derived(kb, serum(0.9, days=20), observation("38483-4", 3.0, "mg/dL", days=2))
    assert fact is not None
    assert fact.derivation is not None and fact.derivation.inputs[0].code == "2160-0"


# -- Safety rules that read eGFR act on the derived value, at their boundaries ---------------

AGE = 60


def magnesium_rules(kb: KnowledgeBase, *resources: Obs) -> dict[str, str]:
    snapshot = snapshot_of(kb, *resources, patient_resource=patient(age=AGE, gender="male"))
    hits = check_intervention(kb.interventions["magnesium"], snapshot, kb)
    return {hit.rule.id: hit.rule.action for hit in hits}


@pytest.mark.parametrize(
    ("target", "band", "present", "absent"),
    [
        (29.9, "g4", {"C10"}, {"C11", "C24.egfr"}),
        (30.1, "g3b", {"C11"}, {"C10", "C24.egfr"}),
        (59.9, "g3a", {"C11"}, {"C10", "C24.egfr"}),
        (60.1, "g1-g2", set(), {"C10", "C11", "C24.egfr"}),
    ],
)
def test_kidney_rules_read_the_derived_egfr(
    kb: KnowledgeBase, target: float, band: str, present: set[str], absent: set[str]
) -> None:
    scr = creatinine_for(target, AGE)
    snapshot = snapshot_of(kb, serum(scr), patient_resource=patient(age=AGE, gender="male"))
    fact = snapshot.labs["egfr"]
    assert fact.value == pytest.approx(target, abs=1e-6) and fact.band == band
    fired = magnesium_rules(kb, serum(scr))
    assert present <= set(fired), fired
    assert not (absent & set(fired)), fired


def test_without_a_usable_creatinine_egfr_is_still_ordered(kb: KnowledgeBase) -> None:
    fired = magnesium_rules(kb, observation("38483-4", 1.0, "mg/dL"))
    assert fired.get("C24.egfr") == "block"
    assert "C24.egfr" not in magnesium_rules(kb, serum(1.0))


def test_card_says_why_no_egfr_was_derived(kb: KnowledgeBase) -> None:
    request = hook_request(
        prefetch=prefetch_for(
            observation("38483-4", 1.2, "mg/dL"),
            observation("19123-9", 1.5, "mg/dL"),
            patient_resource=patient(age=70, gender="male"),
        )
    )
    card = card_with_rule(run_hook(kb, request).response, "magnesium-low-needs-egfr")
    row = next(line for line in card["detail"].splitlines() if "No current result" in line)
    assert "eGFR (not derived from creatinine, whole blood 1.2 mg/dL" in row


def test_the_equation_does_not_round_up_across_a_threshold(kb: KnowledgeBase) -> None:
    scr = creatinine_for(29.96, AGE)
    snapshot = snapshot_of(kb, serum(scr), patient_resource=patient(age=AGE, gender="male"))
    assert snapshot.labs["egfr"].band == "g4"
    assert math.isclose(snapshot.labs["egfr"].value, 29.96, abs_tol=1e-6)


# -- The card says what the value was derived from ---------------------------------------------


def test_card_input_table_names_the_creatinine_and_the_equation(kb: KnowledgeBase) -> None:
    creatinine = serum(2.1, days=3)
    request = hook_request(
        prefetch=prefetch_for(
            creatinine,
            observation("19123-9", 1.5, "mg/dL"),  # magnesium low: the GABA card reads eGFR
            patient_resource=patient(age=70, gender="male"),
        )
    )
    card = card_with_rule(run_hook(kb, request).response, "magnesium-low")
    date = creatinine["effectiveDateTime"][:10]
    assert f"eGFR **33.2 mL/min/1.73 m² (calculated)** on {date}" in card["detail"]
    assert "(derived from creatinine 2.1 mg/dL, CKD-EPI 2021; age 70, male)" in card["detail"]
    assert "G3b" in card["detail"]
