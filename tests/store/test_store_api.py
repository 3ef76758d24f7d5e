"""The audit trail through the HTTP API, with the service under uvicorn, on both databases."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from cds_service.http.app import create_app
from cds_service.knowledge import KnowledgeBase
from cds_service.settings import PROJECT_ROOT
from cds_service.store.engine import create_engine
from cds_service.store.report import build_report
from tests.conftest import make_settings
from tests.servers import serve_app
from tests.store.conftest import PostgresCluster
from tests.store.store_data import AUDIT_KEY, feedback_item

SERVICE = "neurotransmitter-patient-view"
CALL = f"/cds-services/{SERVICE}"
FEEDBACK = f"/cds-services/{SERVICE}/feedback"
EXAMPLE = json.loads((PROJECT_ROOT / "examples" / "patient-view-b12-deficient.json").read_text())


@dataclass
class Service:
    url: str
    database_url: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


@pytest.fixture
def service(database_url: str, tmp_path: Path, kb: KnowledgeBase) -> Iterator[Service]:
    settings = make_settings(tmp_path, database_url=database_url, audit_key=AUDIT_KEY)
    with serve_app(create_app(settings, knowledge=kb)) as url:
        yield Service(url, database_url)


def query(database_url: str, sql: str, **params: Any) -> list[sa.Row[Any]]:
    """Read the database from outside the service, as an operator would."""

    async def run() -> list[sa.Row[Any]]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                return list(await conn.execute(sa.text(sql), params))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def wait_for(condition: Any, what: str, timeout: float = 15) -> Any:
    """Poll ``condition`` until it returns something truthy, failing after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return result


def call_service(http: httpx.Client) -> dict[str, Any]:
    response = http.post(CALL, json={**EXAMPLE, "hookInstance": str(uuid.uuid4())})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["cards"], "the example patient should get at least one card"
    return body


