"""/docs and /openapi.json: a worked example per hook, and each example really works."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from cds_service.cli.offline import prepare, run
from cds_service.knowledge import KnowledgeBase
from cds_service.protocol.messages import SUMMARY_MAX_LENGTH, HookRequest
from cds_service.protocol.services import load_services
from cds_service.protocol.validate import check_response
from cds_service.settings import PROJECT_ROOT

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


def test_examples_are_the_requests_in_examples_folder(spec: dict[str, Any]) -> None:
    files = {
        path.stem
        for path in (PROJECT_ROOT / "examples").glob("*.json")
        if "hook" in json.loads(path.read_text())
    }
    assert set(service_examples(spec)) == files
    for name, example in service_examples(spec).items():
        assert example["value"]["hook"] in name  # the name says which service to call


def test_examples_get_the_cards_the_offline_evaluation_gives(
    spec: dict[str, Any], client: httpx.Client, kb: KnowledgeBase
) -> None:
    registry = load_services(PROJECT_ROOT / "hooks", kb)
    ids = {service.hook: service.id for service in registry.services.values()}
    for name, example in service_examples(spec).items():
        body = example["value"]
        response = client.post(f"/cds-services/{ids[body['hook']]}", json=body)
        assert response.status_code == 200, (name, response.text)
        assert check_response(response.json()) == [], name
        offline = run(prepare(body, registry), kb, datetime.now(UTC))
        expected = [(c["indicator"], c["summary"]) for c in offline.evaluation.response["cards"]]
        answered = [(c["indicator"], c["summary"]) for c in response.json()["cards"]]
        assert answered == expected, name
        assert answered, name  # every example shows something


def test_card_schema_is_generated_from_the_model(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert schemas["Card"]["properties"]["summary"]["maxLength"] == SUMMARY_MAX_LENGTH
    assert schemas["Card"]["required"] == ["uuid", "summary", "indicator", "source"]
    assert schemas["Card"]["additionalProperties"] is False
    # Optional fields are omitted, never null, in what the service writes.
    assert "anyOf" not in json.dumps(schemas["Card"])
    response = spec["paths"][SERVICE_PATH]["post"]["responses"]["200"]
    assert response["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CDSResponse"
    }
