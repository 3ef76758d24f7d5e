"""The HTTP surface under uvicorn: discovery, calls, errors, CORS and feedback."""

from __future__ import annotations

import httpx
import orjson
import pytest

from cds_service.protocol.validate import check_discovery, check_response
from tests.factories import (
    SERVICE_FOR_HOOK,
    hook_request,
    medication_request,
    observation,
    prefetch_for,
)

PV = "/cds-services/neurotransmitter-patient-view"
SANDBOX = "https://sandbox.cds-hooks.org"


def assert_outcome(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    text = response.text
    assert "Traceback" not in text and 'File "' not in text
    return body


def test_discovery_lists_the_three_services(client: httpx.Client) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 200
    document = response.json()
    assert check_discovery(document) == []
    hooks = {s["id"]: s["hook"] for s in document["services"]}
    assert hooks == {v: k for k, v in SERVICE_FOR_HOOK.items()}
    for service in document["services"]:
        prefetch = service["prefetch"]
        assert prefetch["patient"] == "Patient/{{context.patientId}}"
        assert "http://loinc.org|2132-9" in prefetch["observations"]
        assert "required" not in orjson.dumps(service).decode()  # engine-only settings stay private


def test_patient_view_b12_card_over_http(client: httpx.Client) -> None:
    request = hook_request(prefetch=prefetch_for(observation("2132-9", 150, "pg/mL")))
    response = client.post(PV, json=request)
    assert response.status_code == 200
    body = response.json()
    assert check_response(body) == []
    [card] = body["cards"]
    assert card["source"]["topic"]["code"] == "methylation"
    assert card["suggestions"][0]["actions"][0]["resource"]["resourceType"] == "MedicationRequest"


def test_no_guidance_is_an_empty_card_list(client: httpx.Client) -> None:
    response = client.post(PV, json=hook_request(prefetch=prefetch_for()))
    assert response.status_code == 200
    assert response.json()["cards"] == []


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_order_hooks_accept_dstu2_and_r4_drafts_without_bundle_type(
    client: httpx.Client, hook: str
) -> None:
    drafts = [
        {
            "resourceType": "MedicationOrder",
            "id": "order-123",
            "status": "draft",
            "medicationCodeableConcept": {"text": "x"},
        },
        medication_request(None, "y", status="draft"),
    ]
    request = hook_request(hook, prefetch=prefetch_for(), draft_orders=drafts)
    response = client.post(f"/cds-services/{SERVICE_FOR_HOOK[hook]}", json=request)
    assert response.status_code == 200, response.text
    assert check_response(response.json()) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (orjson.dumps({"hook": "patient-view", "context": {}}), "hookInstance"),
        (
            orjson.dumps(hook_request("order-select", prefetch=prefetch_for())),
            "answers patient-view, not order-select",
        ),
        (
            orjson.dumps({**hook_request(), "context": {"userId": "Practitioner/1"}}),
            "context.patientId",
        ),
        (
            orjson.dumps(
                {
                    **hook_request(),
                    "fhirAuthorization": {
                        "access_token": "secret-token-xyz",
                        "token_type": "Bearer",
                    },
                }
            ),
            "fhirServer is required",
        ),
        (orjson.dumps({**hook_request(), "prefetch": {"patient": "nope"}}), "prefetch.patient"),
    ],
)
def test_bad_requests_get_a_clear_400(client: httpx.Client, body: bytes, message: str) -> None:
    response = client.post(PV, content=body, headers={"Content-Type": "application/json"})
    outcome = assert_outcome(response, 400)
    assert message in outcome["issue"][0]["diagnostics"]
    assert "secret-token-xyz" not in response.text


def test_missing_user_id_and_selections_are_tolerated(client: httpx.Client) -> None:
    # Real clients (the HL7 PDDI IG examples) omit them; the service needs neither.
    request = hook_request("order-select", prefetch=prefetch_for(), draft_orders=[])
    del request["context"]["selections"], request["context"]["userId"]
    assert (
        client.post("/cds-services/neurotransmitter-order-select", json=request).status_code == 200
    )


