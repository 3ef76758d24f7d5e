"""OpenAPI descriptions of the raw-JSON endpoints (the bodies are parsed by hand for speed)."""

from __future__ import annotations

from typing import Any

from cds_service.services import ServiceRegistry

_CODING = {
    "type": "object",
    "required": ["system", "code"],
    "properties": {
        "system": {"type": "string"},
        "code": {"type": "string"},
        "display": {"type": "string"},
    },
}


def _example(hook: str) -> dict[str, Any]:
    context: dict[str, Any] = {"userId": "Practitioner/example", "patientId": "example-patient"}
    if hook in ("order-select", "order-sign"):
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                {
                    "resource": {
                        "resourceType": "MedicationRequest",
                        "id": "draft-1",
                        "status": "draft",
                        "intent": "order",
                        "subject": {"reference": "Patient/example-patient"},
                        "medicationCodeableConcept": {"text": "example medication"},
                    }
                }
            ],
        }
    if hook == "order-select":
        context["selections"] = ["MedicationRequest/draft-1"]
    return {
        "hook": hook,
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": context,
        "prefetch": {
            "patient": {
                "resourceType": "Patient",
                "id": "example-patient",
                "gender": "female",
                "birthDate": "1980-05-01",
            }
        },
    }


def hook_request_schema(registry: ServiceRegistry) -> dict[str, Any]:
    hooks = sorted({s.hook for s in registry.services.values()})
    schema = {
        "type": "object",
        "required": ["hook", "hookInstance", "context"],
        "properties": {
            "hook": {"type": "string", "enum": hooks},
            "hookInstance": {"type": "string", "minLength": 1},
            "fhirServer": {"type": "string"},
            "fhirAuthorization": {
                "type": "object",
                "required": ["access_token"],
                "properties": {
                    "access_token": {"type": "string"},
                    "token_type": {"type": "string"},
                    "expires_in": {"type": "integer"},
                    "scope": {"type": "string"},
                    "subject": {"type": "string"},
                },
            },
            "context": {"type": "object"},
            "prefetch": {"type": "object"},
        },
    }
    examples = {hook: {"summary": f"A {hook} call", "value": _example(hook)} for hook in hooks}
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema, "examples": examples}},
        }
    }


def feedback_request_schema() -> dict[str, Any]:
    item = {
        "type": "object",
        "required": ["card", "outcome", "outcomeTimestamp"],
        "properties": {
            "card": {"type": "string"},
            "outcome": {"type": "string", "enum": ["accepted", "overridden"]},
            "acceptedSuggestions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {"id": {"type": "string"}},
                },
            },
            "overrideReason": {
                "type": "object",
                "properties": {"reason": _CODING, "userComment": {"type": "string"}},
            },
            "outcomeTimestamp": {"type": "string", "format": "date-time"},
        },
    }
    example = {
        "feedback": [
            {
                "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
                "outcome": "overridden",
                "overrideReason": {
                    "reason": {
                        "system": "urn:neurotransmitter-cds:override-reason",
                        "code": "patient-declined",
                    },
                    "userComment": "Discussed; not now.",
                },
                "outcomeTimestamp": "2026-11-27T10:05:31Z",
            }
        ]
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["feedback"],
                        "properties": {"feedback": {"type": "array", "minItems": 1, "items": item}},
                    },
                    "example": example,
                }
            },
        }
    }
