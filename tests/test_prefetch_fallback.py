"""Prefetch semantics and the FHIR-server fallback, against a real local HTTP FHIR server."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from cds_service.http.app import create_app
from cds_service.knowledge import KnowledgeBase
from cds_service.protocol.validate import check_response
from tests.conftest import make_settings
from tests.factories import PATIENT_ID, bundle, hook_request, observation, patient, prefetch_for
from tests.servers import FhirServer, free_port, serve_app

PV = "/cds-services/neurotransmitter-patient-view"
TOKEN = "fhir-access-token-do-not-log"


@pytest.fixture
def fhir() -> Iterator[FhirServer]:
    with FhirServer() as server:
        server.state.add(patient(), observation("2132-9", 150, "pg/mL"))
        yield server


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, kb: KnowledgeBase) -> Iterator[httpx.Client]:
    settings = make_settings(tmp_path_factory.mktemp("fb"), fhir_max_pages=3)
    with (
        serve_app(create_app(settings, knowledge=kb)) as url,
        httpx.Client(base_url=url, timeout=20) as http,
    ):
        yield http


def call(client: httpx.Client, **kwargs: object) -> httpx.Response:
    response = client.post(PV, json=hook_request(**kwargs))  # type: ignore[arg-type]
    if response.status_code == 200:
        assert check_response(response.json()) == []
    return response


def auth(token: str = TOKEN) -> dict:
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "cds",
    }


def test_missing_keys_are_fetched_in_parallel_with_the_bearer_token(
    client: httpx.Client, fhir: FhirServer
) -> None:
    fhir.state.delay = 0.2  # long enough that sequential fetches could never overlap
    response = call(client, fhirServer=fhir.base(), fhirAuthorization=auth())
    assert response.status_code == 200
    assert response.json()["cards"][0]["source"]["topic"]["code"] == "methylation"
    paths = sorted(r["path"].split("?")[0] for r in fhir.state.requests)
    assert paths == sorted(
        f"/fhir/{t}"
        for t in (
            "Patient/" + PATIENT_ID,
            "Observation",
            "MedicationRequest",
            "MedicationStatement",
            "Condition",
            "QuestionnaireResponse",
            "AllergyIntolerance",
        )
    )
    assert {r["authorization"] for r in fhir.state.requests} == {f"Bearer {TOKEN}"}
    assert fhir.state.max_in_flight >= 2


def test_without_a_token_no_authorization_header_is_sent(
    client: httpx.Client, fhir: FhirServer
) -> None:
    assert call(client, fhirServer=fhir.base()).status_code == 200
    assert {r["authorization"] for r in fhir.state.requests} == {None}


def test_only_missing_keys_are_fetched(client: httpx.Client, fhir: FhirServer) -> None:
    prefetch = prefetch_for(observation("2132-9", 150, "pg/mL"))
    del prefetch["conditions"]
    assert call(client, prefetch=prefetch, fhirServer=fhir.base()).status_code == 200
    assert [r["path"].split("?")[0] for r in fhir.state.requests] == ["/fhir/Condition"]


def test_paginated_search_is_followed(client: httpx.Client, fhir: FhirServer) -> None:
    fhir.state.resources["Observation"] = [
        observation("13964-2", 0.2, "umol/L", days=30 + i) for i in range(110)
    ]
    fhir.state.add(observation("2132-9", 150, "pg/mL", days=200))  # on the third page
    fhir.state.page_size = 50
    response = call(client, fhirServer=fhir.base())
    assert response.status_code == 200
    assert response.json()["cards"], "the B12 result on page 3 must be read"
    offsets = [r["path"] for r in fhir.state.requests if r["path"].startswith("/fhir/Observation")]
    assert len(offsets) == 3


def test_page_cap_is_reported_as_unchecked_data(client: httpx.Client, fhir: FhirServer) -> None:
    fhir.state.resources["Observation"] = [observation("13964-2", 0.2, "umol/L") for _ in range(40)]
    fhir.state.page_size = 10
    response = call(client, fhirServer=fhir.base())
    assert response.status_code == 200
    notes = response.json()["extension"]["org.neurotransmitter-cds"]["dataNotes"]
    assert any(n.startswith("observations: more pages") for n in notes)
    assert len([r for r in fhir.state.requests if "/Observation" in r["path"]]) == 3


def test_prefetched_bundle_with_next_link_is_completed_from_the_server(
    client: httpx.Client, fhir: FhirServer
) -> None:
    fhir.state.page_size = 1
    fhir.state.resources["Observation"] = [
        observation("13964-2", 0.2, "umol/L"),
        observation("2132-9", 150, "pg/mL"),
    ]
    first_page = bundle(fhir.state.resources["Observation"][0])
    first_page["link"] = [
        {"relation": "next", "url": f"{fhir.base()}/Observation?patient={PATIENT_ID}&_offset=1"}
    ]
    prefetch = prefetch_for()
    prefetch["observations"] = first_page
    response = call(client, prefetch=prefetch, fhirServer=fhir.base())
    assert response.status_code == 200 and response.json()["cards"]


@pytest.mark.parametrize(
    ("mode", "kind"),
    [
        ("slow", "timeout"),
        ("e500", "status-500"),
        ("e401", "status-401"),
        ("malformed", "decode"),
        ("notfhir", "not-fhir"),
        ("reset", "connect"),
    ],
)
def test_a_misbehaving_server_gives_412(
    client: httpx.Client, fhir: FhirServer, mode: str, kind: str
) -> None:
    response = call(client, fhirServer=fhir.base(mode), fhirAuthorization=auth())
    assert response.status_code == 412
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert kind in body["issue"][0]["diagnostics"]
    assert TOKEN not in response.text


def test_a_refused_connection_gives_412(client: httpx.Client) -> None:
    response = call(client, fhirServer=f"http://127.0.0.1:{free_port()}/fhir")
    assert response.status_code == 412
    assert "connect" in response.json()["issue"][0]["diagnostics"]


def test_a_next_link_loop_is_cut_and_reported(client: httpx.Client, fhir: FhirServer) -> None:
    response = call(client, fhirServer=fhir.base("loop"))
    assert response.status_code == 200
    notes = response.json()["extension"]["org.neurotransmitter-cds"]["dataNotes"]
    assert any(n.startswith("observations: more pages") for n in notes)


def test_the_token_never_follows_a_next_link_to_another_server(
    client: httpx.Client, fhir: FhirServer
) -> None:
    response = call(client, fhirServer=fhir.base("foreign-next"), fhirAuthorization=auth())
    assert response.status_code == 200
    assert all(r["path"].startswith("/foreign-next/") for r in fhir.state.requests)
    notes = response.json()["extension"]["org.neurotransmitter-cds"]["dataNotes"]
    assert any("more pages" in n for n in notes)


def test_operation_outcome_in_prefetch_is_a_failed_client_fetch(
    client: httpx.Client, fhir: FhirServer
) -> None:
    prefetch = prefetch_for()
    prefetch["medicationRequests"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout"}],
    }
    response = call(client, prefetch=prefetch, fhirServer=fhir.base())
    assert response.status_code == 412
    assert (
        "medicationRequests (the client's prefetch failed)"
        in response.json()["issue"][0]["diagnostics"]
    )
    assert fhir.state.requests == []  # not re-queried blindly


def test_null_prefetch_means_no_data_and_is_not_fetched(
    client: httpx.Client, fhir: FhirServer
) -> None:
    prefetch = prefetch_for()
    prefetch["observations"] = None
    response = call(client, prefetch=prefetch, fhirServer=fhir.base())
    assert response.status_code == 200 and response.json()["cards"] == []
    assert fhir.state.requests == []


def test_missing_required_key_without_a_server_is_412(client: httpx.Client) -> None:
    prefetch = prefetch_for()
    del prefetch["observations"]
    response = call(client, prefetch=prefetch)
    assert response.status_code == 412
    assert "observations" in response.json()["issue"][0]["diagnostics"]


def test_an_optional_key_that_fails_is_noted_not_fatal(
    client: httpx.Client, fhir: FhirServer
) -> None:
    fhir.state.unsupported_types.add("QuestionnaireResponse")
    response = call(client, fhirServer=fhir.base())
    assert response.status_code == 200
    notes = response.json()["extension"]["org.neurotransmitter-cds"]["dataNotes"]
    assert "questionnaireResponses: could not be obtained; not checked" in notes


def test_dstu2_servers_get_the_medication_order_alternative(
    client: httpx.Client, fhir: FhirServer
) -> None:
    fhir.state.unsupported_types.add("MedicationRequest")
    response = call(client, fhirServer=fhir.base())
    assert response.status_code == 200
    paths = [r["path"].split("?")[0] for r in fhir.state.requests]
    assert "/fhir/MedicationRequest" in paths and "/fhir/MedicationOrder" in paths


def test_the_access_token_is_never_logged(
    client: httpx.Client, fhir: FhirServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    call(client, fhirServer=fhir.base(), fhirAuthorization=auth())
    call(client, fhirServer=fhir.base("e500"), fhirAuthorization=auth())
    assert caplog.records, "the service should have logged something"
    assert TOKEN not in caplog.text
