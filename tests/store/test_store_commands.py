"""``db upgrade``, ``report`` and ``prune`` as a user runs them, on both backends."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import UTC, datetime, timedelta

import pytest
import typer
from typer.testing import CliRunner

from cds_service.cli.store import register
from cds_service.store import SQLAuditStore
from tests.store.store_data import SINCE, card, invocation, load_known_set, overridden, settings

runner = CliRunner()


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("CDS_DATABASE_URL", database_url)
    monkeypatch.setenv("CDS_RETENTION_DAYS", "90")
    app = typer.Typer()
    register(app)
    return app


def run_store(url: str, work: object) -> None:
    async def main() -> None:
        store = await SQLAuditStore.open(settings(url))
        try:
            await work(store)  # type: ignore[operator]
        finally:
            await store.aclose()

    asyncio.run(main())


def test_db_upgrade_creates_the_schema(cli: typer.Typer) -> None:
    first = runner.invoke(cli, ["db", "upgrade"])
    assert first.exit_code == 0, first.output
    assert first.output.strip() == "database at revision 0003"
    again = runner.invoke(cli, ["db", "upgrade"])
    assert again.exit_code == 0 and "0003" in again.output


def test_report_on_an_unmigrated_database_says_what_to_do(cli: typer.Typer) -> None:
    result = runner.invoke(cli, ["report"])
    assert result.exit_code == 1
    assert "run `cds-service db upgrade`" in result.output


def test_report_json_and_text(cli: typer.Typer, database_url: str) -> None:
    run_store(database_url, load_known_set)
    as_json = runner.invoke(cli, ["report", "--json", "--since", SINCE.isoformat()])
    assert as_json.exit_code == 0, as_json.output
    body = json.loads(as_json.output)
    view = next(s for s in body["services"] if s["service"] == "nts-patient-view")
    assert view["invocations"] == 2
    assert {t["topic"]: t["shown"] for t in view["topics"]} == {
        "catecholaminergic": 2,
        "serotonergic": 6,
    }
    # The per-rule view: an acceptance counts for the accepted suggestion's rule only.
    assert {r["rule"]: (r["shown"], r["accepted"], r["overridden"]) for r in view["rules"]} == {
        "catecholaminergic.rule.1": (2, 1, 1),
        "catecholaminergic.rule.2": (2, 0, 1),
        "serotonergic.rule.1": (6, 1, 4),
        "serotonergic.rule.2": (6, 0, 4),
    }
    text = runner.invoke(cli, ["report"])
    assert text.exit_code == 0, text.output
    assert "Service nts-patient-view: 3 invocations" in text.output
    # Without --since the older invocation's card (c9, accepted through rule 1) counts too.
    rows = [line.split() for line in text.output.splitlines()]
    assert ["rule", "shown", "accepted", "overridden", "accept", "rate"] in rows
    assert ["serotonergic.rule.1", "7", "2", "4", "29%"] in rows
    assert "Feedback for unknown cards: 2" in text.output


def test_report_since_a_date_and_a_bad_date(cli: typer.Typer, database_url: str) -> None:
    run_store(database_url, load_known_set)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    future = runner.invoke(cli, ["report", "--json", "--since", tomorrow])
    assert future.exit_code == 0, future.output
    assert json.loads(future.output)["services"] == []
    bad = runner.invoke(cli, ["report", "--since", "last tuesday"])
    assert bad.exit_code == 2
    assert "ISO 8601" in bad.output


def test_prune_uses_the_retention_setting(cli: typer.Typer, database_url: str) -> None:
    old = datetime.now(UTC) - timedelta(days=120)

    async def work(store: SQLAuditStore) -> None:
        await store.record_invocation(invocation(card(), started_at=old))
        await store.record_invocation(invocation(card()))
        await store.record_feedback("svc", [overridden("ghost")])

    run_store(database_url, work)
    result = runner.invoke(cli, ["prune"])  # CDS_RETENTION_DAYS=90
    assert result.exit_code == 0, result.output
    assert (
        "1 invocations, 1 cards, 2 card_rules, 1 suggestions, 1 suggestion_rules, 0 feedback"
        in result.output
    )
    longer = runner.invoke(cli, ["prune", "--days", "1"])
    assert "0 invocations" in longer.output  # the recent invocation is younger than a day


def test_unreachable_database_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("CDS_DATABASE_URL", f"postgresql+asyncpg://postgres@127.0.0.1:{port}/x")
    app = typer.Typer()
    register(app)
    result = runner.invoke(app, ["report"])
    assert result.exit_code == 1
    assert result.output.startswith("error: the database is unreachable")
    assert "Traceback" not in result.output
