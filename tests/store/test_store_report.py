"""The report's numbers for a known set of invocations and feedback, on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from cds_service.store import SQLAuditStore
from cds_service.store.report import build_report
from cds_service.store.report_text import render_text
from tests.store.store_data import DEL, MR, SINCE, SR, load_known_set, settings

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SQLAuditStore]:
    store = await SQLAuditStore.open(settings(database_url))
    yield store
    await store.aclose()


def topic(name: str, shown: int, acc: int, over: int, ign: int, reasons: list[Any]) -> Any:
    return {
        "topic": name,
        "shown": shown,
        "accepted": acc,
        "overridden": over,
        "ignored": ign,
        "acceptance_rate": acc / shown,
        "top_override_reasons": reasons,
    }


def rule(name: str, shown: int, acc: int, over: int, reasons: list[Any]) -> Any:
    return {
        "rule": name,
        "shown": shown,
        "accepted": acc,
        "overridden": over,
        "acceptance_rate": acc / shown,
        "top_override_reasons": reasons,
    }


def kind(name: str, shown: int, acc: int) -> Any:
    return {"kind": name, "shown": shown, "accepted": acc, "acceptance_rate": acc / shown}


def by_rule(rule: str, code: str, count: int, display: str | None = None) -> Any:
    return {"rule": rule, **reason(code, count, display)}


def reason(code: str, count: int, display: str | None = None) -> Any:
    system = None if code == "(comment only)" else "http://example.org/override"
    return {"code": code, "system": system, "display": display, "count": count}


SEROTONERGIC_REASONS = [
    reason("not-relevant", 2, "Not relevant"),
    reason("already-taking", 1),
    reason("patient-declined", 1, "Patient declined"),
]


async def test_report_since_counts_the_known_set(store: SQLAuditStore) -> None:
    await load_known_set(store)
    report = (await build_report(store.engine, since=SINCE)).to_json()
    assert report["since"] == SINCE.isoformat()
    assert report["services"] == [
        {
            "service": "nts-order-sign",
            "invocations": 1,
            "unknown_card_feedback": 2,
            "topics": [topic("safety", 1, 1, 0, 0, [])],
            # The accepted delete came from the card's first rule only.
            "rules": [rule("safety.rule.1", 1, 1, 0, []), rule("safety.rule.2", 1, 0, 0, [])],
            "suggestion_kinds": [kind(DEL, 1, 1)],
            "overrides_by_rule": [],
        },
        {
            "service": "nts-patient-view",
            "invocations": 2,
            "unknown_card_feedback": 0,
            "topics": [
                topic("catecholaminergic", 2, 1, 1, 0, [reason("(comment only)", 1)]),
                topic(
                    "serotonergic",
                    6,
                    1,
                    4,
                    1,
                    [
                        reason("not-relevant", 2, "Not relevant"),
                        reason("already-taking", 1),
                        reason("patient-declined", 1, "Patient declined"),
                    ],
                ),
            ],
            # Per rule: every card carries both rules of its topic; an accepted suggestion
            # counts for the rule it came from (each card's first suggestion: rule 1), an
            # override for both rules.
            "rules": [
                rule("catecholaminergic.rule.1", 2, 1, 1, [reason("(comment only)", 1)]),
                rule("catecholaminergic.rule.2", 2, 0, 1, [reason("(comment only)", 1)]),
                rule("serotonergic.rule.1", 6, 1, 4, SEROTONERGIC_REASONS),
                rule("serotonergic.rule.2", 6, 0, 4, SEROTONERGIC_REASONS),
            ],
            # c8's suggestion was accepted before the card was overridden: it counts.
            "suggestion_kinds": [kind(MR, 6, 2), kind(SR, 2, 1)],
            # Every overridden card counts for each of its two rules (issue 16).
            "overrides_by_rule": [
                by_rule("catecholaminergic.rule.1", "(comment only)", 1),
                by_rule("catecholaminergic.rule.2", "(comment only)", 1),
                by_rule("serotonergic.rule.1", "not-relevant", 2, "Not relevant"),
                by_rule("serotonergic.rule.1", "already-taking", 1),
                by_rule("serotonergic.rule.1", "patient-declined", 1, "Patient declined"),
                by_rule("serotonergic.rule.2", "not-relevant", 2, "Not relevant"),
                by_rule("serotonergic.rule.2", "already-taking", 1),
                by_rule("serotonergic.rule.2", "patient-declined", 1, "Patient declined"),
            ],
        },
    ]


async def test_report_without_since_includes_older_invocations(store: SQLAuditStore) -> None:
    await load_known_set(store)
    services = {s["service"]: s for s in (await build_report(store.engine)).to_json()["services"]}
    view = services["nts-patient-view"]
    assert view["invocations"] == 3
    serotonergic = next(t for t in view["topics"] if t["topic"] == "serotonergic")
    assert (serotonergic["shown"], serotonergic["accepted"], serotonergic["ignored"]) == (7, 2, 1)
    assert view["suggestion_kinds"][0] == kind(MR, 7, 3)


async def test_text_report_is_a_readable_table(store: SQLAuditStore) -> None:
    await load_known_set(store)
    text = render_text(await build_report(store.engine, since=SINCE))
    lines = text.splitlines()
    assert "Service nts-patient-view: 2 invocations" in lines
    header = next(line for line in lines if line.startswith("topic"))
    assert header.split() == [
        "topic",
        "shown",
        "accepted",
        "overridden",
        "ignored",
        "accept",
        "rate",
    ]
    assert next(line for line in lines if line.startswith("serotonergic")).split() == [
        "serotonergic",
        "6",
        "1",
        "4",
        "1",
        "17%",
    ]
    assert (
        "  serotonergic: top override reasons: Not relevant (2), already-taking (1), "
        "Patient declined (1)" in lines
    )
    assert "Feedback for unknown cards: 2" in lines
    view = lines.index("Service nts-patient-view: 2 invocations")
    per_rule = next(i for i in range(view, len(lines)) if lines[i].startswith("rule "))
    assert lines[per_rule].split() == ["rule", "shown", "accepted", "overridden", "accept", "rate"]
    assert lines[per_rule + 2].split() == ["catecholaminergic.rule.1", "2", "1", "1", "50%"]
    assert ["serotonergic.rule.2", "6", "0", "4", "0%"] in [line.split() for line in lines]
    assert (
        "  serotonergic.rule.1: top override reasons: Not relevant (2), already-taking (1), "
        "Patient declined (1)" in lines
    )
    rules = next(
        i for i, line in enumerate(lines) if line.split()[:3] == ["rule", "override", "reason"]
    )
    assert lines[rules].split() == ["rule", "override", "reason", "overrides"]
    assert lines[rules + 2].split() == ["catecholaminergic.rule.1", "(comment", "only)", "1"]
    assert ["serotonergic.rule.2", "Not", "relevant", "2"] in [line.split() for line in lines]
    assert "free text" not in text  # comments are never printed


async def test_empty_store_reports_nothing(store: SQLAuditStore) -> None:
    report = await build_report(store.engine)
    assert report.services == []
    assert "No invocations or feedback recorded" in render_text(report)
