"""Every file in examples/ through ``cds-service evaluate`` (typer's runner) and the HTTP API.

The examples are the newcomer's first experience (README, docs/sandbox.md): each must evaluate,
give a valid response, and show the cards its title promises. EXPECTED lists, per file, cards
that must be present as (indicator, topic) and suggestions that must, or must not, be offered
(by RxNorm or LOINC code of the suggested resource).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from cds_service.cli import app
from cds_service.offline import EXAMPLE_EXTENSION
from cds_service.validate import check_response

EXAMPLES = Path(__file__).parents[1] / "examples"
FILES = sorted(EXAMPLES.glob("*.json"))
SERVICE_FOR_HOOK = {
    "patient-view": "neurotransmitter-patient-view",
    "order-select": "neurotransmitter-order-select",
    "order-sign": "neurotransmitter-order-sign",
}


@dataclass(frozen=True)
class Expect:
    cards: tuple[tuple[str, str], ...] = ()  # (indicator, topic) present
    suggests: tuple[str, ...] = ()  # codes suggested
    never: tuple[str, ...] = ()  # codes never suggested


# RxNorm: 11248 vitamin B12. LOINC: none yet.
EXPECTED: dict[str, Expect] = {
    "patient-view-b12-deficient.json": Expect(
        cards=(("info", "methylation"),), suggests=("11248",)
    ),
    "bundle-metformin-low-b12-vitamin-d.json": Expect(
        cards=(("info", "methylation"),), suggests=("11248",)
    ),
}


def suggested_codes(response: dict[str, Any]) -> set[str]:
    codes: set[str] = set()
    for card in response["cards"]:
        for suggestion in card.get("suggestions") or []:
            for action in suggestion.get("actions") or []:
                resource = action.get("resource") or {}
                concept = resource.get("medicationCodeableConcept") or resource.get("code") or {}
                codes |= {c.get("code") for c in concept.get("coding") or []}
    return codes


def evaluate(path: Path) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["evaluate", str(path), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_there_are_examples_for_every_hook() -> None:
    hooks = set()
    for path in FILES:
        document = json.loads(path.read_text(encoding="utf-8"))
        hooks.add(document.get("hook", "bundle"))
    assert {"patient-view", "order-select", "order-sign", "bundle"} <= hooks


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_example_evaluates_to_a_valid_response_with_its_expected_cards(path: Path) -> None:
    response = evaluate(path)
    assert check_response(response) == []
    expected = EXPECTED.get(path.name, Expect())
    shown = {(c["indicator"], c["source"]["topic"]["code"]) for c in response["cards"]}
    for card in expected.cards:
        assert card in shown, (card, shown)
    codes = suggested_codes(response)
    for code in expected.suggests:
        assert code in codes, (code, codes)
    for code in expected.never:
        assert code not in codes, (code, codes)


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_request_examples_are_documented_and_dated(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    if document.get("resourceType") == "Bundle":
        assert document.get("timestamp"), "a Bundle example is read as of its timestamp"
        return
    example = document["extension"][EXAMPLE_EXTENSION]
    assert len(example["title"]) > 40
    assert example["asOf"] == "2026-11-27"
    # Every example patient is an adult unless the example is about age.
    if "adolescent" not in path.name:
        born = document["prefetch"]["patient"]["birthDate"]
        assert born < "2008-11-27", path.name


@pytest.mark.parametrize(
    "path",
    [p for p in FILES if p.name.split("-")[0] in ("patient", "order")],
    ids=lambda p: p.name,
)
def test_request_examples_are_accepted_by_the_service(path: Path, client: httpx.Client) -> None:
    """The same files curl'ed at the running service (as the README does) answer 200."""
    document = json.loads(path.read_text(encoding="utf-8"))
    response = client.post(f"/cds-services/{SERVICE_FOR_HOOK[document['hook']]}", json=document)
    assert response.status_code == 200, response.text
    assert check_response(response.json()) == []
