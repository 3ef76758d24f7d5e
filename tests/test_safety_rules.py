"""Every safety rule of clinical-reference §5, both ways: a patient where it fires for the
suggestion it governs, and a near-miss where it must not (outside the washout window, refuted
or family-history condition, carbidopa present, eGFR just above the threshold, a dose at the
limit...). Doses come from the knowledge base's interventions, overridden per case."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from cds_service.engine.safety import check_intervention, gate, offered
from cds_service.engine.types import Candidate
from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import Dose
from cds_service.snapshot.facts import PatientSnapshot
from cds_service.snapshot.reader import build_snapshot
from tests.factories import (
    ICD10CM,
    PATIENT_ID,
    allergy,
    bundle,
    condition,
    medication_request,
    medication_statement,
    observation,
    patient,
)

Resources = Callable[[], list[dict[str, Any]]]


def snapshot_of(
    resources: list[dict[str, Any]], *, age: int | None = 45, gender: str = "male"
) -> PatientSnapshot:
    return build_snapshot(
        _kb(),
        patient_id=PATIENT_ID,
        now=datetime.now(UTC),
        prefetch_values=[patient(age=age, gender=gender), bundle(*resources)],
    )


_KB: list[KnowledgeBase] = []


def _kb() -> KnowledgeBase:
    return _KB[0]


@pytest.fixture(autouse=True)
def _remember_kb(kb: KnowledgeBase) -> None:
    if not _KB:
        _KB.append(kb)


def rule_ids(
    kb: KnowledgeBase,
    intervention_id: str,
    resources: list[dict[str, Any]],
    *,
    dose: tuple[float, str] | None = None,
    **patient_kw: Any,
) -> dict[str, str]:
    intervention = kb.interventions[intervention_id]
    if dose is not None:
        intervention = intervention.model_copy(
            update={"daily_dose": Dose(value=dose[0], unit=dose[1])}
        )
    hits = check_intervention(intervention, snapshot_of(resources, **patient_kw), kb)
    return {hit.rule.id: hit.rule.action for hit in hits}


def mr(rxnorm: str | None, name: str, **kw: Any) -> dict[str, Any]:
    return medication_request(rxnorm, name, **kw)


def lab(code: str, value: float, unit: str, **kw: Any) -> dict[str, Any]:
    return observation(code, value, unit, **kw)


# A current eGFR, B12, ferritin, CRP and (for women) hCG, so C24 stays quiet unless a case wants it.
BASE = [
    lambda: lab("98979-8", 90, "mL/min/{1.73_m2}"),
    lambda: lab("2132-9", 500, "pg/mL"),
    lambda: lab("2276-4", 50, "ng/mL"),
    lambda: lab("30522-7", 1, "mg/L"),
]

# (rule, intervention, dose override, patient kwargs, fires-with, near-miss)
CASES: list[tuple[str, str, tuple[float, str] | None, dict[str, Any], Resources, Resources]] = [
    (
        "S1",
        "5-htp",
        None,
        {},
        lambda: [mr("8123", "phenelzine 15 MG")],
        lambda: [mr("8123", "phenelzine 15 MG", status="stopped", days=20)],
    ),
    (
        "S1",
        "same",
        None,
        {},
        lambda: [mr(None, "Zyvox (linezolid) 600 mg", status="stopped", days=10)],
        lambda: [mr(None, "Zyvox (linezolid) 600 mg", status="stopped", days=15)],
    ),
    (
        "S2",
        "tyrosine",
        None,
        {},
        lambda: [mr("10734", "tranylcypromine 10 MG")],
        lambda: [mr("42347", "bupropion 150 MG")],
    ),
    (
        "S3",
        "tryptophan",
        None,
        {},
        lambda: [mr("36437", "sertraline 50 MG")],
        lambda: [mr("36437", "sertraline 50 MG", status="stopped", days=20)],
    ),
    (
        "S3",
        "5-htp",
        None,
        {},
        lambda: [mr("4493", "fluoxetine 20 MG", status="stopped", days=30)],
        lambda: [mr("4493", "fluoxetine 20 MG", status="stopped", days=40)],
    ),
    (
        "S3",
        "tryptophan",
        None,
        {},
        lambda: [medication_statement("St. John's Wort 300 mg")],
        lambda: [medication_statement("St. John's Wort 300 mg", status="entered-in-error")],
    ),
    (
        "S4",
        "same",
        None,
        {},
        lambda: [mr(None, "Imitrex 50 mg tablet")],
        lambda: [mr(None, "amlodipine 5 mg")],
    ),
    (
        "S5",
        "vitamin-b6",
        (10, "mg"),
        {},
        lambda: [mr("6375", "levodopa 250 MG")],
        lambda: [mr(None, "Sinemet 25/100 (carbidopa/levodopa)")],
    ),
    (
        "S5",
        "vitamin-b6",
        (10, "mg"),
        {},
        lambda: [mr("6375", "levodopa 250 MG")],
        lambda: [mr("6375", "levodopa 250 MG"), mr("2019", "carbidopa 25 MG")],
    ),
    (
        "S6",
        "tyrosine",
        None,
        {},
        lambda: [mr("6375", "levodopa")],
        lambda: [mr("6375", "levodopa", status="stopped", days=2)],
    ),
    ("S6.iron", "iron", None, {}, lambda: [mr("6375", "levodopa")], lambda: []),
    ("S7", "5-htp", None, {}, lambda: [mr("2019", "carbidopa 25 MG")], lambda: []),
    (
        "S8",
        "iron",
        None,
        {},
        lambda: [mr("966222", "Levothyroxine Sodium 0.075 MG Oral Tablet")],
        lambda: [
            mr("966222", "Levothyroxine Sodium 0.075 MG Oral Tablet", status="completed", days=3)
        ],
    ),
    (
        "S9",
        "zinc",
        None,
        {},
        lambda: [mr("309309", "Ciprofloxacin 500 MG Oral Tablet")],
        lambda: [],
    ),
    (
        "S10",
        "magnesium",
        None,
        {},
        lambda: [mr("199026", "Doxycycline 100 MG Oral Capsule")],
        lambda: [],
    ),
    (
        "S11",
        "iron",
        None,
        {},
        lambda: [mr("904419", "Alendronic acid 10 MG Oral Tablet")],
        lambda: [],
    ),
    ("S12", "zinc", None, {}, lambda: [mr("1433868", "dolutegravir 50 MG")], lambda: []),
    ("S12.other", "magnesium", None, {}, lambda: [mr(None, "gabapentin 300 mg")], lambda: []),
    (
        "S13",
        "omega-3-epa",
        (2, "g"),
        {},
        lambda: [mr("855332", "Warfarin Sodium 5 MG Oral Tablet")],
        lambda: [mr("855332", "Warfarin Sodium 5 MG Oral Tablet"), {"_dose": (1, "g")}],
    ),
    (
        "S13",
        "omega-3-epa",
        (2, "g"),
        {},
        lambda: [mr("309362", "Clopidogrel 75 MG Oral Tablet")],
        lambda: [],
    ),
    (
        "S14.folic-acid",
        "folic-acid",
        (5, "mg"),
        {},
        lambda: [mr("1313112", "Phenytoin 25mg/ml oral suspension")],
        lambda: [mr("1313112", "Phenytoin 25mg/ml oral suspension"), {"_dose": (1, "mg")}],
    ),
    (
        "S14.l-methylfolate",
        "l-methylfolate",
        (15, "mg"),
        {},
        lambda: [mr(None, "phenobarbital 30 mg")],
        lambda: [],
    ),
    (
        "S14.b6",
        "vitamin-b6",
        (50, "mg"),
        {},
        lambda: [mr("8183", "phenytoin")],
        lambda: [mr("8183", "phenytoin"), {"_dose": (25, "mg")}],
    ),
    (
        "S14.monitor",
        "folic-acid",
        None,
        {},
        lambda: [mr("28439", "lamotrigine 100 MG")],
        lambda: [mr("8183", "phenytoin 100 MG")],
    ),
    ("S15", "folic-acid", None, {}, lambda: [mr("6851", "methotrexate 2.5 MG")], lambda: []),
    (
        "S15",
        "l-methylfolate",
        None,
        {},
        lambda: [mr("213293", "Capecitabine 500mg oral tablet (Xeloda)")],
        lambda: [],
    ),
    ("C1", "zinc", None, {"age": 17}, lambda: [], lambda: []),
    (
        "C2",
        "tryptophan",
        None,
        {"gender": "female"},
        lambda: [condition("77386006", "Pregnancy")],
        lambda: [condition("77386006", "Pregnancy", verification="refuted")],
    ),
    (
        "C2",
        "same",
        None,
        {"gender": "female"},
        lambda: [lab("19080-1", 10, "m[IU]/mL")],
        lambda: [lab("19080-1", 3, "m[IU]/mL")],
    ),
    (
        "C2",
        "tyrosine",
        None,
        {"gender": "female"},
        lambda: [condition("Z33.1", "Pregnant state", system=ICD10CM)],
        lambda: [condition("Z33.1", "Pregnant state", system=ICD10CM, clinical="resolved")],
    ),
    (
        "C2.b6",
        "vitamin-b6",
        (50, "mg"),
        {"gender": "female"},
        lambda: [condition("72892002", "Normal pregnancy")],
        lambda: [condition("72892002", "Normal pregnancy"), {"_dose": (25, "mg")}],
    ),
    (
        "C2.prenatal",
        "iron",
        None,
        {"gender": "female"},
        lambda: [condition("77386006", "Pregnancy")],
        lambda: [],
    ),
    (
        "C3",
        "same",
        None,
        {"gender": "female"},
        lambda: [condition("169750002", "Mother currently breast-feeding")],
        lambda: [condition("169750002", "Mother currently breast-feeding", clinical="resolved")],
    ),
    (
        "C4",
        "5-htp",
        None,
        {},
        lambda: [condition("13746004", "Bipolar disorder", clinical="resolved")],
        lambda: [condition("160327000", "Family history of bipolar disorder")],
    ),
    (
        "C4",
        "tryptophan",
        None,
        {},
        lambda: [condition("F31.81", "Bipolar II disorder", system=ICD10CM)],
        lambda: [condition("F32.9", "Major depressive disorder", system=ICD10CM)],
    ),
    (
        "C4.tyrosine",
        "tyrosine",
        None,
        {},
        lambda: [condition("F30.10", "Manic episode", system=ICD10CM)],
        lambda: [],
    ),
    (
        "C5",
        "tryptophan",
        None,
        {},
        lambda: [condition("M35.8", "Eosinophilia-myalgia syndrome", system=ICD10CM)],
        lambda: [
            condition(
                "M35.8",
                "Eosinophilia-myalgia syndrome",
                system=ICD10CM,
                verification="entered-in-error",
            )
        ],
    ),
    ("C6", "5-htp", None, {}, lambda: [condition("35868009", "Carcinoid syndrome")], lambda: []),
    (
        "C7",
        "phenylalanine",
        None,
        {},
        lambda: [condition("7573000", "Classical phenylketonuria", clinical="inactive")],
        lambda: [],
    ),
    (
        "C7",
        "phenylalanine",
        None,
        {},
        lambda: [
            lab(
                "14875-9",
                400,
                "umol/L",
                referenceRange=[{"high": {"value": 120, "unit": "umol/L"}}],
            )
        ],
        lambda: [
            lab(
                "14875-9",
                100,
                "umol/L",
                referenceRange=[{"high": {"value": 120, "unit": "umol/L"}}],
            )
        ],
    ),
    (
        "C7.tyrosine",
        "tyrosine",
        None,
        {},
        lambda: [condition("E70.0", "Classical phenylketonuria", system=ICD10CM)],
        lambda: [],
    ),
    (
        "C8",
        "tyrosine",
        None,
        {},
        lambda: [condition("E70.21", "Tyrosinemia", system=ICD10CM)],
        lambda: [],
    ),
    (
        "C9",
        "iron",
        None,
        {},
        lambda: [lab("2276-4", 400, "ng/mL")],
        lambda: [lab("2276-4", 150, "ng/mL")],
    ),
    ("C9", "iron", None, {}, lambda: [lab("2502-3", 45, "%")], lambda: [lab("2502-3", 44, "%")]),
    (
        "C9",
        "iron",
        None,
        {},
        lambda: [condition("399187006", "Hemochromatosis", clinical="resolved")],
        lambda: [],
    ),
    (
        "C9.vitamin-c",
        "vitamin-c",
        (500, "mg"),
        {},
        lambda: [condition("E83.110", "Hereditary hemochromatosis", system=ICD10CM)],
        lambda: [
            condition("E83.110", "Hereditary hemochromatosis", system=ICD10CM),
            {"_dose": (200, "mg")},
        ],
    ),
    (
        "C10",
        "magnesium",
        None,
        {},
        lambda: [lab("98979-8", 29, "mL/min/{1.73_m2}", days=1)],
        lambda: [lab("98979-8", 30, "mL/min/{1.73_m2}", days=1)],
    ),
    (
        "C10",
        "magnesium",
        None,
        {},
        lambda: [condition("N18.6", "End stage renal disease", system=ICD10CM)],
        lambda: [],
    ),
    (
        "C10.vitamin-c",
        "vitamin-c",
        (500, "mg"),
        {},
        lambda: [lab("98979-8", 20, "mL/min/{1.73_m2}", days=1)],
        lambda: [lab("98979-8", 20, "mL/min/{1.73_m2}", days=1), {"_dose": (499, "mg")}],
    ),
    (
        "C10.b6-d",
        "vitamin-d3",
        None,
        {},
        lambda: [lab("98979-8", 14, "mL/min/{1.73_m2}", days=1)],
        lambda: [],
    ),
    (
        "C11",
        "magnesium",
        None,
        {},
        lambda: [lab("98979-8", 59, "mL/min/{1.73_m2}", days=1)],
        lambda: [lab("98979-8", 60, "mL/min/{1.73_m2}", days=1)],
    ),
    (
        "C12",
        "tyrosine",
        None,
        {},
        lambda: [condition("34486009", "Hyperthyroidism")],
        lambda: [condition("40930008", "Hypothyroidism")],
    ),
    (
        "C13",
        "vitamin-b6",
        None,
        {},
        lambda: [condition("49049000", "Parkinson's disease")],
        lambda: [],
    ),
    (
        "C14",
        "magnesium",
        None,
        {},
        lambda: [condition("G70.00", "Myasthenia gravis", system=ICD10CM)],
        lambda: [],
    ),
    (
        "C15",
        "vitamin-d3",
        None,
        {},
        lambda: [lab("62292-8", 50, "ng/mL")],
        lambda: [lab("62292-8", 49, "ng/mL")],
    ),
    (
        "C15",
        "vitamin-d3",
        None,
        {},
        lambda: [condition("D86.0", "Sarcoidosis of lung", system=ICD10CM)],
        lambda: [],
    ),
    (
        "C16",
        "citicoline",
        None,
        {},
        lambda: [condition("E72.52", "Trimethylaminuria", system=ICD10CM)],
        lambda: [],
    ),
    (
        "C17",
        "omega-3-epa",
        None,
        {},
        lambda: [lab("777-3", 40, "10*3/uL")],
        lambda: [lab("777-3", 50, "10*3/uL")],
    ),
    (
        "C18",
        "omega-3-epa",
        (1, "g"),
        {},
        lambda: [condition("I48.91", "Atrial fibrillation", system=ICD10CM)],
        lambda: [condition("I48.91", "Atrial fibrillation", system=ICD10CM), {"_dose": (0.5, "g")}],
    ),
    (
        "C19",
        "zinc",
        None,
        {},
        lambda: [
            lab("1742-6", 121, "U/L", referenceRange=[{"high": {"value": 40, "unit": "U/L"}}])
        ],
        lambda: [
            lab("1742-6", 120, "U/L", referenceRange=[{"high": {"value": 40, "unit": "U/L"}}])
        ],
    ),
    (
        "C20",
        "vitamin-d3",
        None,
        {},
        lambda: [lab("44260-8", 1, "{score}")],
        lambda: [lab("44260-8", 0, "{score}")],
    ),
    (
        "C20",
        "iron",
        None,
        {},
        lambda: [condition("R45.851", "Suicidal ideations", system=ICD10CM)],
        lambda: [condition("R45.851", "Suicidal ideations", system=ICD10CM, clinical="resolved")],
    ),
    (
        "C21",
        "same",
        None,
        {},
        lambda: [condition("371089000", "Serotonin syndrome", clinical="resolved")],
        lambda: [],
    ),
    (
        "C22.folic-acid",
        "folic-acid",
        (5, "mg"),
        {},
        lambda: [lab("2132-9", 150, "pg/mL", days=1)],
        lambda: [lab("2132-9", 150, "pg/mL", days=1), {"_dose": (1, "mg")}],
    ),
    (
        "C22.l-methylfolate",
        "l-methylfolate",
        None,
        {},
        lambda: [lab("2132-9", 250, "pg/mL", days=1)],
        lambda: [lab("2132-9", 250, "pg/mL", days=1), lab("13964-2", 0.2, "umol/L")],
    ),
    ("C23", "zinc", (50, "mg"), {}, lambda: [], lambda: [{"_dose": (40, "mg")}]),
    # Allergies (clinical-reference §7.3): cross-sensitivity, and the supplement itself.
    (
        "A1.fish-omega-3",
        "omega-3-epa",
        None,
        {},
        lambda: [allergy("227037002", "Fish - dietary (substance)")],
        lambda: [allergy("227037002", "Fish - dietary (substance)", verification="refuted")],
    ),
    (
        "A1.fish-omega-3",
        "omega-3-epa",
        None,
        {},
        lambda: [allergy("300913006", "Shellfish allergy")],
        lambda: [allergy("716186003", "No known allergy")],
    ),
    (
        "A2.cobalt-b12",
        "vitamin-b12-oral",
        None,
        {},
        lambda: [allergy("54808007", "Cobalt (substance)")],
        lambda: [allergy("54808007", "Cobalt (substance)", clinical="resolved")],
    ),
    (
        "A3.supplement-allergy",
        "iron",
        None,
        {},
        lambda: [allergy(None, "Ferrous sulfate")],
        lambda: [allergy(None, "Ferrous sulfate", verification="entered-in-error")],
    ),
    (
        "A3.supplement-allergy",
        "same",
        None,
        {},
        lambda: [allergy(None, "SAMe (S-adenosylmethionine)", dstu2=True)],
        lambda: [allergy(None, "Penicillin")],  # an allergy the knowledge base does not know
    ),
    (
        "C24.hcg",
        "tryptophan",
        None,
        {"gender": "female"},
        lambda: [],
        lambda: [lab("2106-3", None, None, valueString="Negative")],
    ),
    # Issue 17 (clinical-reference §7.5): first-line care before adjuncts; L-methylfolate.
    (
        "F1.first-line-treatment",
        "5-htp",
        None,
        {},
        lambda: [lab("44261-6", 16, "{score}")],
        lambda: [lab("44261-6", 16, "{score}"), mr("36437", "sertraline 50 MG")],
    ),
    (
        "F1.first-line-treatment",
        "omega-3-epa",
        None,
        {},
        lambda: [lab("71965-8", 70, "{score}")],
        lambda: [lab("71965-8", 69.9, "{score}")],
    ),
    (
        "F1.first-line-treatment",
        "same",
        None,
        {},
        lambda: [lab("44261-6", 15, "{score}"), mr("36437", "sertraline", status="stopped")],
        lambda: [lab("44261-6", 14, "{score}")],
    ),
    (
        "C2.l-methylfolate",
        "l-methylfolate",
        None,
        {"gender": "female"},
        lambda: [lab("19080-1", 12, "m[IU]/mL")],
        lambda: [lab("19080-1", 3, "m[IU]/mL")],
    ),
    (
        "C4.l-methylfolate",
        "l-methylfolate",
        None,
        {},
        lambda: [condition("13746004", "Bipolar disorder")],
        lambda: [condition("13746004", "Bipolar disorder", verification="refuted")],
    ),
    # The isoniazid-prophylaxis regimen of B6 is checked like vitamin B6 itself.
    (
        "S5",
        "pyridoxine-isoniazid",
        None,
        {},
        lambda: [mr("6375", "levodopa 250 MG")],
        lambda: [mr(None, "Sinemet 25/100 (carbidopa/levodopa)")],
    ),
    (
        "C2.b6",
        "pyridoxine-isoniazid",
        (50, "mg"),
        {"gender": "female"},
        lambda: [condition("72892002", "Normal pregnancy")],
        lambda: [condition("72892002", "Normal pregnancy"), {"_dose": (25, "mg")}],
    ),
]


@pytest.mark.parametrize(
    ("rule_id", "intervention_id", "dose", "patient_kw", "fires", "near"),
    CASES,
    ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(CASES)],
)
def test_rule_fires_and_near_miss_does_not(
    kb: KnowledgeBase,
    rule_id: str,
    intervention_id: str,
    dose: tuple[float, str] | None,
    patient_kw: dict[str, Any],
    fires: Resources,
    near: Resources,
) -> None:
    base = [make() for make in BASE]
    hit = rule_ids(kb, intervention_id, base + fires(), dose=dose, **patient_kw)
    assert rule_id in hit, hit
    assert hit[rule_id] == next(r.action for r in kb.safety_rules if r.id == rule_id)
    near_resources = near()
    near_dose = next((r["_dose"] for r in near_resources if "_dose" in r), dose)
    near_resources = [r for r in near_resources if "_dose" not in r]
    near_patient = dict(patient_kw)
    if rule_id == "C1":
        near_patient["age"] = 18
    missed = rule_ids(kb, intervention_id, base + near_resources, dose=near_dose, **near_patient)
    assert rule_id not in missed, missed


def test_every_rule_is_tested_both_ways(kb: KnowledgeBase) -> None:
    tested = {case[0] for case in CASES}
    order_only = {r.id for r in kb.safety_rules if r.scope == ["orders"]}
    medication_only = {
        r.id
        for r in kb.safety_rules
        if not r.applies_to.interventions
        and not r.applies_to.tags
        and not r.applies_to.all_supplements
    }
    missing = {r.id for r in kb.safety_rules} - tested - order_only - medication_only
    missing -= {"C24.egfr", "C24.b12", "C24.ferritin", "C24.crp"}  # tested below with replacements
    assert not missing, f"rules without a fire/near-miss case: {sorted(missing)}"


@pytest.mark.parametrize(
    ("intervention_id", "rule_id", "lab_order", "present"),
    [
        ("magnesium", "C24.egfr", "egfr", lambda: lab("98979-8", 75, "mL/min/{1.73_m2}")),
        ("folic-acid", "C24.b12", "b12", lambda: lab("2132-9", 400, "pg/mL")),
        ("iron", "C24.ferritin", "ferritin", lambda: lab("2276-4", 20, "ng/mL")),
        ("iron", "C24.crp", "hs-crp", lambda: lab("1988-5", 2, "mg/L")),
        (
            "5-htp",
            "C24.hcg",
            "hcg-serum",
            lambda: lab("2118-8", None, None, valueCodeableConcept={"text": "negative"}),
        ),
    ],
)
def test_missing_safety_data_offers_the_test_instead(
    kb: KnowledgeBase,
    intervention_id: str,
    rule_id: str,
    lab_order: str,
    present: Callable[[], dict],
) -> None:
    candidate = Candidate("medication", intervention_id, "methylation", ("test",))
    [decision] = gate([candidate], snapshot_of([], gender="female", age=30), kb)
    assert decision.verdict == "block"
    assert rule_id in {h.rule.id for h in decision.hits}
    shown = offered([decision])
    assert ("lab_order", lab_order) in {(d.candidate.kind, d.candidate.target) for d in shown}
    assert all(d.candidate.kind == "lab_order" for d in shown)  # the supplement itself never
    # With the data present the rule is quiet (other C24 rules may still ask for other tests).
    [decision] = gate([candidate], snapshot_of([present()], gender="female", age=30), kb)
    assert rule_id not in {h.rule.id for h in decision.hits}


def test_unknown_dose_is_assumed_above_the_threshold_and_says_so(kb: KnowledgeBase) -> None:
    intervention = kb.interventions["vitamin-b6"].model_copy(update={"daily_dose": None})
    hits = check_intervention(intervention, snapshot_of([mr("6375", "levodopa")]), kb)
    [s5] = [h for h in hits if h.rule.id == "S5"]
    assert s5.dose_note is not None and "unknown" in s5.dose_note and "5 mg/day" in s5.dose_note


def test_not_offered_intervention_is_always_blocked(kb: KnowledgeBase) -> None:
    candidate = Candidate("medication", "phenylalanine", "catecholaminergic", ("test",))
    [decision] = gate([candidate], snapshot_of([]), kb)
    assert decision.verdict == "block" and decision.reason
