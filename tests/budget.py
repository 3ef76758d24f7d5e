"""The card budget of issue 15 (clinical-reference §7.6), as checks a test can run on any
response: at most 3 cards; critical, then warning, then info; every summary under 140
characters and never cut with an ellipsis; every detail at most 1,200 characters.

``budget_problems`` names each breach, by aspect, so a test can assert one aspect at a time
(and mark the aspects today's renderer still breaches as expected failures).
"""

from __future__ import annotations

from typing import Any

from cds_service.cards.budget import MAX_CARDS
from cds_service.cards.text import DETAIL_BUDGET
from cds_service.protocol.messages import SUMMARY_MAX_LENGTH

CARD_LIMIT = MAX_CARDS
SUMMARY_LIMIT = SUMMARY_MAX_LENGTH  # "under 140 characters"
DETAIL_LIMIT = DETAIL_BUDGET
ASPECTS = ("cards", "order", "summary", "detail")
_RANK = {"critical": 0, "warning": 1, "info": 2}


def budget_problems(response: dict[str, Any]) -> dict[str, list[str]]:
    """Aspect -> what breaches it ("cards", "order", "summary", "detail"); empty lists if none."""
    cards = response["cards"]
    problems: dict[str, list[str]] = {aspect: [] for aspect in ASPECTS}
    if len(cards) > CARD_LIMIT:
        problems["cards"].append(f"{len(cards)} cards (at most {CARD_LIMIT})")
    ranks = [_RANK[c["indicator"]] for c in cards]
    if ranks != sorted(ranks):
        problems["order"].append(f"indicators out of order: {[c['indicator'] for c in cards]}")
    for card in cards:
        topic = card["source"].get("topic", {}).get("code", "?")
        summary = card["summary"]
        if len(summary) > SUMMARY_LIMIT or summary.endswith(("…", "...")):
            problems["summary"].append(f"{topic}: {len(summary)} characters: {summary!r}")
        if len(card.get("detail", "")) > DETAIL_LIMIT:
            problems["detail"].append(f"{topic}: detail of {len(card['detail'])} characters")
    return problems


def assert_within_budget(response: dict[str, Any], aspects: tuple[str, ...] = ASPECTS) -> None:
    problems = budget_problems(response)
    breaches = {a: problems[a] for a in aspects if problems[a]}
    assert not breaches, breaches
