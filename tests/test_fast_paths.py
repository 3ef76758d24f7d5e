"""Fast paths (issue 7) give the same answers as the plain code they replaced."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from hypothesis import given
from hypothesis import strategies as st

from cds_service.engine.safety import targets
from cds_service.fhir_values import codings, concept_text, reference_id
from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.loader import fold_text
from cds_service.snapshot import _unread_code

LOINC = "http://loinc.org"


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


def test_only_observations_with_no_known_code_skip_the_reader(kb: KnowledgeBase) -> None:
    known = next(code for code, systems in kb.measure_codes.items() if LOINC in systems)

    def obs(*codings: object) -> dict[str, object]:
        return {"resourceType": "Observation", "code": {"coding": list(codings)}}

    other = {"system": LOINC, "code": "8480-6"}  # systolic blood pressure: no rule reads it
    assert _unread_code(obs(other), kb.measure_codes)
    assert not _unread_code(obs(other, {"system": LOINC, "code": known}), kb.measure_codes)
    # Anything unusual goes to the tolerant reader, which decides and explains.
    assert not _unread_code(obs(other, "not a coding"), kb.measure_codes)
    assert not _unread_code(obs({"system": LOINC, "code": ["2132-9"]}), kb.measure_codes)
    assert not _unread_code({"resourceType": "Observation", "code": [other]}, kb.measure_codes)
    assert not _unread_code({"resourceType": "Observation"}, kb.measure_codes)
