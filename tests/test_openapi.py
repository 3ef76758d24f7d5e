"""/docs and /openapi.json: a worked example per hook, and each example really works."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cds_service.protocol.messages import HookRequest
from cds_service.protocol.validate import check_response

SERVICE_PATH = "/cds-services/{service_id}"


@pytest.fixture(scope="module")
def spec(service_url: str) -> dict[str, Any]:
    response = httpx.get(f"{service_url}/openapi.json", timeout=10)
    assert response.status_code == 200
    return response.json()


def service_examples(spec: dict[str, Any]) -> dict[str, Any]:
    operation = spec["paths"][SERVICE_PATH]["post"]
    return operation["requestBody"]["content"]["application/json"]["examples"]


def test_docs_page_is_served(service_url: str) -> None:
    response = httpx.get(f"{service_url}/docs", timeout=10)
    assert response.status_code == 200
    assert "swagger" in response.text.lower()


def test_every_hook_has_a_worked_example(spec: dict[str, Any]) -> None:
    examples = service_examples(spec)
    hooks = {example["value"]["hook"] for example in examples.values()}
    assert hooks == {"patient-view", "order-select", "order-sign"}
    for name, example in examples.items():
        request = HookRequest.model_validate(example["value"])
        request.check_context()
        assert example["summary"] and example["description"], name


def test_operations_and_errors_are_documented(spec: dict[str, Any]) -> None:
    responses = spec["paths"][SERVICE_PATH]["post"]["responses"]
    assert {"200", "400", "401", "404", "412", "413", "415"} <= set(responses)
    assert "/readyz" in spec["paths"] and "/metrics" in spec["paths"]
    assert "/healthz" in spec["paths"]


def test_examples_with_prefetch_get_valid_answers(
    spec: dict[str, Any], client: httpx.Client
) -> None:
    ids = {
        "patient-view": "neurotransmitter-patient-view",
        "order-select": "neurotransmitter-order-select",
        "order-sign": "neurotransmitter-order-sign",
    }
    answered = 0
    for name, example in service_examples(spec).items():
        body = example["value"]
        if "prefetch" not in body:
            continue  # the FHIR-server example names a server to replace
        response = client.post(f"/cds-services/{ids[body['hook']]}", json=body)
        assert response.status_code == 200, (name, response.text)
        assert check_response(response.json()) == [], name
        cards = response.json()["cards"]
        topics = [c["source"]["topic"]["code"] for c in cards]
        if body["hook"] == "patient-view":
            assert "methylation" in topics  # the B12 of 172 pg/mL
        else:
            # 5-HTP drafted while on sertraline: the serotonergic-drug rule, with the removal.
            assert "S3" in topics, topics
            deletes = [
                a["resourceId"]
                for c in cards
                for s in c.get("suggestions") or []
                for a in s["actions"]
                if a["type"] == "delete"
            ]
            assert deletes == ["MedicationRequest/draft-1"]
        answered += 1
    assert answered == 3
