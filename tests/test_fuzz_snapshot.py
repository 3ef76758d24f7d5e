"""Property-based tests of the tolerant FHIR reader: build_snapshot and the whole pipeline.

The contract (snapshot.py): reading never raises on content; a value is either used correctly
(converted to the measure's canonical unit) or left out with a recorded reason. Hypothesis
throws wrong types, missing and extra fields, huge and tiny numbers, NaN-like strings, unknown
units, odd unicode, deep nesting and thousands of codings at it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cds_service.knowledge import KnowledgeBase, load_knowledge
from cds_service.knowledge.schema import Questionnaire
from cds_service.knowledge.units import normalise_unit
from cds_service.settings import PROJECT_ROOT
from cds_service.snapshot.facts import PatientSnapshot
from cds_service.snapshot.reader import build_snapshot
from cds_service.snapshot.values import as_list
from tests.factories import PATIENT_ID, RXNORM, SNOMED, hook_request
from tests.fuzz_strategies import FUZZ, deep, json_values, mutated, odd_strings, scalars
from tests.helpers import run_hook

# Left out of the inner loop (`make check`); `make test` runs it.
pytestmark = pytest.mark.slow

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OBS_ID = "fuzz-obs"
OBS_REF = f"Observation/{OBS_ID}"

# The strategies below need the knowledge base at collection time (to draw its codes and units).
KB = load_knowledge(PROJECT_ROOT / "mappings")
CODES = sorted(
    (KB.system_uris[code.system], code.code, measure.id)
    for measure in KB.measures.values()
    for code in measure.codes
    if measure.units  # quantitative measures
)
UNITS = {
    measure.id: [(unit.unit, unit.per_canonical) for unit in measure.units]
    for measure in KB.measures.values()
}


def snapshot(*resources: Any, draft_orders: Any = None, selections: Any = None) -> PatientSnapshot:
    return build_snapshot(
        KB,
        patient_id=PATIENT_ID,
        now=NOW,
        prefetch_values=[{"resourceType": "Bundle", "entry": [{"resource": r} for r in resources]}],
        draft_orders=draft_orders,
        selections=selections,
    )


def observation(system: str, code: str, value: Any, unit: Any, **extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": OBS_ID,
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": system, "code": code, "display": "a lab"}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "effectiveDateTime": (NOW - timedelta(days=20)).isoformat(),
        "issued": (NOW - timedelta(days=19)).isoformat(),
        "valueQuantity": {
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
        "referenceRange": [
            {"low": {"value": 1, "unit": unit}, "high": {"value": 1000, "unit": unit}}
        ],
        "interpretation": [{"coding": [{"code": "L"}]}],
    }
    resource.update(extra)
    return resource


def other_resources() -> list[dict[str, Any]]:
    """Well-formed resources of every type the reader handles, as mutation templates."""
    return [
        {
            "resourceType": "Patient",
            "id": PATIENT_ID,
            "gender": "female",
            "birthDate": "1980-02-29",
            "name": [{"family": "Doe", "given": ["Jane"]}],
        },
        {
            "resourceType": "MedicationRequest",
            "id": "mr-1",
            "status": "active",
            "intent": "order",
            "subject": {"reference": f"Patient/{PATIENT_ID}"},
            "medicationCodeableConcept": {
                "coding": [{"system": RXNORM, "code": "36437", "display": "sertraline"}],
                "text": "Sertraline 50 MG Oral Tablet",
            },
            "authoredOn": "2026-05-01",
            "dosageInstruction": [
                {
                    "timing": {
                        "repeat": {"boundsPeriod": {"start": "2026-05-01"}, "frequency": 1},
                        "code": {"coding": [{"code": "QD"}]},
                    },
                    "doseAndRate": [{"doseQuantity": {"value": 50, "unit": "mg"}}],
                }
            ],
        },
        {
            "resourceType": "MedicationStatement",
            "id": "ms-1",
            "status": "completed",
            "subject": {"reference": f"Patient/{PATIENT_ID}"},
            "medicationReference": {"reference": "#med", "display": "phenelzine"},
            "contained": [
                {
                    "resourceType": "Medication",
                    "id": "med",
                    "code": {"coding": [{"system": RXNORM, "code": "8123"}]},
                }
            ],
            "effectivePeriod": {"start": "2026-04-01", "end": "2026-05-20"},
        },
        {"resourceType": "Medication", "id": "med-2", "code": {"text": "Levodopa"}},
        {
            "resourceType": "Condition",
            "id": "c-1",
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "verificationStatus": {"coding": [{"code": "confirmed"}]},
            "code": {"coding": [{"system": SNOMED, "code": "35489007"}], "text": "Depression"},
            "subject": {"reference": f"Patient/{PATIENT_ID}"},
            "onsetDateTime": "2020-01-01",
        },
        {
            "resourceType": "QuestionnaireResponse",
            "id": "qr-1",
            "status": "completed",
            "subject": {"reference": f"Patient/{PATIENT_ID}"},
            "questionnaire": "http://loinc.org/q/44249-1",
            "authored": "2026-05-20T10:00:00Z",
            "item": [
                {
                    "linkId": "/44249-1",
                    "item": [
                        {
                            "linkId": f"/44249-1/{link}",
                            "answer": [
                                {
                                    "valueCoding": {
                                        "system": "http://loinc.org",
                                        "code": "LA6570-1",
                                        "extension": [
                                            {
                                                "url": "http://hl7.org/fhir/StructureDefinition/ordinalValue",
                                                "valueDecimal": 2,
                                            }
                                        ],
                                    }
                                }
                            ],
                        }
                        for link in PHQ9_ITEMS
                    ],
                }
            ],
        },
    ]


PHQ9_ITEMS = [
    "44250-9",
    "44255-8",
    "44259-0",
    "44254-1",
    "44251-7",
    "44258-2",
    "44252-5",
    "44253-3",
    "44260-8",
]


def supplement_draft() -> dict[str, Any]:
    """A dosed supplement order (tryptophan), as a draft: exercises doses and the safety gate."""
    return {
        "resourceType": "MedicationRequest",
        "id": "draft-supplement",
        "status": "draft",
        "intent": "proposal",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": "10898", "display": "tryptophan"}],
            "text": "L-Tryptophan 500 MG Oral Capsule",
        },
        "dosageInstruction": [
            {
                "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "capsule"}}],
                "doseQuantity": {"value": 500, "unit": "mg"},
            }
        ],
    }


def carries_known_code(resource: Mapping[str, Any]) -> bool:
    """Whether an Observation names a measure the knowledge base reads (the reader's look-up)."""
    code = resource.get("code")
    if not isinstance(code, Mapping):
        return False
    for coding in as_list(code.get("coding")):
        if not isinstance(coding, Mapping):
            continue
        value, system = coding.get("code"), coding.get("system")
        if isinstance(value, str) and isinstance(system, str):
            by_system = KB.measure_codes.get(value) or {}
            if KB.system_aliases.get(system) in by_system:
                return True
    return False


def used(snap: PatientSnapshot, ref: str) -> list[Any]:
    return [f for f in (*snap.labs.values(), *snap.stale_labs.values()) if f.resource_id == ref]


def ignored(snap: PatientSnapshot, ref: str) -> list[str]:
    return [i.reason for i in snap.ignored if i.ref == ref]


def assert_sane(snap: PatientSnapshot) -> None:
    """Whatever went in, what came out is well-typed and usable downstream."""
    for fact in (*snap.labs.values(), *snap.stale_labs.values()):
        assert fact.value is None or math.isfinite(fact.value), fact
        assert fact.unit == (KB.measures[fact.measure_id].canonical_unit or "")
        assert fact.effective <= NOW + timedelta(days=1)
    for item in snap.ignored:
        assert isinstance(item.ref, str) and isinstance(item.reason, str) and item.reason
    for medication in (*snap.medications, *snap.drafts):
        assert isinstance(medication.name, str) and medication.name
        for dose in medication.doses.values():
            assert math.isfinite(dose.amount) and dose.amount > 0, dose
    assert snap.birth_date is None or snap.birth_date.year >= 1
    assert snap.sex is None or isinstance(snap.sex, str)


measure_codes = st.sampled_from(CODES)


# ---------------------------------------------------------------------------------------------
# build_snapshot: never raises; every Observation with a known code is used or explained


@FUZZ
@given(st.data(), measure_codes)
def test_a_mangled_observation_is_used_or_explained(data: st.DataObject, coded: tuple) -> None:
    system, code, measure_id = coded
    unit, _ = UNITS[measure_id][0]
    resource = data.draw(
        mutated(observation(system, code, 150, unit), protect=frozenset({"resourceType", "id"}))
    )
    others = [data.draw(mutated(r, protect=frozenset({"resourceType"}))) for r in other_resources()]
    snap = snapshot(*others, resource)
    assert_sane(snap)
    if carries_known_code(resource):
        assert used(snap, OBS_REF) or ignored(snap, OBS_REF), resource


@FUZZ
@given(st.lists(json_values(), max_size=6), json_values(), json_values())
def test_arbitrary_json_anywhere_never_raises(
    entries: list[Any], drafts: Any, selections: Any
) -> None:
    values = [
        {"resourceType": "Bundle", "entry": [{"resource": e} for e in entries]},
        {"resourceType": "Bundle", "entry": entries},
        *entries,
    ]
    draft_orders = drafts if isinstance(drafts, Mapping) else {"resourceType": "Bundle"}
    selection_list = selections if isinstance(selections, list) else None
    snap = build_snapshot(
        KB,
        patient_id=PATIENT_ID,
        now=NOW,
        prefetch_values=values,
        draft_orders=draft_orders,
        selections=selection_list,
    )
    assert_sane(snap)


spelled_units = st.sampled_from(
    [
        lambda u: u,
        str.upper,
        str.lower,
        lambda u: f"  {u} ",
        lambda u: u.replace("u", "µ"),
        lambda u: u.replace("u", "μ"),
        lambda u: u.replace("ug", "mcg"),
    ]
)


@FUZZ
@given(
    st.data(),
    measure_codes,
    st.one_of(
        st.floats(min_value=0, max_value=1e300, allow_nan=False),
        st.integers(min_value=0, max_value=10**15),
        st.sampled_from([0, 5e-324, 1e-300, 1.7976931348623157e308]),
    ),
    spelled_units,
    st.integers(min_value=0, max_value=3000),
)
def test_a_well_formed_quantity_is_used_exactly(
    data: st.DataObject, coded: tuple, number: float, spell: Any, padding: int
) -> None:
    system, code, measure_id = coded
    unit, factor = data.draw(st.sampled_from(UNITS[measure_id]))
    resource = observation(system, code, number, spell(unit))
    # Thousands of unrelated codings before the one that matters.
    resource["code"]["coding"][:0] = [
        {"system": "urn:example:local", "code": f"X{i}"} for i in range(padding)
    ]
    snap = snapshot(resource)
    assert_sane(snap)
    expected = number / factor
    measure = KB.measures[measure_id]
    in_range = not isinstance(measure, Questionnaire) or (
        measure.min_score <= expected <= measure.max_score
    )
    if math.isfinite(expected) and in_range:
        [fact] = used(snap, OBS_REF)
        assert fact.value == pytest.approx(expected, rel=1e-9, abs=1e-300)
        assert fact.measure_id == measure_id
    else:
        assert not used(snap, OBS_REF)
        assert ignored(snap, OBS_REF)


@FUZZ
@given(measure_codes, st.one_of(st.floats(max_value=-1e-12), st.integers(max_value=-1)))
def test_a_negative_quantity_is_never_used(coded: tuple, number: float) -> None:
    system, code, measure_id = coded
    unit, _ = UNITS[measure_id][0]
    snap = snapshot(observation(system, code, number, unit))
    assert not used(snap, OBS_REF)
    assert ignored(snap, OBS_REF)


@FUZZ
@given(measure_codes, st.text(min_size=1, max_size=30))
def test_an_unknown_unit_is_never_guessed(coded: tuple, unit: str) -> None:
    system, code, measure_id = coded
    assume(unit.strip() and normalise_unit(unit) not in KB.unit_factors[measure_id])
    snap = snapshot(observation(system, code, 150, unit))
    assert not used(snap, OBS_REF)
    [reason] = ignored(snap, OBS_REF)
    assert "not convertible" in reason


@FUZZ
@given(measure_codes, st.one_of(odd_strings, st.lists(scalars, max_size=3), st.booleans()))
def test_a_value_that_is_not_a_number_is_never_used(coded: tuple, value: Any) -> None:
    system, code, measure_id = coded
    unit, _ = UNITS[measure_id][0]
    snap = snapshot(observation(system, code, value, unit))
    assert not used(snap, OBS_REF)
    assert ignored(snap, OBS_REF)


@FUZZ
@given(
    measure_codes,
    st.one_of(st.integers(), st.lists(st.text()), st.dictionaries(st.text(), st.text())),
)
def test_an_unreadable_unit_is_not_replaced_by_a_default(coded: tuple, unit: Any) -> None:
    system, code, _ = coded
    snap = snapshot(observation(system, code, 150, unit))
    assert not used(snap, OBS_REF)
    assert ignored(snap, OBS_REF)


@FUZZ
@given(
    st.data(),
    st.integers(min_value=1, max_value=900),
    st.sampled_from(["\u202e", "e\u0301", "\U0001f9ea", "\x00", "İ", "a" * 2000]),
)
def test_extensions_and_unknown_fields_do_not_change_what_is_read(
    data: st.DataObject, depth: int, odd: str
) -> None:
    system, code, measure_id = data.draw(measure_codes)
    unit, _ = UNITS[measure_id][0]
    plain = [observation(system, code, 150, unit), *other_resources()]
    padded = []
    for resource in plain:
        copy = dict(resource)
        copy["extension"] = [{"url": odd, "valueString": odd, "nested": deep(odd, depth)}]
        copy["meta"] = {"tag": [{"code": odd}] * 50, "profile": [odd]}
        copy["text"] = {"status": "generated", "div": f"<div>{odd}</div>"}
        copy[f"_{odd}"] = deep({odd: odd}, depth)
        padded.append(copy)
    before, after = snapshot(*plain), snapshot(*padded)
    assert_sane(after)
    assert after.labs == before.labs and after.stale_labs == before.stale_labs
    assert after.birth_date == before.birth_date and after.sex == before.sex
    assert [(m.ref, m.ingredients, m.classes, m.active) for m in after.medications] == [
        (m.ref, m.ingredients, m.classes, m.active) for m in before.medications
    ]
    assert [(c.ref, c.classes, c.active) for c in after.conditions] == [
        (c.ref, c.classes, c.active) for c in before.conditions
    ]


@FUZZ
@given(st.data())
def test_a_mangled_dosage_gives_a_finite_dose_or_none(data: st.DataObject) -> None:
    template = supplement_draft()
    dosage = template["dosageInstruction"][0]
    dosage["doseAndRate"][0]["doseQuantity"] = {
        "value": data.draw(st.one_of(scalars, st.floats(min_value=1e-320, max_value=1e308))),
        "unit": data.draw(st.sampled_from(["mg", "g", "ug", "capsule", "mL", "IU", "furlong"])),
    }
    dosage["timing"]["repeat"]["period"] = data.draw(st.one_of(scalars, st.just(5e-324)))
    dosage["timing"]["repeat"]["frequency"] = data.draw(st.one_of(scalars, st.just(1e308)))
    draft = data.draw(mutated(template, protect=frozenset({"resourceType", "id"})))
    snap = snapshot(draft_orders={"resourceType": "Bundle", "entry": [{"resource": draft}]})
    assert_sane(snap)
    assert [d.ref for d in snap.drafts] == ["MedicationRequest/draft-supplement"]


# ---------------------------------------------------------------------------------------------
# The whole pipeline on hostile data: a valid CDS Hooks response, whatever the prefetch holds


@FUZZ
@given(st.data())
def test_the_pipeline_answers_validly_on_mangled_data(data: st.DataObject) -> None:
    system, code, measure_id = data.draw(measure_codes)
    unit, _ = UNITS[measure_id][0]
    number = data.draw(st.sampled_from([150, 250, 450, 0.1, 1e300, 0]))
    templates = [observation(system, code, number, unit), *other_resources()]
    resources = [data.draw(mutated(r, protect=frozenset({"resourceType"}))) for r in templates]
    draft = data.draw(mutated(other_resources()[1], protect=frozenset({"resourceType", "id"})))
    draft["status"] = "draft"
    supplement = data.draw(mutated(supplement_draft(), protect=frozenset({"resourceType", "id"})))
    hook = data.draw(st.sampled_from(["patient-view", "order-select", "order-sign"]))
    prefetch = {
        "patient": resources[1],
        "observations": {"resourceType": "Bundle", "entry": [{"resource": resources[0]}]},
        "medicationRequests": {"resourceType": "Bundle", "entry": [{"resource": resources[2]}]},
        "medicationStatements": {"resourceType": "Bundle", "entry": [{"resource": resources[3]}]},
        "conditions": {
            "resourceType": "Bundle",
            "entry": [{"resource": r} for r in resources[4:6]],
        },
        "questionnaireResponses": {"resourceType": "Bundle", "entry": [{"resource": resources[6]}]},
    }
    request = hook_request(hook, prefetch=prefetch, draft_orders=[draft, supplement])
    if hook == "order-select":
        request["context"]["selections"] = ["MedicationRequest/mr-1", "garbage"]
    run_hook(KB, request, now=NOW)  # asserts the response is valid CDS Hooks


def test_thousands_of_codings_on_every_concept(kb: KnowledgeBase) -> None:
    many = [
        {"system": "urn:example:local", "code": str(i), "display": f"item {i}"} for i in range(5000)
    ]
    system, code, measure_id = CODES[0]
    unit, factor = UNITS[measure_id][0]
    resources = other_resources()
    resources[1]["medicationCodeableConcept"]["coding"][:0] = many
    resources[4]["code"]["coding"][:0] = many
    obs = observation(system, code, 150, unit)
    obs["code"]["coding"][:0] = many
    snap = snapshot(obs, *resources)
    assert used(snap, OBS_REF)[0].value == pytest.approx(150 / factor)
    plain = snapshot(observation(system, code, 150, unit), *other_resources())
    assert [(m.ref, m.ingredients, m.classes) for m in snap.medications] == [
        (m.ref, m.ingredients, m.classes) for m in plain.medications
    ]
    assert [c.classes for c in snap.conditions] == [c.classes for c in plain.conditions]
