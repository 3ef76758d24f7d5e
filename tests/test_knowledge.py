"""The knowledge base loads, and each kind of defect fails naming the file and the field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from cds_service.errors import KnowledgeError
from cds_service.knowledge import KnowledgeBase, load_knowledge
from cds_service.protocol.validate import check_resource
from cds_service.settings import PROJECT_ROOT


def test_every_rule_and_intervention_is_cited(kb: KnowledgeBase) -> None:
    for rule in kb.rules:
        assert rule.citations and all(c in kb.citations for c in rule.citations)
    for rule in kb.safety_rules:
        assert rule.citations
    for intervention in kb.interventions.values():
        assert intervention.citations


def test_observation_codes_are_derived_from_the_measures(kb: KnowledgeBase) -> None:
    codes = {code for _, code in kb.observation_codes()}
    assert {"2132-9", "14685-2", "13964-2"} <= codes


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "mappings"
    shutil.copytree(PROJECT_ROOT / "mappings", target)
    return target


def _edit(path: Path, change: callable) -> None:  # type: ignore[valid-type]
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize(
    ("file", "change", "message"),
    [
        (
            "analytes.yaml",
            lambda d: d["analytes"][0].update(colour="red"),
            "analytes.yaml: analytes.0.colour",
        ),
        (
            "analytes.yaml",
            lambda d: d["analytes"][0]["codes"][0].update(system="loinx"),
            "unknown code system 'loinx'",
        ),
        (
            "analytes.yaml",
            lambda d: d["analytes"][1]["codes"].append(dict(d["analytes"][0]["codes"][0])),
            "code 2276-4 is also used",
        ),
        ("rules/methylation.yaml", lambda d: d["rules"][0].update(citations=[]), "citations"),
        (
            "rules/methylation.yaml",
            lambda d: d["rules"][0].update(citations=["nobody-2020"]),
            "unknown citation 'nobody-2020'",
        ),
        (
            "rules/methylation.yaml",
            lambda d: d["rules"][0]["when"].update(band="low"),
            "vitamin-b12 has no band 'low'",
        ),
        (
            "rules/methylation.yaml",
            lambda d: d["rules"][0]["suggest"].append({"medication": "unicorn-dust"}),
            "unknown intervention 'unicorn-dust'",
        ),
        ("knowledge.yaml", lambda d: d.update(version="1.0"), "knowledge.yaml: version"),
        (
            "safety.yaml",
            lambda d: d["rules"][0]["trigger"].update(age={"lt": "young"}),
            "safety.yaml",
        ),
    ],
)
def test_defects_fail_naming_file_and_field(
    tmp_path: Path, file: str, change: object, message: str
) -> None:
    root = _copy(tmp_path)
    _edit(root / file, change)  # type: ignore[arg-type]
    with pytest.raises(KnowledgeError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_knowledge(root)


def test_suggestion_templates_are_valid_fhir_r4(kb: KnowledgeBase) -> None:
    from cds_service.cards.resources import medication_request, service_request

    for intervention in kb.interventions.values():
        assert check_resource(medication_request(kb, intervention, "p1", "reason")) == []
    for order in kb.lab_orders.values():
        assert check_resource(service_request(kb, order, "p1")) == []
