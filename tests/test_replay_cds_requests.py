"""Replay the public CDS Hooks request examples (../shared/testdata/cds-requests) over HTTP.

Their fhirServer is pointed at a local FHIR server so no traffic leaves the machine. Each gets
200 with a valid response, or a deliberate 4xx when the request is invalid for our services.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cds_service.protocol.validate import check_response
from tests.conftest import SHARED_TESTDATA
from tests.factories import SERVICE_FOR_HOOK
from tests.servers import FhirServer

REQUESTS = SHARED_TESTDATA / "cds-requests"
FILES = sorted(REQUESTS.glob("*/*.json")) if REQUESTS.is_dir() else []

# Deliberate 4xx: not a hook we serve, or context without the patient.
EXPECTED_STATUS = {
    "medication-prescribe": 400,  # deprecated hook; no service of ours answers it
    "no-patient": 400,
}


def expected(request: dict) -> int:
    hook = request.get("hook")
    if hook not in SERVICE_FOR_HOOK:
        return EXPECTED_STATUS["medication-prescribe"]
    if not (request.get("context") or {}).get("patientId"):
        return EXPECTED_STATUS["no-patient"]
    return 200


@pytest.fixture(scope="module")
def fhir() -> Iterator[FhirServer]:
    with FhirServer() as server:
        yield server


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_replay(client: httpx.Client, fhir: FhirServer, path: Path) -> None:
    request = json.loads(path.read_text())
    request["fhirServer"] = fhir.base()
    service = SERVICE_FOR_HOOK.get(request.get("hook"), "neurotransmitter-order-sign")
    response = client.post(f"/cds-services/{service}", json=request)
    assert response.status_code == expected(request), response.text
    if response.status_code == 200:
        assert check_response(response.json()) == []
    else:
        assert response.json()["resourceType"] == "OperationOutcome"


def test_the_examples_are_present() -> None:
    # CI has ../shared beside the repository; say so loudly if it is missing.
    assert len(FILES) >= 30, f"expected the CDS Hooks request examples in {REQUESTS}"
