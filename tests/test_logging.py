"""Logs: one JSON object per line, one access line per request, and no patient data or tokens.

The integration test sends requests full of identifiable data (name, birth date, patient id,
a FHIR access token, a JWT) through the app under uvicorn, captures everything logged with the
production formatter, and searches the capture for each of those values.
"""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cds_service.http.app import create_app
from cds_service.knowledge import KnowledgeBase
from cds_service.observability.logs import JsonFormatter, log_config, redact
from tests.conftest import make_settings
from tests.factories import hook_request, observation, patient, prefetch_for
from tests.security_support import Issuer, SigningKey
from tests.servers import FhirServer, serve_app

PV = "/cds-services/neurotransmitter-patient-view"
PATIENT_ID = "pat-Zx81-secret"
NAME = "Wilhelmina Quarternight"
BIRTH_DATE = "1961-07-23"
FHIR_TOKEN = "fhir-access-token-7f3a9c"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Everything logged at any level, formatted exactly as in production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    # Everything, libraries included (httpx logs each URL it fetches): the guard must hold.
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def identifiable_patient() -> dict[str, object]:
    resource = patient(PATIENT_ID)
    resource.update(name=[{"text": NAME, "family": "Quarternight"}], birthDate=BIRTH_DATE)
    return resource


def test_requests_log_one_json_line_each_without_patient_data_or_tokens(
    tmp_path: Path, kb: KnowledgeBase, captured: io.StringIO
) -> None:
    issuer = Issuer("https://ehr.example.org", SigningKey.ec384())
    jwt_token = issuer.token("http://wrong-audience.example.org/cds-services")
    pid = PATIENT_ID
    with FhirServer() as fhir:
        fhir.state.add(identifiable_patient())
        app = create_app(make_settings(tmp_path), knowledge=kb)
        with serve_app(app) as url, httpx.Client(base_url=url, timeout=20) as http:
            full = hook_request(
                patient_id=pid,
                prefetch=prefetch_for(
                    observation("2132-9", 150, "pg/mL", patient_id=pid),
                    patient_resource=identifiable_patient(),
                ),
            )
            assert http.post(PV, json=full).status_code == 200
            # Prefetch fetched from the FHIR server with a bearer token; the server fails.
            fetching = hook_request(
                patient_id=pid,
                fhirServer=fhir.base("e500"),
                fhirAuthorization={"access_token": FHIR_TOKEN, "token_type": "Bearer"},
            )
            assert http.post(PV, json=fetching).status_code == 412
            invalid = {"hook": "patient-view", "hookInstance": "x", "context": {"patientId": 7}}
            invalid["prefetch"] = {"patient": "Wilhelmina"}
            assert http.post(PV, json=invalid).status_code == 400
            assert (
                http.post(
                    PV, json=full, headers={"Authorization": f"Bearer {jwt_token}"}
                ).status_code
                == 200  # auth is off here; the header must still never be logged
            )
            assert http.get("/healthz").status_code == 200
    records = lines(captured)
    access = [r for r in records if r["logger"] == "cds_service.access"]
    calls = [r for r in access if r["message"] == "hook call"]
    assert [r["status"] for r in calls] == [200, 412, 400, 200]
    first = calls[0]
    assert first["hookInstance"] == full["hookInstance"]
    assert first["service"] == "neurotransmitter-patient-view"
    assert first["hook"] == "patient-view"
    assert first["cards"] == 1
    assert isinstance(first["latency_ms"], float)
    assert calls[1]["hookInstance"] == fetching["hookInstance"]
    assert "cards" not in calls[1]
    # Health probes are logged at DEBUG so production INFO logs are not flooded.
    health = [r for r in access if r.get("endpoint") == "health"]
    assert health and all(r["level"] == "DEBUG" for r in health)

    text = captured.getvalue()
    for secret in (PATIENT_ID, NAME, "Quarternight", BIRTH_DATE, FHIR_TOKEN, "Wilhelmina"):
        assert secret not in text, secret
    for part in jwt_token.split("."):
        assert part not in text


def test_redact_masks_tokens_and_patient_references() -> None:
    jwt_like = "eyJhbGciOiJFUzM4NCJ9.eyJpc3MiOiJodHRwcyJ9.c2lnbmF0dXJl"
    text = redact(
        f"Authorization: Bearer abc.def-123 token {jwt_like} at "
        "http://fhir/Observation?patient=123&code=2132-9 for Patient/pat-9 "
        "'access_token': 'tok-1' input_value={'name': 'Jo'}, input_type=dict"
    )
    for secret in ("abc.def-123", jwt_like, "patient=123", "Patient/pat-9", "tok-1", "'Jo'"):
        assert secret not in text, secret
    assert "code=2132-9" in text  # only what identifies someone is masked


def test_formatter_drops_denied_fields_and_redacts_exceptions() -> None:
    logger = logging.getLogger("cds_service.test_formatter")
    try:
        raise ValueError("bad value for Patient/pat-42 with Bearer sekrit")
    except ValueError:
        exc_info = sys.exc_info()
    record = logger.makeRecord(
        logger.name,
        logging.ERROR,
        __file__,
        1,
        "failed for %s",
        ("Patient/pat-42",),
        exc_info,
        extra={"patient_id": "pat-42", "birthDate": "1961-07-23", "status": 500, "context": {}},
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["status"] == 500
    assert entry["patient_id"] == entry["birthDate"] == entry["context"] == "[redacted]"
    assert "pat-42" not in json.dumps(entry)
    assert "sekrit" not in entry["exception"]
    assert "ValueError" in entry["exception"]
    assert "\n" not in JsonFormatter().format(record)


def test_log_config_applies_the_level_and_json_everywhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = log_config("WARNING")
    assert config["root"]["level"] == "WARNING"
    assert config["formatters"]["json"]["()"] == "cds_service.observability.logs.JsonFormatter"
    # URLs with patient ids are logged by httpx at INFO: always held back.
    assert config["loggers"]["httpx"]["level"] == "WARNING"
    assert config["loggers"]["uvicorn.access"]["propagate"] is False
