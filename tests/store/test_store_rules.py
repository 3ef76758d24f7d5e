"""Acceptance and overrides per rule (issue 15): stored with each suggestion's rules, counted by
the report through them, on SQLite and PostgreSQL.

The card of these tests is the patient-view labs card of a patient with two deficits: one
suggestion per finding, each from its own rule.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa

from cds_service.store import SQLAuditStore
from cds_service.store.report import build_report
from cds_service.store.schema import card_rules, suggestion_rules, suggestions
from tests.store.store_data import MR, SR, accepted, card, invocation, overridden, settings

pytestmark = pytest.mark.anyio

SERVICE = "nts-patient-view"
B6, VITAMIN_D = "b6-deficient", "vitamin-d-deficient"


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SQLAuditStore]:
    store = await SQLAuditStore.open(settings(database_url))
    yield store
    await store.aclose()


def labs_card(**extra: Any) -> Any:
    """Two findings, a suggestion from each (B6 first, vitamin D second)."""
    return card("serotonergic", kinds=(MR, MR), rules=(B6, VITAMIN_D), **extra)


async def per_rule(store: SQLAuditStore) -> dict[str, dict[str, Any]]:
    """The report's per-rule view of the patient-view service, by rule id."""
    report = (await build_report(store.engine)).to_json()
    [service] = [s for s in report["services"] if s["service"] == SERVICE]
    return {r["rule"]: r for r in service["rules"]}


def counts(rules: dict[str, dict[str, Any]]) -> dict[str, tuple[int, int, int]]:
    return {name: (r["shown"], r["accepted"], r["overridden"]) for name, r in rules.items()}


async def topic_counts(store: SQLAuditStore) -> tuple[int, int, int]:
    report = (await build_report(store.engine)).to_json()
    [service] = [s for s in report["services"] if s["service"] == SERVICE]
    [topic] = service["topics"]
    return topic["shown"], topic["accepted"], topic["overridden"]


async def test_each_suggestion_is_stored_with_its_rules(store: SQLAuditStore) -> None:
    shown = labs_card()
    await store.record_invocation(invocation(shown))
    async with store.engine.connect() as conn:
        on_card = await conn.execute(sa.select(card_rules.c.rule_id))
        by_suggestion = await conn.execute(
            sa.select(suggestion_rules.c.suggestion_uuid, suggestion_rules.c.rule_id)
        )
        recorded = await conn.execute(sa.select(suggestions.c.rules_recorded))
        assert sorted(on_card.scalars()) == [B6, VITAMIN_D]
        assert sorted(by_suggestion) == sorted(
            [(shown.suggestions[0].uuid, B6), (shown.suggestions[1].uuid, VITAMIN_D)]
        )
        assert set(recorded.scalars()) == {True}


async def test_accepting_one_suggestion_counts_for_its_rule_only(store: SQLAuditStore) -> None:
    shown = labs_card()
    await store.record_invocation(invocation(shown))
    await store.record_feedback(SERVICE, [accepted(shown.uuid, shown.suggestions[1].uuid)])

    rules = await per_rule(store)
    assert counts(rules) == {B6: (1, 0, 0), VITAMIN_D: (1, 1, 0)}
    assert (rules[B6]["acceptance_rate"], rules[VITAMIN_D]["acceptance_rate"]) == (0.0, 1.0)
    assert await topic_counts(store) == (1, 1, 0)  # the card was accepted


async def test_accepting_both_counts_once_for_each(store: SQLAuditStore) -> None:
    shown = labs_card()
    await store.record_invocation(invocation(shown))
    both = [s.uuid for s in shown.suggestions]
    await store.record_feedback(SERVICE, [accepted(shown.uuid, *both)])
    assert counts(await per_rule(store)) == {B6: (1, 1, 0), VITAMIN_D: (1, 1, 0)}


async def test_overriding_the_card_counts_for_each_of_its_rules(store: SQLAuditStore) -> None:
    first, second = labs_card(), labs_card()
    await store.record_invocation(invocation(first, second))
    await store.record_feedback(
        SERVICE,
        [
            overridden(first.uuid, "patient-declined", display="Patient declined"),
            # Accepted, then dismissed: the latest outcome counts, for every rule.
            accepted(second.uuid, second.suggestions[0].uuid, at="2026-11-20T09:00:00Z"),
            overridden(second.uuid, "already-taking", at="2026-11-20T10:00:00Z"),
        ],
    )
    rules = await per_rule(store)
    assert counts(rules) == {B6: (2, 0, 2), VITAMIN_D: (2, 0, 2)}
    for name in (B6, VITAMIN_D):
        reasons = [
            (r["code"], r["display"], r["count"]) for r in rules[name]["top_override_reasons"]
        ]
        assert reasons == [("already-taking", None, 1), ("patient-declined", "Patient declined", 1)]


async def test_a_suggestion_no_rule_asks_for_credits_no_rule(store: SQLAuditStore) -> None:
    """A drug class's own test (order guidance) comes from no rule: the card counts as
    accepted, no rule does."""
    shown = card("serotonergic", kinds=(SR,), rules=(B6,), suggestion_rules=((),))
    await store.record_invocation(invocation(shown))
    await store.record_feedback(SERVICE, [accepted(shown.uuid, shown.suggestions[0].uuid)])
    assert counts(await per_rule(store)) == {B6: (1, 0, 0)}
    assert await topic_counts(store) == (1, 1, 0)


async def test_a_rule_off_the_card_is_never_credited(store: SQLAuditStore) -> None:
    """Accepted can never exceed shown: a suggestion's rule that its card does not carry (a
    renderer bug; the test suite's net catches it) is not counted."""
    shown = card("serotonergic", kinds=(MR,), rules=(B6,), suggestion_rules=(("elsewhere",),))
    await store.record_invocation(invocation(shown))
    await store.record_feedback(SERVICE, [accepted(shown.uuid, shown.suggestions[0].uuid)])
    assert counts(await per_rule(store)) == {B6: (1, 0, 0)}


async def test_a_card_without_rules_counts_under_its_topic(store: SQLAuditStore) -> None:
    shown = card("not-checked", kinds=(), rules=())
    await store.record_invocation(invocation(shown))
    await store.record_feedback(SERVICE, [overridden(shown.uuid, "not-relevant")])
    assert counts(await per_rule(store)) == {"not-checked": (1, 0, 1)}
