"""Evaluate requests in-process (no HTTP) and check every response with the validator."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cds_service.fetch.result import PrefetchResult
from cds_service.knowledge import KnowledgeBase
from cds_service.pipeline import Evaluation, evaluate
from cds_service.protocol.messages import HookRequest
from cds_service.protocol.validate import check_response


def assert_valid(response: Any) -> None:
    problems = check_response(response)
    assert not problems, problems


def run_hook(
    kb: KnowledgeBase, request: dict[str, Any], *, now: datetime | None = None
) -> Evaluation:
    """The pipeline on a request whose prefetch is complete, as app.py would run it."""
    hook_request = HookRequest.model_validate(request)
    hook_request.check_context()
    values = dict(request.get("prefetch") or {})
    prefetch = PrefetchResult(values=values, status=dict.fromkeys(values, "prefetched"))
    result = evaluate(hook_request, prefetch, kb, now or datetime.now(UTC))
    assert_valid(result.response)
    return result


def cards_by_topic(response: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {card["source"]["topic"]["code"]: card for card in response["cards"]}


def rules_on(card: dict[str, Any]) -> set[str]:
    """The rule ids a card names: in backticks in its detail (`b12-deficient`)."""
    return set(card.get("detail", "").split("`")[1::2]) | {card["source"]["topic"]["code"]}


def card_with_rule(response: dict[str, Any], rule_id: str) -> dict[str, Any]:
    """The one card that shows this rule's finding (patient-view groups findings by action)."""
    found = [card for card in response["cards"] if rule_id in rules_on(card)]
    assert len(found) == 1, (rule_id, [c["summary"] for c in response["cards"]])
    return found[0]


def group_of(card: dict[str, Any]) -> str:
    """ "labs and tests", "mood and cognition", "medication review", "safety"..."""
    return str(card["source"]["label"]).split(": ", 1)[-1]


def suggested_resources(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        action["resource"]
        for suggestion in card.get("suggestions", [])
        for action in suggestion.get("actions", [])
        if "resource" in action
    ]


def snapshot_of(
    kb: KnowledgeBase,
    *resources: dict[str, Any],
    patient_resource: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Any:
    """The PatientSnapshot of a prefetch holding these resources (no pipeline, no cards)."""
    from cds_service.snapshot.reader import build_snapshot
    from tests.factories import PATIENT_ID, prefetch_for

    prefetch = prefetch_for(*resources, patient_resource=patient_resource)
    return build_snapshot(
        kb, patient_id=PATIENT_ID, now=now or datetime.now(UTC), prefetch_values=prefetch.values()
    )


def fired_rules(
    kb: KnowledgeBase, *resources: dict[str, Any], patient_resource: dict[str, Any] | None = None
) -> set[str]:
    """Ids of the recommendation rules that fire for a patient with these resources."""
    from cds_service.engine.assess import assess

    snapshot = snapshot_of(kb, *resources, patient_resource=patient_resource)
    return {f.rule.id for a in assess(snapshot, kb) for f in a.findings}


def card_rule_ids(cards: list[dict[str, Any]]) -> set[str]:
    """Every rule id the cards show: each card's topic and the rule of each finding line."""
    found = set()
    for card in cards:
        found.add(card["source"]["topic"]["code"])
        found.update(
            line.split("`")[1]
            for line in card.get("detail", "").splitlines()
            if line.startswith("- **") and "`" in line
        )
    return found
