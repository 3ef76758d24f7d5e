"""GET /metrics after real requests to the app under uvicorn: each count moves as it should.

Metrics are process-wide (one registry per process, as in production), so every assertion
compares a scrape before and after the requests of the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cds_service.http.app import create_app
from cds_service.knowledge import KnowledgeBase
from tests.conftest import make_settings
from tests.factories import (
    SERVICE_FOR_HOOK,
    hook_request,
    medication_request,
    patient,
    prefetch_for,
)
from tests.servers import FhirServer, serve_app

PV = "/cds-services/neurotransmitter-patient-view"
PV_ID = "neurotransmitter-patient-view"
EXAMPLE = Path(__file__).parents[1] / "examples" / "patient-view-b12-deficient.json"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(http: httpx.Client) -> Samples:
    response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory, kb: KnowledgeBase) -> Iterator[httpx.Client]:
    app = create_app(make_settings(tmp_path_factory.mktemp("metrics")), knowledge=kb)
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=20) as client:
        yield client


def test_hook_calls_are_counted_by_service_hook_and_status(http: httpx.Client) -> None:
    before = scrape(http)
    for _ in range(3):
        assert http.post(PV, content=EXAMPLE.read_bytes(), headers=JSON).status_code == 200
    assert http.post(PV, content=b"{not json", headers=JSON).status_code == 400
    assert http.post("/cds-services/no-such-service", json={}).status_code == 404
    order_sign = SERVICE_FOR_HOOK["order-sign"]
    body = hook_request(
        "order-sign",
        prefetch=prefetch_for(),
        draft_orders=[medication_request("36437", "sertraline 50 MG Oral Tablet", status="draft")],
    )
    assert http.post(f"/cds-services/{order_sign}", json=body).status_code == 200
    after = scrape(http)

    ok = {"service": PV_ID, "hook": "patient-view"}
    assert delta(before, after, "cds_hook_requests_total", **ok, status="200") == 3
    assert delta(before, after, "cds_hook_requests_total", **ok, status="400") == 1
    assert (
        delta(
            before,
            after,
            "cds_hook_requests_total",
            service="unknown",
            hook="unknown",
            status="404",
        )
        == 1
    )
    assert (
        delta(
            before,
            after,
            "cds_hook_requests_total",
            service=order_sign,
            hook="order-sign",
            status="200",
        )
        == 1
    )
    # Latency: one observation per call, all under the largest finite bucket.
    assert delta(before, after, "cds_hook_request_duration_seconds_count", **ok) == 4
    assert delta(before, after, "cds_hook_request_duration_seconds_bucket", **ok, le="10.0") == 4
    assert delta(before, after, "cds_hook_request_duration_seconds_sum", **ok) > 0
    # The example's low B12 gives one methylation card per call.
    assert (
        delta(
            before, after, "cds_cards_total", service=PV_ID, indicator="info", topic="methylation"
        )
        == 3
    )
    assert delta(before, after, "cds_http_requests_total", endpoint="service", status="200") == 4
    assert (
        delta(
            before,
            after,
            "cds_prefetch_keys_total",
            service=PV_ID,
            key="observations",
            source="prefetched",
        )
        == 3
    )


def test_prefetch_fetched_from_the_fhir_server_and_fetch_errors_are_counted(
    http: httpx.Client,
) -> None:
    with FhirServer() as fhir:
        fhir.state.add(patient())
        before = scrape(http)
        fetched = http.post(PV, json=hook_request(fhirServer=fhir.base()))
        failing = http.post(PV, json=hook_request(fhirServer=fhir.base("e500")))
        slow = http.post(PV, json=hook_request(fhirServer=fhir.base("slow")))
        after = scrape(http)
    assert fetched.status_code == 200
    assert failing.status_code == 412
    assert slow.status_code == 412
    for key in ("patient", "observations", "medicationRequests", "conditions"):
        assert (
            delta(
                before, after, "cds_prefetch_keys_total", service=PV_ID, key=key, source="fetched"
            )
            == 1
        ), key
    # Seven keys requested from the failing server (allergies included, issue 16), each answered
    # 500 (no alternative tried on 5xx).
    assert delta(before, after, "cds_fhir_fetch_errors_total", kind="status-500") == 7
    timeouts = delta(before, after, "cds_fhir_fetch_errors_total", kind="timeout") + delta(
        before, after, "cds_fhir_fetch_errors_total", kind="cancelled"
    )
    assert timeouts >= 1
    assert delta(before, after, "cds_fhir_fetch_duration_seconds_count") >= 6 + 6
    assert (
        delta(
            before,
            after,
            "cds_hook_requests_total",
            service=PV_ID,
            hook="patient-view",
            status="412",
        )
        == 2
    )


def test_auth_failures_are_counted_by_reason(tmp_path: Path, kb: KnowledgeBase) -> None:
    app = create_app(make_settings(tmp_path, auth="jwt"), knowledge=kb)
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        before = scrape(client)
        assert client.get("/cds-services").status_code == 401
        assert (
            client.post(PV, json={}, headers={"Authorization": "Bearer not.a.jwt"}).status_code
            == 401
        )
        assert client.get("/healthz").status_code == 200  # no token needed
        after = scrape(client)
    assert delta(before, after, "cds_auth_failures_total", reason="missing_token") == 1
    assert delta(before, after, "cds_auth_failures_total", reason="malformed") == 1
    assert delta(before, after, "cds_http_requests_total", endpoint="discovery", status="401") == 1


def test_knowledge_version_is_exposed(http: httpx.Client, kb: KnowledgeBase) -> None:
    assert scrape(http)[("cds_knowledge_info", frozenset({("version", kb.version)}))] == 1


def test_metric_labels_from_outside_input_are_clamped(http: httpx.Client) -> None:
    long_id = "x" * 500 + "{}\"'"
    assert http.post(f"/cds-services/{long_id}", json={}).status_code == 404
    text = http.get("/metrics").text
    assert "x" * 100 not in text  # an unknown service is "unknown", never its id


JSON = {"Content-Type": "application/json"}
