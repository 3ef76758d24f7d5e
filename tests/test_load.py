"""A bounded load test of ``cds-service serve --workers 2`` on 127.0.0.1 (marked slow).

A fixed number of mixed requests (the three hooks with prefetch, patient-view through the FHIR
fallback, a FHIR server that fails, feedback, discovery and malformed bodies) from eight
client threads, in three rounds: a warm-up, then two equal rounds. Every answer must be the
expected one (no errors), the workers must hold no more file descriptors after the load than
before it (no leaked connections or files), their memory must not grow from the first round
to the second (flat), and every call must reach the audit trail.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from cds_service.protocol.validate import check_response
from cds_service.settings import PROJECT_ROOT
from tests.factories import (
    SERVICE_FOR_HOOK,
    draft_order,
    hook_request,
    observation,
    patient,
    prefetch_for,
)
from tests.servers import FhirServer, ServeProcess, open_fds, rss_bytes, serve_process

pytestmark = pytest.mark.slow

CLIENTS = 8
WARM_UP, ROUND = 400, 1200
# Allowed growth of both workers' resident memory from round one to round two: a leak of 4 kB
# per request (1,200 requests a round) would exceed it; allocator noise stays near 1 MiB.
MEMORY_SLACK = 4 * 1024 * 1024
EXAMPLE = json.loads((PROJECT_ROOT / "examples" / "patient-view-b12-deficient.json").read_text())
JSON = {"Content-Type": "application/json"}

Request = tuple[str, str, Any, int]  # method, path, body, expected status


@pytest.fixture(scope="module")
def fhir() -> Iterator[FhirServer]:
    with FhirServer() as server:
        server.state.add(patient(), observation("2132-9", 150, "pg/mL"))
        yield server


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeProcess, Path]]:
    workdir = tmp_path_factory.mktemp("load")
    database = workdir / "cds.db"
    env = {
        "CDS_AUTH": "off",
        "CDS_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "CDS_AUDIT_KEY": "load-test-audit-key-0123456789abcdef",
        "CDS_LOG_LEVEL": "WARNING",
        "CDS_VALIDATE_RESPONSES": "true",
        "CDS_FHIR_CONNECT_TIMEOUT": "2",
        "CDS_FHIR_READ_TIMEOUT": "5",
    }
    with serve_process(env, workdir, workers=2) as process:
        yield process, database


def mix(n: int, fhir: FhirServer) -> Request:
    """The n-th request of the mix: every kind in turn."""
    drafts = [
        draft_order("Sertraline 50 MG Oral Tablet", "36437", resource_id="d1"),
        draft_order("L-Tryptophan 500 MG", "10898", resource_id="d2", dose=(500, "mg")),
    ]
    pv = "/cds-services/neurotransmitter-patient-view"
    kind = n % 8
    if kind == 0:
        return "POST", pv, {**EXAMPLE, "hookInstance": str(uuid.uuid4())}, 200
    if kind in (1, 2):
        hook = "order-sign" if kind == 1 else "order-select"
        body = hook_request(hook, prefetch=prefetch_for(), draft_orders=drafts)
        return "POST", f"/cds-services/{SERVICE_FOR_HOOK[hook]}", body, 200
    if kind == 3:
        return "POST", pv, hook_request(fhirServer=fhir.base()), 200
    if kind == 4:
        return "POST", pv, hook_request(fhirServer=fhir.base("e500")), 412
    if kind == 5:
        feedback = {
            "card": str(uuid.uuid4()),
            "outcome": "overridden",
            "overrideReason": {"reason": {"system": "urn:example:override", "code": "other"}},
            "outcomeTimestamp": "2026-11-27T10:06:00Z",
        }
        return "POST", f"{pv}/feedback", {"feedback": [feedback]}, 200
    if kind == 6:
        return "GET", "/cds-services", None, 200
    return "POST", pv, b'{"hook": "patient-view", ', 400


AUDITED_KINDS = 4  # of every 8 requests, kinds 0-3 are answered hook calls (audited)


def run_round(url: str, count: int, fhir: FhirServer) -> Counter[str]:
    """``count`` requests from CLIENTS threads; returns what went wrong, by kind."""
    problems: Counter[str] = Counter()
    lock = threading.Lock()
    indices = iter(range(count))

    def client(_: int) -> None:
        http: httpx.Client | None = None
        used = 0
        try:
            while True:
                with lock:
                    n = next(indices, None)
                if n is None:
                    return
                # Keep-alive, with a new connection every 25 requests: both workers take
                # calls, and connections open and close under load.
                if http is None or used == 25:
                    if http is not None:
                        http.close()
                    http, used = httpx.Client(base_url=url, timeout=30), 0
                used += 1
                problem = send(http, *mix(n, fhir))
                if problem:
                    with lock:
                        problems[problem] += 1
        finally:
            if http is not None:
                http.close()

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))
    return problems


def send(http: httpx.Client, method: str, path: str, body: Any, expected: int) -> str | None:
    try:
        if isinstance(body, bytes):
            response = http.request(method, path, content=body, headers=JSON)
        elif body is None:
            response = http.request(method, path)
        else:
            response = http.request(method, path, json=body)
    except httpx.HTTPError as exc:
        return f"{method} {path}: {type(exc).__name__}"
    if response.status_code != expected:
        detail = response.text[:300] if response.status_code >= 400 else ""
        return f"{method} {path}: {response.status_code} (expected {expected}) {detail}"
    hook_answer = expected == 200 and method == "POST" and not path.endswith("/feedback")
    if hook_answer and check_response(response.json()):
        return f"{method} {path}: invalid response"
    return None


def steady(measure: Callable[[], int], timeout: float = 20) -> int:
    """Poll ``measure()`` until it gives the same value five times running (0.2 s apart)."""
    deadline = time.monotonic() + timeout
    values = [measure()]
    while time.monotonic() < deadline and (len(values) < 5 or len(set(values[-5:])) > 1):
        time.sleep(0.2)
        values.append(measure())
    return values[-1]


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_mixed_load_on_two_workers(served: tuple[ServeProcess, Path], fhir: FhirServer) -> None:
    process, database = served
    workers = process.workers()
    assert len(workers) == 2

    def fds() -> int:
        return sum(open_fds(pid) for pid in workers)

    def rss() -> int:
        return sum(rss_bytes(pid) for pid in workers)

    assert run_round(process.url, WARM_UP, fhir) == Counter()
    fds_before = steady(fds)
    rss_rounds = []
    for round_number in (1, 2):
        assert run_round(process.url, ROUND, fhir) == Counter(), f"round {round_number}"
        # The clients are gone: their connections close, and descriptors return to the level
        # before the round (pools hold the same connections as after the warm-up).
        fds_after = steady(fds)
        assert fds_after <= fds_before, (fds_before, fds_after)
        rss_rounds.append(rss())
    assert rss_rounds[1] - rss_rounds[0] <= MEMORY_SLACK, rss_rounds
    assert process.workers() == workers, "a worker died or was replaced"

    audited = (WARM_UP + 2 * ROUND) // 8 * AUDITED_KINDS
    wait_until(lambda: count_rows(database, "invocations") == audited, "every call audited")
    print(f"fds {fds_before} -> {fds_after}; rss per round {[r >> 20 for r in rss_rounds]} MiB")


def count_rows(database: Path, table: str) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
