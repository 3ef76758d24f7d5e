"""The card budget (issue 15, clinical-reference §7.6) on every example and every public test
patient, at every hook: at most 3 cards, critical first; summaries under 140 characters and
never cut; details of at most 1,200 characters; each card's indicator consistent with the
rules it carries; every card with an action or a safety message.

Real patients are read as of the day after their last record, so their results are current
and the rules fire as they would have on that day (read as of today, most are stale and
quiet: a budget test over silent responses would prove nothing).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from cds_service.cli.offline import prepare, read_json, run
from cds_service.knowledge import KnowledgeBase
from cds_service.protocol.services import ServiceRegistry, load_services
from cds_service.settings import PROJECT_ROOT, Settings
from cds_service.snapshot.values import parse_datetime
from tests import realdata
from tests.budget import assert_within_budget
from tests.helpers import run_hook

EXAMPLES = sorted((PROJECT_ROOT / "examples").glob("*.json"))
HOOKS = ("patient-view", "order-select", "order-sign")
_DATES = ("effectiveDateTime", "issued", "authoredOn", "recordedDate", "onsetDateTime", "date")


@pytest.fixture(scope="module")
def registry(kb: KnowledgeBase) -> ServiceRegistry:
    return load_services(Settings().hooks_dir, kb)


def indicator_problems(
    response: dict[str, Any], rule_ids: list[tuple[str, ...]], kb: KnowledgeBase
) -> list[str]:
    """A card's indicator against the knowledge behind its rules: critical only with a rule
    that is critical by definition (an alert, or a hard or critical block), never info with a
    warning rule or an urgent finding; and something to do on every card."""
    safety_rules = {r.id: r for r in kb.safety_rules}
    pathway_rules = {r.id: r for r in kb.rules}
    order_checks = {r.id for r in (*kb.dose_limits, *kb.duplication)}
    # A finding an order answers (an antidepressant ordered: "no first-line treatment") is said
    # as answered on the order's guidance card, which stays info.
    answered = {a for g in kb.medication_guidance for a in g.addresses}
    problems = []
    for card, rules in zip(response["cards"], rule_ids, strict=True):
        indicator, summary = card["indicator"], card["summary"]
        safety = [safety_rules[r] for r in rules if r in safety_rules]
        findings = [pathway_rules[r] for r in rules if r in pathway_rules]
        critical = [
            s for s in safety if s.alert or (s.action == "block" and (s.hard or s.critical))
        ]
        warning = [s for s in safety if s.action == "warn"] + [
            r
            for r in findings
            if (r.severity == "urgent" or r.indicator == "warning") and r.id not in answered
        ]
        if indicator == "critical" and not critical:
            problems.append(f"critical without a critical rule: {summary!r} {rules}")
        if any(s.alert for s in safety) and indicator != "critical":
            problems.append(f"an alert that is not critical: {summary!r}")
        if indicator == "info" and warning:
            problems.append(f"info with a warning rule: {summary!r} {rules}")
        advised = (
            any(r.advice for r in findings)
            or bool(safety)
            or any(r in order_checks for r in rules)
            # "Not checked": a draft the interaction check could not read, beside a supplement.
            or card["source"]["topic"]["code"] == "not-checked"
        )
        if not (card.get("suggestions") or indicator != "info" or advised):
            problems.append(f"no action and no safety message: {summary!r} {rules}")
    return problems


def check(evaluation: Any, kb: KnowledgeBase) -> None:
    response = evaluation.response
    assert_within_budget(response)
    audits = [tuple(card.rule_ids) for card in evaluation.cards]
    assert not indicator_problems(response, audits, kb)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_fits_the_budget(
    kb: KnowledgeBase, registry: ServiceRegistry, path: Path
) -> None:
    document = read_json(path)
    hooks = HOOKS if document.get("resourceType") == "Bundle" else (None,)
    for hook in hooks:
        outcome = run(prepare(document, registry, hook), kb)
        assert outcome.problems == []
        check(outcome.evaluation, kb)


def _last_record(patient: realdata.RealPatient) -> datetime:
    """The day after the patient's latest dated resource (now when nothing is dated)."""
    dates = [
        parsed
        for resource in patient.resources
        for field in _DATES
        if (parsed := parse_datetime(resource.get(field))) is not None
    ]
    return max(dates) + timedelta(days=1) if dates else datetime.now(UTC)


@cache
def _patients() -> list[tuple[str, realdata.RealPatient]]:
    return [
        *((f"synthea/{n}", realdata.synthea_patient(n)) for n in realdata.synthea_files()),
        *((f"smart/{n}", realdata.smart_patient(n)) for n in realdata.smart_ids()),
        *((f"ecqm/{d}", realdata.ecqm_patient(d)) for d in realdata.ecqm_dirs()),
        *((f"hl7/{f}", realdata.hl7_example(f)) for f in realdata.hl7_files()),
    ]


def test_the_public_test_data_is_there() -> None:
    """CI has ../shared beside the project: the tests over it (here, test_replay_*.py,
    test_real_bundles.py) must not pass silently on an empty parametrisation."""
    for folder in ("synthea", "smart", "ecqm-tests", "hl7-examples", "cds-requests"):
        assert any((realdata.TESTDATA / folder).rglob("*.json")), realdata.TESTDATA / folder
    assert len(_patients()) > 200, realdata.TESTDATA


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n, _ in _patients()])
def test_every_public_patient_fits_the_budget(kb: KnowledgeBase, name: str) -> None:
    patient = dict(_patients())[name]
    when = _last_record(patient)
    drafts = realdata.draft_orders(patient)
    for hook in HOOKS:
        request = realdata.hook_call(hook, patient, drafts=drafts)
        check(run_hook(kb, request, now=when), kb)
