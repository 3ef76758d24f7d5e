"""``check-knowledge``: the shipped knowledge base passes, and each negative fixture in
tests/fixtures/negative-knowledge/ (one defect per file) fails with a message naming it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from cds_service.cli.review import check_knowledge
from cds_service.knowledge import load_knowledge
from cds_service.knowledge.check import unverified
from cds_service.settings import PROJECT_ROOT

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "negative-knowledge").glob("*.yaml"))


def test_the_shipped_knowledge_base_has_no_problem() -> None:
    assert check_knowledge(PROJECT_ROOT / "mappings", PROJECT_ROOT / "hooks") == []


def _apply(root: Path, fixture: dict[str, Any]) -> None:
    path = root / fixture["file"]
    data = yaml.safe_load(path.read_text())
    *parents, last = fixture["path"]
    target = data
    for key in parents:
        target = target[key]
    if fixture["op"] == "set":
        target[last] = fixture["value"]
    elif fixture["op"] == "append":
        target[last].append(fixture["value"])
    else:  # pragma: no cover - fixtures use set or append
        raise AssertionError(fixture["op"])
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize("fixture_path", FIXTURES, ids=lambda p: p.stem)
def test_negative_fixture_is_reported(tmp_path: Path, fixture_path: Path) -> None:
    fixture = yaml.safe_load(fixture_path.read_text())
    root = tmp_path / "mappings"
    shutil.copytree(PROJECT_ROOT / "mappings", root)
    _apply(root, fixture)
    problems = check_knowledge(root, PROJECT_ROOT / "hooks")
    assert any(fixture["expect"] in p for p in problems), problems


def test_there_is_a_fixture_per_defect_the_issue_names() -> None:
    names = {p.stem for p in FIXTURES}
    assert {
        "schema-unknown-field",
        "unknown-code-system",
        "rule-without-citation",
        "duplicate-code",
    } <= names


def test_broken_service_definition_is_reported(tmp_path: Path) -> None:
    hooks = tmp_path / "hooks"
    shutil.copytree(PROJECT_ROOT / "hooks", hooks)
    path = hooks / "neurotransmitter-patient-view.yaml"
    path.write_text(
        path.read_text().replace("{{context.patientId}}", "{{context.medication.id}}", 1)
    )
    problems = check_knowledge(PROJECT_ROOT / "mappings", hooks)
    assert any("context.medication.id" in p for p in problems), problems


def test_unverified_lists_codes_and_citations_still_to_confirm() -> None:
    kb = load_knowledge(PROJECT_ROOT / "mappings")
    items = unverified(kb)
    assert any("no RxNorm ingredient confirmed for citicoline" in i for i in items)
    assert not any("citation sarris-2022 " in i for i in items)  # verified
    assert not any("loinc|2276-4 " in i for i in items)  # verified


def test_cli_exit_codes(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cds_service.cli.main import app

    runner = CliRunner()
    ok = runner.invoke(app, ["check-knowledge", "--verbose"])
    assert ok.exit_code == 0, ok.output
    assert "no problem found" in ok.output and "to verify: " in ok.output
    root = tmp_path / "mappings"
    shutil.copytree(PROJECT_ROOT / "mappings", root)
    fixture = yaml.safe_load((FIXTURES[0].parent / "duplicate-code.yaml").read_text())
    _apply(root, fixture)
    bad = runner.invoke(app, ["check-knowledge", "--mappings", str(root)])
    assert bad.exit_code == 1
    assert "code 2276-4 is also used by ferritin" in bad.output


def test_a_doi_under_two_citation_ids_fails_whatever_its_spelling(tmp_path: Path) -> None:
    """DOIs are case-insensitive and may carry a "doi:" or resolver prefix: the check compares
    the names, so a copied DOI cannot hide behind another spelling."""
    root = tmp_path / "mappings"
    shutil.copytree(PROJECT_ROOT / "mappings", root)
    kb = load_knowledge(root)
    devalia = kb.citations["devalia-2014"].doi
    assert devalia is not None
    path = root / "citations.yaml"
    data = yaml.safe_load(path.read_text())
    entry = next(c for c in data["citations"] if c["id"] == "stoffel-2017")
    entry["doi"] = f"https://doi.org/{devalia.upper()}"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    problems = check_knowledge(root, PROJECT_ROOT / "hooks")
    assert any(
        f"DOI {devalia.lower()} is used by devalia-2014, stoffel-2017" in p for p in problems
    ), problems


def test_the_corrected_citations_carry_their_own_identifiers() -> None:
    kb = load_knowledge(PROJECT_ROOT / "mappings")
    king = kb.citations["king-bond-2016"]
    assert (king.pmid, king.doi) == ("26962190", "10.3945/jn.115.220079")
    assert kb.citations["refsum-2004"].pmid != king.pmid
    assert "kynurenine" in (kb.citations["badawy-2019"].title or "").lower()