def accepted(card: dict[str, Any], at: str = "2026-11-27T10:05:31Z") -> dict[str, Any]:
    return {
        "card": card["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
        "outcomeTimestamp": at,
    }


def test_a_call_is_audited_and_its_feedback_joins(service: Service) -> None:
    with service.client() as http:
        body = call_service(http)
        card = next(c for c in body["cards"] if c.get("suggestions"))

        # The invocation is written after the response: poll for it.
        rows = wait_for(
            lambda: query(service.database_url, "SELECT * FROM invocations"), "the invocation"
        )
        (invocation,) = rows
        hook_instance = invocation.hook_instance
        assert hook_instance and invocation.service_id == SERVICE and invocation.status == 200
        patient_id = EXAMPLE["context"]["patientId"]
        assert invocation.patient_ref == (
            hmac.new(AUDIT_KEY.encode(), patient_id.encode(), hashlib.sha256).hexdigest()
        )
        stored_cards = query(service.database_url, "SELECT uuid, topic FROM cards")
        assert {c.uuid for c in stored_cards} == {c["uuid"] for c in body["cards"]}
        stored_suggestions = query(
            service.database_url, "SELECT uuid, kind FROM suggestions WHERE card_uuid = :c",
            c=card["uuid"],
        )  # fmt: skip
        assert {s.uuid for s in stored_suggestions} == {s["uuid"] for s in card["suggestions"]}

        # A 200 means committed: the row is there when the answer arrives, no polling.
        item = accepted(card)
        assert http.post(FEEDBACK, json={"feedback": [item]}).status_code == 200
        assert http.post(FEEDBACK, json={"feedback": [item, item]}).status_code == 200
        unknown = feedback_item("card-from-another-service")
        assert http.post(FEEDBACK, json={"feedback": [unknown]}).status_code == 200
        stored = query(
            service.database_url,
            "SELECT card_uuid, card_known, outcome FROM feedback ORDER BY card_uuid",
        )
        assert sorted((r.card_uuid, bool(r.card_known), r.outcome) for r in stored) == sorted(
            [(card["uuid"], True, "accepted"), ("card-from-another-service", False, "overridden")]
        )
        accepted_ids = query(
            service.database_url, "SELECT suggestion_uuid FROM feedback_suggestions"
        )
        assert [r.suggestion_uuid for r in accepted_ids] == [card["suggestions"][0]["uuid"]]


def test_acceptance_and_overrides_per_rule_over_http(service: Service) -> None:
    """Issue 15 end to end: a patient-view card with a suggestion per finding (low B6, low
    vitamin D); accepting the vitamin D one counts for its rule only, dismissing the other card
    counts for each of its rules, with the reason."""
    request = json.loads(
        (PROJECT_ROOT / "examples" / "patient-view-serotonergic-low-b6-vitamin-d.json").read_text()
    )
    with service.client() as http:
        response = http.post(CALL, json={**request, "hookInstance": str(uuid.uuid4())})
        assert response.status_code == 200, response.text
        labs, options = response.json()["cards"]
        vitamin_d = next(s for s in labs["suggestions"] if "vitamin D3" in s["label"])
        taken = {**accepted(labs), "acceptedSuggestions": [{"id": vitamin_d["uuid"]}]}
        dismissed = feedback_item(options["uuid"], "not-relevant")
        assert http.post(FEEDBACK, json={"feedback": [taken, dismissed]}).status_code == 200

    stored = wait_for(
        lambda: query(
            service.database_url,
            "SELECT suggestion_uuid, rule_id FROM suggestion_rules WHERE card_uuid = :c",
            c=labs["uuid"],
        ),
        "the suggestions' rules",
    )
    by_label = {s["uuid"]: s["label"] for s in labs["suggestions"]}
    assert sorted((by_label[r.suggestion_uuid], r.rule_id) for r in stored) == [
        ("Consider vitamin B6 10 mg/day", "b6-deficient"),
        ("Consider vitamin D3 2,000 IU/day", "vitamin-d-deficient"),
    ]

    async def report() -> dict[str, Any]:
        engine = create_engine(service.database_url)
        try:
            return (await build_report(engine)).to_json()
        finally:
            await engine.dispose()

    [view] = asyncio.run(report())["services"]
    rules = {r["rule"]: r for r in view["rules"]}
    assert (rules["b6-deficient"]["accepted"], rules["vitamin-d-deficient"]["accepted"]) == (0, 1)
    option_rules = ("omega3-adjunct-option", "same-adjunct-option", "serotonin-precursor-option")
    for rule in option_rules:
        assert (rules[rule]["shown"], rules[rule]["accepted"], rules[rule]["overridden"]) == (
            1,
            0,
            1,
        )
        assert [r["code"] for r in rules[rule]["top_override_reasons"]] == ["not-relevant"]
    assert {t["topic"]: t["accepted"] for t in view["topics"]} == {
        "inflammation": 0,
        "serotonergic": 1,
    }


def test_an_invalid_batch_stores_nothing(service: Service) -> None:
    with service.client() as http:
        good = feedback_item("card-1")
        bad = {"card": "card-2", "outcome": "accepted", "outcomeTimestamp": "2026-11-27T10:00:00Z"}
        response = http.post(FEEDBACK, json={"feedback": [good, bad]})
        assert response.status_code == 400
        response = http.post(FEEDBACK, json={"feedback": [feedback_item("x" * 500)]})
        assert response.status_code == 400
        assert "at most 200 characters" in response.json()["issue"][0]["diagnostics"]
    assert query(service.database_url, "SELECT * FROM feedback") == []


def test_concurrent_clients_over_http(service: Service) -> None:
    """Eight clients post overlapping batches at once; every item is stored exactly once."""
    items = [feedback_item(f"card-{n}", f"reason-{n % 3}") for n in range(24)]
    failures: list[str] = []
    start = threading.Barrier(8)

    def client(index: int) -> None:
        order = items[index * 3 :] + items[: index * 3]
        if index % 2:
            order.reverse()
        with service.client() as http:
            start.wait()
            for first in range(0, len(order), 4):
                response = http.post(FEEDBACK, json={"feedback": order[first : first + 4]})
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert failures == []
    rows = query(service.database_url, "SELECT card_uuid FROM feedback")
    assert sorted(r.card_uuid for r in rows) == sorted(i["card"] for i in items)


def test_feedback_is_503_while_the_database_refuses_then_stored_on_retry(
    service: Service, request: pytest.FixtureRequest
) -> None:
    item = feedback_item("card-retried")
    with service.client() as http:
        assert http.post(FEEDBACK, json={"feedback": [feedback_item("warm-up")]}).status_code == 200
        with database_refusing(service.database_url, request):
            response = http.post(FEEDBACK, json={"feedback": [item]})
            assert response.status_code == 503, response.text
            assert response.json()["issue"][0]["code"] == "transient"
            assert "Traceback" not in response.text
        assert http.post(FEEDBACK, json={"feedback": [item]}).status_code == 200
        assert http.post(FEEDBACK, json={"feedback": [item]}).status_code == 200
    rows = query(service.database_url, "SELECT card_uuid FROM feedback WHERE card_uuid = :c",
                 c="card-retried")  # fmt: skip
    assert len(rows) == 1


class database_refusing:
    """Make the database refuse writes: another process holds SQLite's write lock, or
    PostgreSQL stops accepting connections to the database and drops the existing ones."""

    def __init__(self, database_url: str, request: pytest.FixtureRequest) -> None:
        self.url = database_url
        self.request = request
        self.lock: sqlite3.Connection | None = None

    def __enter__(self) -> None:
        if self.url.startswith("sqlite"):
            self.lock = sqlite3.connect(self.url.split("///", 1)[1], isolation_level=None)
            self.lock.execute("BEGIN EXCLUSIVE")
        else:
            cluster: PostgresCluster = self.request.getfixturevalue("postgres_cluster")
            name = self.url.rsplit("/", 1)[1]
            cluster.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            cluster.execute(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            )

    def __exit__(self, *exc: object) -> None:
        if self.lock is not None:
            self.lock.execute("ROLLBACK")
            self.lock.close()
        else:
            cluster: PostgresCluster = self.request.getfixturevalue("postgres_cluster")
            name = self.url.rsplit("/", 1)[1]
            cluster.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
