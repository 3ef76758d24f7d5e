"""The log guard (tests/log_guard.py) itself: it finds what it must, and only that.

Every other test runs under it (autouse); these tests show it would catch a leak.
"""

from __future__ import annotations

import logging

import httpx
import pytest

from cds_service.observability.logs import JsonFormatter
from tests.factories import hook_request, patient, prefetch_for
from tests.log_guard import Secrets, guard

NAME, FAMILY, BORN = "Wilhelmina", "Quarternight", "1961-07-23"
PATIENT_ID = "pat-guard-81"
TOKEN = "fhir-token-9c1e77aa"
JWT = "eyJhbGciOiJFUzM4NCJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl"


def identifiable_request() -> dict:
    person = patient(PATIENT_ID)
    person.update(name=[{"family": FAMILY, "given": [NAME]}], birthDate=BORN)
    return hook_request(
        prefetch=prefetch_for(patient_resource=person),
        patient_id=PATIENT_ID,
        fhirServer="http://127.0.0.1:9/fhir",
        fhirAuthorization={"access_token": TOKEN, "token_type": "Bearer"},
    )


def test_secrets_are_read_from_the_body_and_the_authorization_header() -> None:
    secrets = Secrets()
    request = httpx.Request(
        "POST",
        "http://127.0.0.1/cds-services/x",
        json=identifiable_request(),
        headers={"Authorization": f"Bearer {JWT}"},
    )
    secrets.from_request(request)
    assert {JWT, TOKEN, BORN} <= secrets.exact
    assert {PATIENT_ID, NAME, FAMILY} <= secrets.words


def test_a_leak_in_a_formatted_record_is_found_and_a_redacted_one_is_not() -> None:
    secrets = Secrets()
    secrets.add_word(PATIENT_ID, 5)
    secrets.add_word(FAMILY, 4)
    secrets.add_token(JWT)

    def formatted(message: str) -> str:
        record = logging.LogRecord("cds_service", logging.INFO, __file__, 1, message, None, None)
        return JsonFormatter().format(record)

    assert secrets.found_in(formatted(f"reading {FAMILY}'s chart")) == [FAMILY]
    assert secrets.found_in(formatted(f"patient {PATIENT_ID} seen")) == [PATIENT_ID]
    # The production formatter masks references and JWTs: not a leak in what is written.
    assert secrets.found_in(formatted(f"read Patient/{PATIENT_ID} with {JWT}")) == []
    # Whole words only: an id inside a longer one is not a match.
    assert secrets.found_in(formatted(f"{PATIENT_ID}0 and x{FAMILY}")) == []


@pytest.mark.logs_secrets
def test_the_guard_fails_a_test_whose_service_logs_a_patient_name(service_url: str) -> None:
    with pytest.raises(AssertionError, match=FAMILY), guard():
        with httpx.Client(base_url=service_url, timeout=10) as client:
            client.post("/cds-services/neurotransmitter-patient-view", json=identifiable_request())
        logging.getLogger("cds_service.somewhere").debug("loaded %s", FAMILY)


@pytest.mark.logs_secrets
def test_the_guard_passes_the_same_calls_without_the_leak(service_url: str) -> None:
    with guard() as secrets, httpx.Client(base_url=service_url, timeout=10) as client:
        response = client.post(
            "/cds-services/neurotransmitter-patient-view", json=identifiable_request()
        )
        assert response.status_code == 200  # everything is in prefetch: nothing fetched
    assert {TOKEN, BORN} <= secrets.exact


def test_a_feedback_comment_is_not_logged(client: httpx.Client) -> None:
    # Runs under the autouse guard: a clinician's comment (it may name the patient) must not
    # reach the logs, not even the database driver's DEBUG lines with statement parameters.
    comment = f"Discussed with {NAME} {FAMILY}; she declined for now"
    feedback = {
        "card": "0d3b6c1e-7a52-4b61-9c8e-3f1f7c2d9a10",
        "outcome": "overridden",
        "overrideReason": {
            "reason": {"system": "urn:example:override", "code": "patient-declined"},
            "userComment": comment,
        },
        "outcomeTimestamp": "2026-11-27T10:06:00Z",
    }
    response = client.post(
        "/cds-services/neurotransmitter-patient-view/feedback", json={"feedback": [feedback]}
    )
    assert response.status_code == 200, response.text
