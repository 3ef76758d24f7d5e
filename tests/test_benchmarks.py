"""The benchmark harness works (tiny sizes); no timing is asserted: benchmarks/ is the measure."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from benchmarks.inprocess import evaluate_bytes, measure
from benchmarks.loadgen import run_load
from benchmarks.synthetic import PATIENT_ID, reference_now, synthea_request, synthetic_request
from cds_service.knowledge import KnowledgeBase
from cds_service.protocol.services import ServiceRegistry, load_services
from cds_service.settings import PROJECT_ROOT, Settings
from tests.conftest import SHARED_TESTDATA
from tests.servers import serve_app

LOINC = "http://loinc.org"


@pytest.fixture(scope="module")
def registry(kb: KnowledgeBase) -> ServiceRegistry:
    return load_services(PROJECT_ROOT / "hooks", kb)


def _observations(body: dict) -> list[dict]:
    return [
        entry["resource"]
        for value in body["prefetch"].values()
        if isinstance(value, dict) and value.get("resourceType") == "Bundle"
        for entry in value["entry"]
        if entry["resource"]["resourceType"] == "Observation"
    ]


def test_synthetic_patient_is_deterministic_and_mixes_known_and_unknown_codes(
    kb: KnowledgeBase, registry: ServiceRegistry
) -> None:
    service = registry.services["neurotransmitter-patient-view"]
    first = synthetic_request(kb, service, 100)
    assert first == synthetic_request(kb, service, 100)
    assert first != synthetic_request(kb, service, 100, seed=1)

    body = orjson.loads(first)
    observations = _observations(body)
    assert len(observations) == 100
    known = {code for code, systems in kb.measure_codes.items() if LOINC in systems}
    codes = [obs["code"]["coding"][0]["code"] for obs in observations]
    relevant = [c for c in codes if c in known]
    assert 20 <= len(relevant) <= 40  # about 30%, the rest are codes no rule reads
    # Several values per analyte, on different dates (enough Observations for every measure).
    larger = _observations(orjson.loads(synthetic_request(kb, service, 1000)))
    by_measure: dict[str, set[str]] = {}
    for obs in larger:
        coding = obs["code"]["coding"][0]
        measure = kb.measure_codes.get(coding["code"], {}).get(LOINC)
        if measure is not None:
            by_measure.setdefault(measure.id, set()).add(obs["effectiveDateTime"])
    assert len(by_measure) >= len(kb.measures) // 2
    assert all(len(dates) >= 2 for dates in by_measure.values())
    entries = {k: v for k, v in body["prefetch"].items() if isinstance(v, dict)}
    kinds = {
        e["resource"]["resourceType"]
        for v in entries.values()
        if v["resourceType"] == "Bundle"
        for e in v["entry"]
    }
    assert {"Observation", "MedicationRequest", "Condition"} <= kinds
    assert body["prefetch"]["patient"]["id"] == PATIENT_ID


def test_in_process_evaluation_answers_like_the_service(
    kb: KnowledgeBase, registry: ServiceRegistry
) -> None:
    service = registry.services["neurotransmitter-order-sign"]
    raw = synthetic_request(kb, service, 10)
    response = orjson.loads(evaluate_bytes(raw, service, kb, Settings(auth="off"), reference_now()))
    assert isinstance(response["cards"], list)
    assert response["extension"]["org.neurotransmitter-cds"]["knowledgeVersion"] == kb.version

    result = measure(
        "tiny",
        raw,
        service,
        kb,
        Settings(auth="off"),
        reference_now(),
        budget_seconds=0,
        min_runs=3,
    )
    assert result.runs == 3
    assert result.request_bytes == len(raw)
    assert result.resources == 1 + 10 + 20 + 20
    assert result.ratio > 0


def test_synthea_bundle_becomes_prefetch(kb: KnowledgeBase, registry: ServiceRegistry) -> None:
    path = min((SHARED_TESTDATA / "synthea").glob("*.json"), key=lambda p: p.stat().st_size)
    bundle = orjson.loads(path.read_bytes())
    service = registry.services["neurotransmitter-patient-view"]
    body = orjson.loads(synthea_request(kb, service, bundle))
    patient = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    assert body["context"]["patientId"] == patient["id"]
    expected = sum(1 for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation")
    assert len(_observations(body)) == expected


def test_load_generator_counts_requests_and_errors() -> None:
    from benchmarks.floor_app import app

    with serve_app(app) as url:
        port = int(url.rsplit(":", 1)[1])
        ok = asyncio.run(
            run_load(
                "127.0.0.1",
                port,
                "/cds-services/x",
                [b"{}"],
                concurrency=3,
                duration=30,
                requests=25,
            )
        )
        bad = asyncio.run(
            run_load(
                "127.0.0.1",
                port,
                "/cds-services/x",
                [b"[1]"],
                concurrency=1,
                duration=30,
                requests=4,
            )
        )
    assert ok["requests"] == 25 and ok["errors"] == 0 and ok["statuses"] == {"200": 25}
    assert ok["stopped_by"] == "requests"
    assert ok["response_bytes"] == 25 * len(b'{"cards":[]}')
    assert bad["errors"] == 4 and bad["statuses"] == {"400": 4}


@pytest.mark.slow
def test_quick_benchmark_run_writes_every_section(tmp_path: Path) -> None:
    document, results = tmp_path / "benchmarks.md", tmp_path / "results.json"
    document.write_text("# Benchmarks\n\nHand-written notes stay.\n")
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--quick",
            "--output",
            str(document),
            "--json",
            str(results),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    data = orjson.loads(results.read_bytes())
    assert {"inprocess", "http", "memory", "fallback"} <= data.keys()
    assert all(
        row["service"]["errors"] == 0 and row["floor"]["errors"] == 0 for row in data["http"]
    )
    # Every key but Patient: observations, two medication keys, conditions, questionnaire
    # responses and allergies (issue 16), all in flight at once.
    assert data["fallback"]["max_in_flight"] == data["fallback"]["keys_fetched"] == 6
    text = document.read_text()
    assert "Hand-written notes stay." in text
    for heading in ("### Targets", "### In-process", "### HTTP", "### FHIR fallback", "### Memory"):
        assert heading in text
