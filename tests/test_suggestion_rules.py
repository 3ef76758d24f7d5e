"""Each suggestion is recorded with the rules that ask for it (issue 15), by every card renderer.

A card carries several rules, and ``cds-service report`` counts an accepted suggestion as
acceptance for the suggestion's own rules: patient-view (one suggestion per finding, merged
findings, alternatives of one choice), order checks (stop, remove, test first), order guidance
(a drug class's own tests come from no rule) and the folded fourth card at order time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cds_service.cards.budget import fit_cards
from cds_service.cards.record import CardAudit, RenderedCard, SuggestionAudit
from cds_service.cards.resources import order_test_suggestion
from cds_service.knowledge import KnowledgeBase
from cds_service.pipeline import Evaluation
from cds_service.protocol.messages import Card, Coding, Source
from tests import safety_net
from tests.depth_scenarios import SCENARIOS
from tests.factories import draft_order, hook_request, patient, prefetch_for
from tests.helpers import run_hook

EXAMPLES = {
    path.name: json.loads(path.read_text())
    for path in sorted((Path(__file__).parents[1] / "examples").glob("*.json"))
}
REQUESTS = {name: doc for name, doc in EXAMPLES.items() if "hook" in doc}
# Every example request and every issue-17 scenario, each built when its test runs.
EVERY_REQUEST: dict[str, Callable[[], dict[str, Any]]] = {
    **{name: (lambda doc=doc: doc) for name, doc in REQUESTS.items()},
    **{f"scenario:{name}": build for name, build in SCENARIOS.items()},
}


def suggestion_rules(result: Evaluation) -> dict[str, tuple[str, ...]]:
    """Each suggestion's label -> the rules recorded for it."""
    labels = {
        s["uuid"]: s["label"] for c in result.response["cards"] for s in c.get("suggestions", [])
    }
    return {labels[s.uuid]: s.rule_ids for a in result.cards for s in a.suggestions}


def audit_of(result: Evaluation, topic: str) -> CardAudit:
    [audit] = [a for a in result.cards if a.topic == topic]
    return audit


@pytest.mark.parametrize("name", sorted(EVERY_REQUEST))
def test_every_suggestion_names_rules_of_its_card(kb: KnowledgeBase, name: str) -> None:
    result = run_hook(kb, EVERY_REQUEST[name]())
    for audit in result.cards:
        for suggestion in audit.suggestions:
            assert suggestion.rule_ids, (audit.topic, suggestion.kind)
            assert set(suggestion.rule_ids) <= set(audit.rule_ids), (audit, suggestion)


def test_two_findings_on_one_card_each_name_their_own_suggestion(kb: KnowledgeBase) -> None:
    result = run_hook(kb, REQUESTS["patient-view-serotonergic-low-b6-vitamin-d.json"])
    audit = audit_of(result, "serotonergic")
    assert audit.rule_ids == ("b6-deficient", "vitamin-d-deficient")
    rules = suggestion_rules(result)
    assert rules["Consider vitamin B6 10 mg/day"] == ("b6-deficient",)
    assert rules["Consider vitamin D3 2,000 IU/day"] == ("vitamin-d-deficient",)
    # Alternatives of one choice are one suggestion: it names the option rule once.
    assert rules["Consider 5-HTP 100 mg/day (or L-tryptophan 1,000 mg/day)"] == (
        "serotonin-precursor-option",
    )


def test_a_test_two_findings_ask_for_names_both(kb: KnowledgeBase) -> None:
    """Two rules asking for one test share one line and one suggestion: both are its rules."""
    result = run_hook(kb, SCENARIOS["man_68_with_low_ferritin"]())
    rules = suggestion_rules(result)
    assert rules["Order blood count (CBC)"] == (
        "iron-deficiency",
        "iron-deficiency-cause-needs-blood-count",
    )


def test_order_card_suggestions_name_the_findings_they_answer(kb: KnowledgeBase) -> None:
    """Sertraline ordered on OTC 5-HTP and St John's wort: S3 meets both supplements, the St
    John's wort rule only its own; removing the draft answers both."""
    result = run_hook(kb, REQUESTS["order-select-sertraline-on-otc-5htp.json"])
    audit = audit_of(result, "S3")
    assert audit.rule_ids == ("S3", "S3.st-johns-wort")
    by_kind = [(s.kind, s.rule_ids) for s in audit.suggestions]
    assert by_kind == [
        ("update:MedicationStatement", ("S3",)),
        ("update:MedicationStatement", ("S3", "S3.st-johns-wort")),
        ("delete:MedicationRequest", ("S3", "S3.st-johns-wort")),
    ]


def test_a_drug_class_test_comes_from_no_rule(kb: KnowledgeBase) -> None:
    """An antidepressant ordered with no B12 or TSH on record: order_guidance.yaml, not a rule,
    suggests the tests, so acceptance of them counts for no rule."""
    sertraline = draft_order("sertraline 50 MG Oral Tablet", "36437")
    request = hook_request(
        "order-select",
        prefetch=prefetch_for(patient_resource=patient(age=45)),
        draft_orders=[sertraline],
    )
    result = run_hook(kb, request)
    guidance = audit_of(result, "serotonergic")
    assert guidance.suggestions, "the guidance card suggests the missing tests"
    assert all(s.rule_ids == () for s in guidance.suggestions)


def _card(kb: KnowledgeBase, rule: str, lab_order: str | None) -> RenderedCard:
    suggestions, audits = [], []
    if lab_order is not None:
        made = order_test_suggestion(kb, kb.lab_orders[lab_order], "p1", "Order it", (rule,))
        suggestions, audits = [made[0]], [made[1]]
    card = Card(
        summary=f"Finding of {rule}",
        detail="detail",
        indicator="info",
        source=Source(label="test", topic=Coding(system=kb.manifest.topic_system, code=rule)),
        suggestions=suggestions or None,
        selectionBehavior="any" if suggestions else None,
    )
    return RenderedCard(card, CardAudit(card.uuid, "info", rule, (rule,), tuple(audits)))


def test_the_folded_card_keeps_the_rules_of_every_card_offering_a_suggestion(
    kb: KnowledgeBase,
) -> None:
    """Cards three and four offer the same test: the folded card offers it once, and accepting
    it answers both folded findings."""
    cards = [
        _card(kb, "R1", None),
        _card(kb, "R2", None),
        _card(kb, "R3", "egfr"),
        _card(kb, "R4", "egfr"),
    ]
    *_, folded = fit_cards(cards, kb)
    assert folded.audit.rule_ids == ("R3", "R4")
    [suggestion] = folded.card.suggestions or []
    [audit] = folded.audit.suggestions
    assert (audit.uuid, audit.rule_ids) == (suggestion.uuid, ("R3", "R4"))


def test_the_safety_net_catches_an_audit_that_is_not_the_card(kb: KnowledgeBase) -> None:
    """tests/safety_net.py checks every evaluation of the suite; here it must object."""
    result = run_hook(kb, REQUESTS["patient-view-b12-deficient.json"])
    assert safety_net.audit_mismatches(result) == []
    [audit] = result.cards
    stray = SuggestionAudit(audit.suggestions[0].uuid, "x", ("not-on-card",))
    wrong = CardAudit(audit.uuid, audit.indicator, audit.topic, audit.rule_ids, (stray,))
    broken = Evaluation(result.response, (wrong,), result.snapshot)
    assert any("not among" in p for p in safety_net.audit_mismatches(broken))
