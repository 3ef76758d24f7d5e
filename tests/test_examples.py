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

from cds_service.cli.main import app
from cds_service.protocol.messages import EXAMPLE_EXTENSION
from cds_service.protocol.validate import check_response

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
    removes: tuple[str, ...] = ()  # draft orders a suggestion deletes
    override_reasons: bool = False  # the first expected card offers override reasons
    no_supplements: bool = False  # no suggestion creates a MedicationRequest


# RxNorm ingredients: 11248 vitamin B12, 94 oxitriptan (5-HTP), 10898 tryptophan, 9002
# pyridoxine, 2418 cholecalciferol, 24947 ferrous sulfate, 4301 omega-3, 6582 magnesium oxide.
# LOINC (lab orders): 2160-0 creatinine with eGFR.
PRECURSORS = ("94", "10898")
EXPECTED: dict[str, Expect] = {
    # Cards grouped by what the clinician does (labs and tests, medication review, adjunct
    # options); the topic is the pathway of the card's leading finding.
    "patient-view-b12-deficient.json": Expect(
        cards=(("info", "methylation"),), suggests=("11248",)
    ),
    "bundle-metformin-low-b12-vitamin-d.json": Expect(
        cards=(("info", "serotonergic"),), suggests=("11248", "2418")
    ),
    "patient-view-serotonergic-low-b6-vitamin-d.json": Expect(
        # 5-HTP and L-tryptophan are one choice: 5-HTP's draft, L-tryptophan named.
        cards=(("info", "serotonergic"), ("info", "inflammation")),
        suggests=("9002", "2418", "94", "4301"),
    ),
    "patient-view-catecholaminergic-iron-deficiency.json": Expect(
        cards=(("info", "catecholaminergic"),), suggests=("24947",)
    ),
    "patient-view-cholinergic-low-moca.json": Expect(
        cards=(("info", "cholinergic"),), suggests=("citicoline",)
    ),
    # On sertraline (issue 17: adjuncts once first-line treatment is in place); SAMe warns (S4).
    "patient-view-inflammation-low-grade-crp.json": Expect(
        cards=(("warning", "methylation"),), suggests=("4301",)
    ),
    # Missing safety data: the test to order, not the supplement.
    "patient-view-magnesium-low-needs-egfr.json": Expect(
        cards=(("info", "gaba-glutamate"),), suggests=("2160-0",), never=("6582",)
    ),
    # Safety cards (clinical-reference section 5: S = drug-supplement, C = condition rules).
    "patient-view-suicide-risk-phq9-item9.json": Expect(
        cards=(("critical", "C20"),), no_supplements=True
    ),
    "patient-view-adolescent-no-supplements.json": Expect(no_supplements=True),
    "patient-view-on-sertraline-precursors-withheld.json": Expect(
        cards=(("warning", "methylation"), ("info", "serotonergic")),  # SAMe with an SSRI: S4
        suggests=("9002",),
        never=PRECURSORS,
        override_reasons=True,
    ),
    "patient-view-pregnant-precursors-blocked.json": Expect(never=(*PRECURSORS, "same")),
    "order-sign-5htp-on-phenelzine.json": Expect(
        cards=(("critical", "S1"),), removes=("MedicationRequest/draft-5htp",), never=PRECURSORS
    ),
    "order-select-sertraline-on-otc-5htp.json": Expect(
        cards=(("warning", "S3"),),
        removes=("MedicationRequest/draft-sertraline",),
        override_reasons=True,
    ),
    "order-sign-dstu2-pyridoxine-on-levodopa.json": Expect(
        cards=(("warning", "S5"),), removes=("MedicationOrder/order-123",), override_reasons=True
    ),
    # Spacing advice; the ferritin supports the iron, which needs no card of its own.
    "order-sign-iron-on-levothyroxine.json": Expect(cards=(("info", "S8"),)),
    "order-sign-omega3-on-warfarin.json": Expect(
        cards=(("warning", "S13"),), override_reasons=True
    ),
}


def actions(response: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        action
        for card in response["cards"]
        for suggestion in card.get("suggestions") or []
        for action in suggestion.get("actions") or []
    ]


def suggested_codes(response: dict[str, Any]) -> set[str]:
    codes: set[str] = set()
    for action in actions(response):
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
    removed = {a.get("resourceId") for a in actions(response) if a["type"] == "delete"}
    for draft in expected.removes:
        assert draft in removed, (draft, removed)
    if expected.override_reasons:
        _, topic = expected.cards[0]
        card = next(c for c in response["cards"] if c["source"]["topic"]["code"] == topic)
        assert card["overrideReasons"] and all(r.get("display") for r in card["overrideReasons"])
    if expected.no_supplements:
        created = [
            a
            for a in actions(response)
            if (a.get("resource") or {}).get("resourceType") == "MedicationRequest"
        ]
        assert created == [], created


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
