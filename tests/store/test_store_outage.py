"""The database goes away while the service runs (SQLite and PostgreSQL).

Hook calls must keep answering (the audit write fails after the answer; it is logged and
counted in cds_audit_write_failures_total); feedback must answer 503 so the EHR retries, never
200 without storing; and everything works again once the database is back. Two outages: the
database refuses (locked, or no connections allowed), and the database stops answering
(PostgreSQL behind a proxy that goes silent), the one that leaves callers waiting.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cds_service.http.app import create_app
from cds_service.knowledge import KnowledgeBase
from cds_service.protocol.validate import check_response
from cds_service.settings import PROJECT_ROOT
from tests.conftest import make_settings
from tests.servers import serve_app
from tests.store.conftest import PostgresCluster
from tests.store.freezable_proxy import FreezableProxy
from tests.store.store_data import AUDIT_KEY, feedback_item
from tests.store.test_store_api import database_refusing, query

# Left out of the inner loop (`make check`); `make test` runs it.
pytestmark = pytest.mark.slow

SERVICE = "neurotransmitter-patient-view"
CALL = f"/cds-services/{SERVICE}"
FEEDBACK = f"{CALL}/feedback"
EXAMPLE = json.loads((PROJECT_ROOT / "examples" / "patient-view-b12-deficient.json").read_text())


def call(http: httpx.Client) -> str:
    request = {**EXAMPLE, "hookInstance": str(uuid.uuid4())}
    response = http.post(CALL, json=request)
    assert response.status_code == 200, response.text
    assert check_response(response.json()) == []
    return request["hookInstance"]


def audit_failures(http: httpx.Client) -> float:
    text = http.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "cds_audit_write_failures_total":
                return sample.value
    return 0.0


def wait_for(condition: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def service(database_url: str, tmp_path: Path, kb: KnowledgeBase) -> Iterator[httpx.Client]:
    settings = make_settings(tmp_path, database_url=database_url, audit_key=AUDIT_KEY)
    with (
        serve_app(create_app(settings, knowledge=kb)) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        yield http


def test_calls_answer_and_feedback_is_503_while_the_database_refuses(
    service: httpx.Client,
    database_url: str,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="cds_service")
    call(service)  # warm: the pool holds a connection that will be refused or dropped
    failures = audit_failures(service)
    during = []
    with database_refusing(database_url, request):
        during = [call(service) for _ in range(3)]
        response = service.post(FEEDBACK, json={"feedback": [feedback_item("card-during")]})
        assert response.status_code == 503, response.text
        assert response.json()["issue"][0]["code"] == "transient"
        # The audit writes of the calls above fail after their answers: logged and counted.
        wait_for(lambda: audit_failures(service) >= failures + 1, "an audit failure counted")
    assert any("audit" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)

    # The database is back: feedback is stored (the retry succeeds), calls are audited again.
    assert (
        service.post(FEEDBACK, json={"feedback": [feedback_item("card-during")]}).status_code == 200
    )
    after = call(service)
    stored = query(database_url, "SELECT card_uuid FROM feedback")
    assert [r.card_uuid for r in stored] == ["card-during"]
    wait_for(
        lambda: query(database_url, "SELECT 1 FROM invocations WHERE hook_instance = :h", h=after),
        "the call after the outage to be audited",
    )
    assert len(during) == 3


@pytest.fixture
def frozen_database(
    postgres_cluster: PostgresCluster, tmp_path: Path, kb: KnowledgeBase
) -> Iterator[tuple[httpx.Client, FreezableProxy, str]]:
    direct = postgres_cluster.new_database()
    name = direct.rsplit("/", 1)[1]
    with FreezableProxy(postgres_cluster.port) as proxy:
        via_proxy = f"postgresql+asyncpg://postgres@127.0.0.1:{proxy.port}/{name}"
        settings = make_settings(tmp_path, database_url=via_proxy, audit_key=AUDIT_KEY)
        # The client waits far longer than any database timeout: a hang fails the test.
        with (
            serve_app(create_app(settings, knowledge=kb)) as url,
            httpx.Client(base_url=url, timeout=120) as http,
        ):
            yield http, proxy, direct


def test_a_database_that_stops_answering_gives_503_not_a_hang(
    frozen_database: tuple[httpx.Client, FreezableProxy, str],
) -> None:
    http, proxy, direct = frozen_database
    call(http)
    assert http.post(FEEDBACK, json={"feedback": [feedback_item("card-before")]}).status_code == 200
    proxy.freeze()
    # First the feedback, so that it meets the idle pooled connection that went silent.
    response = http.post(FEEDBACK, json={"feedback": [feedback_item("card-frozen")]})
    assert response.status_code == 503, response.text
    calls = [call(http) for _ in range(3)]  # answered: the audit waits in the background
    response = http.post(FEEDBACK, json={"feedback": [feedback_item("card-frozen")]})
    assert response.status_code == 503, response.text
    ready = http.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["database"] != "ok"
    proxy.thaw()

    response = http.post(FEEDBACK, json={"feedback": [feedback_item("card-frozen")]})
    assert response.status_code == 200, response.text
    stored = {r.card_uuid for r in query(direct, "SELECT card_uuid FROM feedback")}
    assert stored == {"card-before", "card-frozen"}
    assert len(calls) == 3
