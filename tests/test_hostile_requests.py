"""Hostile and malformed requests over HTTP: a clear 4xx or a valid answer, never a 500.

Hypothesis mangles realistic calls (every hook, with data in prefetch) and sends them to the
service under uvicorn; the explicit cases below are the bugs this found, kept as regressions.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cds_service.errors import FHIRFetchError
from cds_service.fetch.fhir_client import FhirClient
from cds_service.protocol.validate import check_response
from tests.factories import (
    SERVICE_FOR_HOOK,
    hook_request,
    medication_request,
    observation,
    prefetch_for,
)
from tests.fuzz_strategies import FUZZ, json_values, mutated
from tests.servers import FhirServer

PV = "/cds-services/neurotransmitter-patient-view"
SIGN = "/cds-services/neurotransmitter-order-sign"
DELIBERATE = {200, 400, 412, 413}


@pytest.fixture(scope="module")
def http(service_url: str) -> Iterator[httpx.Client]:
    # Module-scoped so that hypothesis may reuse it across examples.
    with httpx.Client(base_url=service_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def fhir() -> Iterator[FhirServer]:
    with FhirServer() as server:
        server.state.add(observation("2132-9", 150, "pg/mL"))
        yield server


def assert_answered(response: httpx.Response) -> None:
    assert response.status_code in DELIBERATE, (response.status_code, response.text[:500])
    if response.status_code == 200:
        assert check_response(response.json()) == []
    else:
        body = response.json()
        assert body["resourceType"] == "OperationOutcome"
        assert "Traceback" not in response.text


def realistic(hook: str) -> dict[str, Any]:
    drafts = [medication_request("36437", "Sertraline 50 MG", status="draft", resource_id="d1")]
    prefetch = prefetch_for(
        observation("2132-9", 150, "pg/mL"),
        medication_request("8123", "Phenelzine 15 MG"),
    )
    return hook_request(hook, prefetch=prefetch, draft_orders=drafts)


@FUZZ
@given(st.data(), st.sampled_from(sorted(SERVICE_FOR_HOOK)))
def test_mangled_calls_are_answered_or_refused(
    http: httpx.Client, fhir: FhirServer, data: st.DataObject, hook: str
) -> None:
    request = data.draw(mutated(realistic(hook), protect=frozenset({"hook"})))
    if isinstance(request, dict) and "fhirServer" in request:
        # Keep fallback reads local: a generated URL is swapped for the local test server.
        request["fhirServer"] = fhir.base()
    # json, not orjson: it also writes what is not quite JSON (NaN, huge integers).
    content = json.dumps(request).encode()
    response = http.post(
        f"/cds-services/{SERVICE_FOR_HOOK[hook]}",
        content=content,
        headers={"Content-Type": "application/json"},
    )
    assert_answered(response)


@FUZZ
@given(json_values(20))
def test_any_json_body_is_answered_or_refused(http: httpx.Client, body: Any) -> None:
    content = json.dumps(body).encode()
    for path in (PV, f"{SIGN}/feedback"):
        response = http.post(path, content=content, headers={"Content-Type": "application/json"})
        assert response.status_code in DELIBERATE, response.text[:500]


# --- regressions ------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["t\u00f6ken", "token with space", "tok\nen", "\u202etoken", ""])
def test_an_access_token_that_cannot_go_in_a_header_is_a_400(
    http: httpx.Client, fhir: FhirServer, token: str
) -> None:
    # A non-ASCII token made the HTTP client raise UnicodeEncodeError: a 500.
    request = hook_request(
        fhirServer=fhir.base(), fhirAuthorization={"access_token": token, "token_type": "Bearer"}
    )
    response = http.post(PV, json=request)
    assert response.status_code == 400, response.text
    assert "access_token" in response.json()["issue"][0]["diagnostics"]
    assert not token or token not in response.text


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:99999/fhir",  # port out of range: an ExceptionGroup in httpx, a 500
        "http://[::1/fhir",  # httpx.InvalidURL, a 500
        "http://exa\x00mple/fhir",
        "http://exa mple/fhir",
        "file:///etc/passwd",
        "ftp://127.0.0.1/fhir",
        "fhir.example.org/r4",
        "http:///fhir",
        "",
    ],
)
def test_a_fhir_server_that_is_not_an_http_url_is_a_400(http: httpx.Client, url: str) -> None:
    response = http.post(PV, json=hook_request(fhirServer=url))
    assert response.status_code == 400, response.text
    assert "fhirServer" in response.json()["issue"][0]["diagnostics"]


def test_the_fhir_client_turns_any_request_failure_into_a_fetch_error() -> None:
    async def fetch(base: str) -> FHIRFetchError:
        async with httpx.AsyncClient(timeout=1) as raw:
            with pytest.raises(FHIRFetchError) as caught:
                await FhirClient(raw, max_pages=2).fetch(base, "Patient/1", "t\u00f6ken")
            return caught.value

    # Reached only if a URL or token slips past request validation.
    assert asyncio.run(fetch("http://127.0.0.1:99999/fhir")).kind == "request"
    assert asyncio.run(fetch("http://[::1/fhir")).kind == "request"


@pytest.mark.parametrize(
    "entry",
    [[None], ["a string"], [{"resource": "x"}], [{"resource": {"id": "no-type"}}], [{}]],
)
def test_a_draft_order_that_cannot_be_read_is_a_400(http: httpx.Client, entry: list) -> None:
    # An unreadable draft could not be safety-checked; it was silently skipped.
    request = hook_request("order-sign", prefetch=prefetch_for())
    request["context"]["draftOrders"]["entry"] = entry
    response = http.post(SIGN, json=request)
    assert response.status_code == 400, response.text
    assert "draftOrders" in response.json()["issue"][0]["diagnostics"]


def test_draft_orders_are_checked_on_patient_view_too(http: httpx.Client) -> None:
    request = hook_request(prefetch=prefetch_for())
    request["context"]["draftOrders"] = {"resourceType": "Bundle", "entry": [{"resource": 1}]}
    assert http.post(PV, json=request).status_code == 400


@pytest.mark.parametrize("value", [{"resourceType": {}}, {"resourceType": 5}, {"id": "x"}, []])
def test_a_prefetch_value_that_is_not_a_resource_is_a_400(http: httpx.Client, value: Any) -> None:
    prefetch = prefetch_for()
    prefetch["extra"] = value
    response = http.post(PV, json=hook_request(prefetch=prefetch))
    assert response.status_code == 400, response.text


def test_a_pre_1_0_wrapped_prefetch_value_is_read(http: httpx.Client) -> None:
    # {"response": ..., "resource": ...} per key, as pre-1.0 clients sent it: the data is used.
    prefetch = prefetch_for(observation("2132-9", 150, "pg/mL"))
    prefetch["observations"] = {
        "response": {"status": "200 OK"},
        "resource": prefetch["observations"],
    }
    response = http.post(PV, json=hook_request(prefetch=prefetch))
    assert response.status_code == 200, response.text
    assert response.json()["cards"], "the wrapped B12 result must be read"


@pytest.mark.parametrize(("depth", "status"), [(400, 200), (5000, 400)])
def test_deep_nesting_is_read_or_refused(http: httpx.Client, depth: int, status: int) -> None:
    # Within the JSON parser's depth limit the data is read; beyond it, a clear 400.
    obs = observation("2132-9", 150, "pg/mL", extension="NESTED")
    text = json.dumps(hook_request(prefetch=prefetch_for(obs)))
    nested = '{"extension":[' * depth + '{"url":"x"}' + "]}" * depth
    response = http.post(
        PV,
        content=text.replace('"NESTED"', nested).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == status, response.text[:300]
    if status == 200:
        assert response.json()["cards"]


def test_thousands_of_resources_and_codings_in_one_call(http: httpx.Client) -> None:
    noise = [observation("718-7", 13.5, "g/dL") for _ in range(2000)]
    for i, resource in enumerate(noise):
        resource["code"]["coding"] += [{"system": "urn:x", "code": f"{i}-{n}"} for n in range(50)]
    b12 = observation("2132-9", 150, "pg/mL")
    response = http.post(PV, json=hook_request(prefetch=prefetch_for(*noise, b12)))
    assert response.status_code == 200, response.text[:300]
    assert response.json()["cards"]