def test_order_hooks_need_draft_orders(client: httpx.Client) -> None:
    request = hook_request("order-sign", prefetch=prefetch_for(), draft_orders=[])
    del request["context"]["draftOrders"]
    outcome = assert_outcome(
        client.post("/cds-services/neurotransmitter-order-sign", json=request), 400
    )
    assert "context.draftOrders" in outcome["issue"][0]["diagnostics"]


def test_unknown_service_is_a_404(client: httpx.Client) -> None:
    assert_outcome(client.post("/cds-services/nope", json=hook_request()), 404)
    assert_outcome(client.get("/no-such-path"), 404)


def test_oversized_body_is_a_413(client: httpx.Client) -> None:
    big = b'{"hook": "patient-view", "pad": "' + b"x" * (5 * 1024 * 1024 + 10) + b'"}'
    assert_outcome(client.post(PV, content=big, headers={"Content-Type": "application/json"}), 413)


def test_oversized_chunked_body_is_a_413(client: httpx.Client) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"pad": "'
        for _ in range(6):
            yield b"x" * (1024 * 1024)
        yield b'"}'

    response = client.post(PV, content=chunks(), headers={"Content-Type": "application/json"})
    assert_outcome(response, 413)


def test_non_json_content_type_is_a_415(client: httpx.Client) -> None:
    assert_outcome(
        client.post(
            PV,
            content=b"hook=patient-view",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        415,
    )


def test_cors_preflight_needs_no_token_and_real_responses_carry_headers(
    client: httpx.Client,
) -> None:
    preflight = client.options(
        PV,
        headers={
            "Origin": SANDBOX,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] in ("*", SANDBOX)
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    response = client.post(
        PV, json=hook_request(prefetch=prefetch_for()), headers={"Origin": SANDBOX}
    )
    assert response.headers["access-control-allow-origin"] in ("*", SANDBOX)
    discovery = client.get("/cds-services", headers={"Origin": SANDBOX})
    assert discovery.headers["access-control-allow-origin"] in ("*", SANDBOX)


FEEDBACK = "/cds-services/neurotransmitter-patient-view/feedback"


def test_valid_feedback_is_accepted(client: httpx.Client) -> None:
    body = {
        "feedback": [
            {
                "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
                "outcomeTimestamp": "2026-11-27T10:05:31Z",
            },
            {
                "card": "9368d37b-283f-44a0-93ea-547cebab93ee",
                "outcome": "overridden",
                "overrideReason": {
                    "reason": {
                        "code": "patient-declined",
                        "system": "urn:neurotransmitter-cds:override-reason",
                    }
                },
                "outcomeTimestamp": "2026-11-27T10:06:31Z",
            },
        ]
    }
    assert client.post(FEEDBACK, json=body).status_code == 200


@pytest.mark.parametrize(
    "item",
    [
        {"card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-11-27T10:05:31Z"},
        {"card": "c", "outcome": "maybe", "outcomeTimestamp": "2026-11-27T10:05:31Z"},
        {
            "card": "c",
            "outcome": "overridden",
            "overrideReason": {},
            "outcomeTimestamp": "2026-11-27T10:05:31Z",
        },
        {"card": "c", "outcome": "overridden", "outcomeTimestamp": "yesterday"},
        {"outcome": "overridden", "outcomeTimestamp": "2026-11-27T10:05:31Z"},
    ],
)
def test_invalid_feedback_is_a_400(client: httpx.Client, item: dict) -> None:
    assert_outcome(client.post(FEEDBACK, json={"feedback": [item]}), 400)


def test_feedback_for_unknown_service_is_a_404(client: httpx.Client) -> None:
    assert_outcome(client.post("/cds-services/nope/feedback", json={"feedback": []}), 404)


def test_healthz(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
