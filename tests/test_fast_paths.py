"""Fast paths (issue 7) give the same answers as the plain code they replaced."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cds_service.engine.safety import targets
from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.text import fold_text
from cds_service.snapshot.measures import measure_of
from cds_service.snapshot.values import codings, concept_text, reference_id
from tests.factories import LOINC, RXNORM


def _fold_text_by_characters(text: str) -> str:
    return " " + " ".join("".join(c if c.isalnum() else " " for c in text.lower()).split()) + " "


@given(st.text())
def test_fold_text_matches_the_character_by_character_definition(text: str) -> None:
    assert fold_text(text) == _fold_text_by_characters(text)


def test_fold_text_examples() -> None:
    assert (
        fold_text("Sertraline 50 MG Oral-Tablet (Zoloft®)")
        == " sertraline 50 mg oral tablet zoloft "
    )
    assert fold_text("__  ") == "  "


def test_mappings_other_than_dict_are_still_read() -> None:
    """Dicts take the fast path; any other Mapping is read as before."""
    coding: Mapping[str, str] = MappingProxyType({"system": "http://loinc.org", "code": "2132-9"})
    concept = MappingProxyType({"coding": [coding], "text": " B12 "})
    assert list(codings(concept)) == [coding]
    assert concept_text(concept) == "B12"
    assert reference_id(MappingProxyType({"reference": "Patient/p-1"})) == "p-1"


def test_safety_index_holds_exactly_the_rules_that_target_each_intervention(
    kb: KnowledgeBase,
) -> None:
    assert kb.safety_rules_by_intervention.keys() == kb.interventions.keys()
    for intervention in kb.interventions.values():
        expected = tuple(rule for rule in kb.safety_rules if targets(rule, intervention))
        assert kb.safety_rules_by_intervention[intervention.id] == expected
    assert any(kb.safety_rules_by_intervention.values())


def test_an_observation_is_read_only_for_a_known_code_in_a_known_system(
    kb: KnowledgeBase,
) -> None:
    known = next(code for code, systems in kb.measure_codes.items() if LOINC in systems)

    def measure(resource: dict[str, object]) -> str | None:
        matched = measure_of(resource, kb.measure_codes, kb.system_aliases)
        return None if matched is None else f"{matched[0].id}:{matched[1]}"

    def obs(*codings: object) -> dict[str, object]:
        return {"resourceType": "Observation", "code": {"coding": list(codings)}}

    expected = f"{kb.measure_codes[known][LOINC].id}:{known}"
    other = {"system": LOINC, "code": "8480-6"}  # systolic blood pressure: no rule reads it
    assert measure(obs(other)) is None
    assert measure(obs(other, {"system": LOINC, "code": known})) == expected
    assert measure(obs("not a coding", {"system": LOINC, "code": known})) == expected
    # A single coding where R4 wants a list (older shapes) is still read.
    assert measure({"code": {"coding": {"system": LOINC, "code": known}}}) == expected
    assert measure(obs({"system": "http://example.org/local", "code": known})) is None
    assert measure(obs({"system": LOINC, "code": [known]})) is None
    assert measure({"resourceType": "Observation", "code": [other]}) is None
    assert measure({"resourceType": "Observation"}) is None


# -- memoised classification (classify.memoised) ------------------------------------------------


def _drug_concepts(kb: KnowledgeBase) -> list[list[object]]:
    codes = sorted(kb.rxnorm_ingredients)[:40]
    names = [name.strip() for name, _ in kb.ingredient_names[:40]]
    concepts: list[list[object]] = [[{"coding": [{"system": RXNORM, "code": c}]}] for c in codes]
    concepts += [[{"text": n}] for n in names]
    concepts += [[{"text": "unknown remedy"}], [{"coding": [{"system": RXNORM, "code": "0"}]}]]
    return concepts


def test_memoised_drug_classes_equal_the_computed_ones(kb: KnowledgeBase) -> None:
    from cds_service.snapshot.classify import _classify_drug, classify_drug

    for concepts in _drug_concepts(kb):
        first = classify_drug(kb, concepts)
        assert first == _classify_drug(kb, concepts)
        assert classify_drug(kb, concepts) is first  # the second answer is the remembered one
    assert any(classify_drug(kb, c).classified for c in _drug_concepts(kb))


def test_memoised_condition_classes_equal_the_computed_ones(kb: KnowledgeBase) -> None:
    from cds_service.snapshot.classify import _classify_condition, classify_condition

    snomed = kb.uri("snomed")
    concepts = [{"coding": [{"system": snomed, "code": c}]} for c in sorted(kb.snomed_conditions)]
    concepts += [{"text": "family history of bipolar disorder"}, {"text": "bipolar disorder"}]
    for concept in concepts:
        assert classify_condition(kb, concept) == _classify_condition(kb, concept)
        assert classify_condition(kb, concept) == _classify_condition(kb, concept)
    assert any(classify_condition(kb, c) for c in concepts)


def test_a_copied_knowledge_base_starts_with_an_empty_memo(kb: KnowledgeBase) -> None:
    """A test or a reload that swaps a table must not see answers computed from the old one."""
    from dataclasses import replace

    from cds_service.snapshot.classify import classify_drug

    code = next(iter(kb.rxnorm_ingredients))
    concepts = [{"coding": [{"system": RXNORM, "code": code}]}]
    assert classify_drug(kb, concepts).classified
    emptied = replace(kb, rxnorm_ingredients={})
    assert emptied.memo == {}
    assert not classify_drug(emptied, concepts).ingredients
    assert classify_drug(kb, concepts).ingredients  # the original keeps its own answers


def test_the_memo_is_bounded(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    from cds_service.snapshot import classify, memo

    monkeypatch.setattr(memo, "MEMO_LIMIT", 5)
    for number in range(23):
        classify.classify_condition(kb, {"text": f"condition number {number}"})
        assert len(kb.memo["condition"]) <= 5


def test_none_answers_are_remembered_too(kb: KnowledgeBase) -> None:
    """Most drug names print no strength: that answer (None) is the one most worth keeping."""
    from dataclasses import replace

    from cds_service.snapshot.memo import memoised

    fresh = replace(kb)
    calls: list[str] = []

    def compute() -> None:
        calls.append("computed")

    for _ in range(3):
        assert memoised(fresh, "printed-strength", ["Sertraline Oral Tablet"], compute) is None
    assert calls == ["computed"]


def test_values_that_are_not_plain_json_are_classified_without_the_memo(kb: KnowledgeBase) -> None:
    from cds_service.snapshot.classify import _classify_condition, classify_condition

    concept = MappingProxyType({"text": "bipolar disorder"})
    before = dict(kb.memo.get("condition", {}))
    assert classify_condition(kb, concept) == _classify_condition(kb, dict(concept))
    assert kb.memo.get("condition", {}) == before
    big = {"coding": [{"system": kb.uri("snomed"), "code": 2**70}]}  # beyond 64-bit: no key
    assert classify_condition(kb, big) == ()


# -- medication dates read in one pass -----------------------------------------------------------

_DATES = st.one_of(
    st.none(),
    st.sampled_from(["2020", "2021-06", "2022-02-03", "2023-04-05T06:07:08Z", "bad", ""]),
    st.integers(),
)
_PERIODS = st.one_of(
    st.none(), st.integers(), st.fixed_dictionaries({}, optional={"start": _DATES, "end": _DATES})
)


def _medication_date_by_definition(resource: Mapping[str, object]) -> object:
    from cds_service.snapshot.reader import _get
    from cds_service.snapshot.values import parse_datetime

    def end(period: object) -> object:
        if not isinstance(period, Mapping):
            return None
        return parse_datetime(period.get("end")) or parse_datetime(period.get("start"))

    candidates = [
        end(resource.get("effectivePeriod")),
        parse_datetime(resource.get("effectiveDateTime")),
        end(_get(resource, "dispenseRequest", "validityPeriod")),
    ]
    for dosage in _dosages(resource):
        candidates.append(end(_get(dosage, "timing", "repeat", "boundsPeriod")))
    for name in ("dateAsserted", "authoredOn", "dateWritten", "dateEnded"):
        candidates.append(parse_datetime(resource.get(name)))
    dates = [d for d in candidates if d is not None]
    return max(dates) if dates else None  # type: ignore[type-var]


def _medication_start_by_definition(resource: Mapping[str, object]) -> object:
    from cds_service.snapshot.reader import _get
    from cds_service.snapshot.values import parse_datetime

    def start(period: object) -> object:
        return parse_datetime(period.get("start")) if isinstance(period, Mapping) else None

    candidates = [
        start(resource.get("effectivePeriod")),
        parse_datetime(resource.get("effectiveDateTime")),
        start(_get(resource, "dispenseRequest", "validityPeriod")),
        parse_datetime(resource.get("authoredOn")),
        parse_datetime(resource.get("dateWritten")),
    ]
    for dosage in _dosages(resource):
        candidates.append(start(_get(dosage, "timing", "repeat", "boundsPeriod")))
    dates = [d for d in candidates if d is not None]
    return min(dates) if dates else None  # type: ignore[type-var]


def _dosages(resource: Mapping[str, object]) -> list[object]:
    from cds_service.snapshot.values import as_list

    found = as_list(resource.get("dosageInstruction")) + as_list(resource.get("dosage"))
    return [d for d in found if isinstance(d, Mapping)]


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "effectivePeriod": _PERIODS,
            "effectiveDateTime": _DATES,
            "dispenseRequest": st.one_of(
                st.none(), st.fixed_dictionaries({"validityPeriod": _PERIODS})
            ),
            "dosageInstruction": st.lists(
                st.one_of(
                    st.none(),
                    st.fixed_dictionaries(
                        {
                            "timing": st.fixed_dictionaries(
                                {"repeat": st.fixed_dictionaries({"boundsPeriod": _PERIODS})}
                            )
                        }
                    ),
                ),
                max_size=3,
            ),
            "dateAsserted": _DATES,
            "authoredOn": _DATES,
            "dateWritten": _DATES,
            "dateEnded": _DATES,
        },
    )
)
def test_medication_dates_in_one_pass_equal_the_two_definitions(
    resource: dict[str, object],
) -> None:
    from cds_service.snapshot.reader import _medication_dates

    assert _medication_dates(resource) == (
        _medication_start_by_definition(resource),
        _medication_date_by_definition(resource),
    )
