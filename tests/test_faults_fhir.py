"""FHIR fallback faults beyond test_prefetch_fallback.py: slowness within and beyond the
timeouts, a body that stalls or drips, an answer too large to hold, and the total deadline.

The service must answer 412 (required data missing) or 200 with cards from what it has and a
note naming what is missing, never 500, and never wait past its deadline. The client's own
timeout below is ten times the service's total fallback deadline: a service that hung would
fail the test, without any timing assertion.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from cds_service.http.app import create_app
from cds_service.knowledge import KnowledgeBase
from cds_service.protocol.validate import check_response
from tests.conftest import make_settings
from tests.factories import bundle, hook_request, observation, patient, prefetch_for
from tests.servers import FhirServer, serve_app

# Left out of the inner loop (`make check`); `make test` runs it.
pytestmark = pytest.mark.slow

PV = "/cds-services/neurotransmitter-patient-view"
CONNECT, READ = 0.5, 1.0
DEADLINE = CONNECT + READ  # what app.py gives the whole fallback
MAX_BYTES = 256 * 1024


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, kb: KnowledgeBase) -> Iterator[httpx.Client]:
    settings = make_settings(
        tmp_path_factory.mktemp("faults"),
        fhir_connect_timeout=CONNECT,
        fhir_read_timeout=READ,
        fhir_max_pages=20,
        fhir_max_response_bytes=MAX_BYTES,
    )
    with (
        serve_app(create_app(settings, knowledge=kb)) as url,
        httpx.Client(base_url=url, timeout=10 * DEADLINE) as http,
    ):
        yield http


@pytest.fixture
def fhir() -> Iterator[FhirServer]:
    with FhirServer() as server:
        server.state.add(patient(), observation("2132-9", 150, "pg/mL"))
        yield server


def call(client: httpx.Client, **kwargs: object) -> httpx.Response:
    response = client.post(PV, json=hook_request(**kwargs))  # type: ignore[arg-type]
    assert response.status_code in (200, 412), response.text
    if response.status_code == 200:
        assert check_response(response.json()) == []
    else:
        assert response.json()["resourceType"] == "OperationOutcome"
    return response


def notes(response: httpx.Response) -> list[str]:
    return response.json()["extension"]["org.neurotransmitter-cds"].get("dataNotes", [])


def diagnostics(response: httpx.Response) -> str:
    return str(response.json()["issue"][0]["diagnostics"])


def test_a_slow_server_within_the_timeout_is_waited_for(
    client: httpx.Client, fhir: FhirServer
) -> None:
    fhir.state.delay = READ * 0.6  # every read slow, each within the read timeout
    response = call(client, fhirServer=fhir.base())
    assert response.status_code == 200
    assert response.json()["cards"], "the B12 result must be read"
    assert notes(response) == []


def test_a_body_that_stalls_midway_is_a_timeout(client: httpx.Client, fhir: FhirServer) -> None:
    response = call(client, fhirServer=fhir.base("stall"))
    assert response.status_code == 412
    assert "timeout" in diagnostics(response)


def test_a_server_dripping_bytes_is_cut_off_by_the_total_deadline(
    client: httpx.Client, fhir: FhirServer
) -> None:
    # Each byte arrives well within the read timeout, so only the total deadline can end it.
    fhir.state.drip_interval = READ / 5
    response = call(client, fhirServer=fhir.base("drip"))
    assert response.status_code == 412
    assert "timeout" in diagnostics(response)


def test_slow_pages_are_cut_off_by_the_total_deadline(
    client: httpx.Client, fhir: FhirServer
) -> None:
    fhir.state.resources["Observation"] = [
        observation("13964-2", 0.2, "umol/L", days=30 + i) for i in range(20)
    ]
    fhir.state.page_size = 1
    fhir.state.type_delay["Observation"] = READ * 0.4  # 20 pages: far beyond the deadline
    response = call(client, fhirServer=fhir.base())
    assert response.status_code == 412
    assert "observations (fetch failed: timeout)" in diagnostics(response)
    pages = [r for r in fhir.state.requests if "/Observation" in r["path"]]
    assert 1 < len(pages) < 20, "the deadline must stop the pagination midway"


def test_an_answer_too_large_to_hold_is_refused(client: httpx.Client, fhir: FhirServer) -> None:
    fhir.state.giant_bytes = 64 * 1024 * 1024  # 64 MB against a 256 kB limit
    response = call(client, fhirServer=fhir.base("giant"))
    assert response.status_code == 412
    assert "too-large" in diagnostics(response)


def test_a_large_answer_within_the_limit_is_read(client: httpx.Client, fhir: FhirServer) -> None:
    fhir.state.giant_bytes = MAX_BYTES // 2
    response = call(client, fhirServer=fhir.base("giant"))
    # The giant Bundle stands for every search; no Patient and no labs in it: no cards, 200.
    assert response.status_code == 200
    assert response.json()["cards"] == []


def test_an_optional_key_that_times_out_still_gives_cards_and_says_so(
    client: httpx.Client, fhir: FhirServer
) -> None:
    fhir.state.type_delay["QuestionnaireResponse"] = 60  # released when the server stops
    response = call(client, fhirServer=fhir.base())
    assert response.status_code == 200
    assert response.json()["cards"], "cards from the data that did arrive"
    assert "questionnaireResponses: could not be obtained; not checked" in notes(response)


def test_a_required_key_that_times_out_is_a_412_naming_it(
    client: httpx.Client, fhir: FhirServer
) -> None:
    fhir.state.type_delay["MedicationRequest"] = 60
    response = call(client, fhirServer=fhir.base())
    assert response.status_code == 412
    assert "medicationRequests (fetch failed: timeout)" in diagnostics(response)
    assert "observations" not in diagnostics(response)


def test_a_stalled_page_after_a_prefetched_first_page_keeps_the_first(
    client: httpx.Client, fhir: FhirServer
) -> None:
    # The client sent page 1 with a next link; page 2 never comes. Page 1 is the client's
    # data and is used; the note says later results were not checked.
    first = bundle(observation("2132-9", 150, "pg/mL"))
    first["link"] = [{"relation": "next", "url": f"{fhir.base('stall')}/Observation?page=2"}]
    prefetch = prefetch_for()
    prefetch["observations"] = first
    response = call(client, prefetch=prefetch, fhirServer=fhir.base("stall"))
    assert response.status_code == 200
    assert response.json()["cards"]
    assert any(n.startswith("observations: more pages") for n in notes(response))


def test_faults_are_logged_without_500s_or_tracebacks(
    client: httpx.Client, fhir: FhirServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fhir.state.giant_bytes = 4 * MAX_BYTES
    for mode in ("stall", "giant", "drip", "reset", "malformed"):
        call(client, fhirServer=fhir.base(mode))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
