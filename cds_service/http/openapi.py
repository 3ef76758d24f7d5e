"""OpenAPI descriptions of the raw-JSON endpoints (bodies are parsed by hand for speed).

``/docs`` shows a worked example for each hook: a realistic patient with coded data (LOINC labs,
RxNorm medications) that the service answers with cards, so "Try it out" is a first call that
means something. Responses and error bodies are described too, as CDS Hooks 2.0 defines them.
"""

from __future__ import annotations

from typing import Any

from cds_service.protocol.services import ServiceRegistry

LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
PATIENT = "example-adult"

_CODING = {
    "type": "object",
    "required": ["system", "code"],
    "properties": {
        "system": {"type": "string"},
        "code": {"type": "string"},
        "display": {"type": "string"},
    },
}


# ---------------------------------------------------------------------------------------------
# Example data (fixed dates: the example reads the same in every release)


def _observation(oid: str, code: str, display: str, value: float, unit: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
        "subject": {"reference": f"Patient/{PATIENT}"},
        "effectiveDateTime": "2026-11-02T08:30:00Z",
        "valueQuantity": {
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
    }


def _medication(
    rid: str, code: str, display: str, status: str, intent: str = "order"
) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": status,
        "intent": intent,
        "subject": {"reference": f"Patient/{PATIENT}"},
        "authoredOn": "2026-10-01",
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": code, "display": display}],
            "text": display,
        },
    }


def _bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources],
    }


def _prefetch(*, medications: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    return {
        "patient": {
            "resourceType": "Patient",
            "id": PATIENT,
            "gender": "male",
            "birthDate": "1972-04-18",
        },
        "observations": _bundle(
            _observation(
                "b12",
                "2132-9",
                "Cobalamin (Vitamin B12) [Mass/volume] in Serum or Plasma",
                172,
                "pg/mL",
            ),
            _observation(
                "egfr",
                "98979-8",
                "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, "
                "Plasma or Blood by Creatinine-based formula (CKD-EPI 2021)",
                84,
                "mL/min/{1.73_m2}",
            ),
        ),
        "medicationRequests": _bundle(*medications),
        "medicationStatements": _bundle(),
        "conditions": _bundle(),
        "questionnaireResponses": _bundle(),
    }


def _draft_orders(*orders: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": o} for o in orders],
    }


def examples(hook: str) -> dict[str, dict[str, Any]]:
    """OpenAPI ``examples`` for one hook: name -> {summary, description, value}."""
    base = {"userId": "Practitioner/example", "patientId": PATIENT}
    if hook == "patient-view":
        return {
            "patient-view": {
                "summary": "patient-view: low vitamin B12, data in prefetch",
                "description": "An adult whose latest serum B12 is 172 pg/mL; the answer is a "
                "methylation card with the inputs, rule, evidence and a draft B12 order.",
                "value": {
                    "hook": "patient-view",
                    "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
                    "context": base,
                    "prefetch": _prefetch(),
                },
            },
            "patient-view-fhir-server": {
                "summary": "patient-view: no prefetch, the service reads the EHR's FHIR server",
                "description": "Missing prefetch keys are fetched from fhirServer with the bearer "
                "token (never logged). Replace fhirServer, the token and patientId with a FHIR R4 "
                "server and patient you can reach; a key that cannot be read gives 412.",
                "value": {
                    "hook": "patient-view",
                    "hookInstance": "0b6f3f62-6f1c-4d5e-9f43-5a1b2c3d4e5f",
                    "fhirServer": "https://fhir.example.org/r4",
                    "fhirAuthorization": {
                        "access_token": "an-opaque-access-token",
                        "token_type": "Bearer",
                        "expires_in": 300,
                        "scope": "patient/*.read",
                        "subject": "cds-service",
                    },
                    "context": base,
                },
            },
        }
    sertraline = _medication("current-1", "36437", "sertraline", "active")
    draft = _medication(
        "draft-1", "94", "oxitriptan (5-HTP) 100 MG Oral Capsule", "draft", "proposal"
    )
    context = {**base, "draftOrders": _draft_orders(draft)}
    if hook == "order-select":
        context["selections"] = ["MedicationRequest/draft-1"]
    return {
        hook: {
            "summary": f"{hook}: 5-HTP being ordered for a patient taking sertraline",
            "description": "The draft order combines a serotonin precursor with an SSRI; the "
            "safety gate answers with a card whose suggestion removes the draft order.",
            "value": {
                "hook": hook,
                "hookInstance": f"7e0c5a8e-{'1111' if hook == 'order-select' else '2222'}-4b1e-9d3c-2f6a7b8c9d0e",
                "context": context,
                "prefetch": _prefetch(medications=(sertraline,)),
            },
        }
    }


# ---------------------------------------------------------------------------------------------
# Schemas


# Response bodies, strict as validate.py is: schemathesis checks every answer against them.
OPERATION_OUTCOME = {
    "type": "object",
    "description": "A short FHIR OperationOutcome; never a stack trace.",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
        "issue": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["severity", "code"],
                "properties": {
                    "severity": {"type": "string", "enum": ["fatal", "error", "warning"]},
                    "code": {"type": "string"},
                    "diagnostics": {"type": "string"},
                },
            },
        },
    },
}
_NON_EMPTY = {"type": "string", "minLength": 1}
_ACTION = {
    "type": "object",
    "required": ["type", "description"],
    "properties": {
        "type": {"type": "string", "enum": ["create", "update", "delete"]},
        "description": _NON_EMPTY,
        "resource": {"type": "object", "required": ["resourceType"]},
        "resourceId": _NON_EMPTY,
    },
    "additionalProperties": False,
}
CARD = {
    "type": "object",
    # uuid is optional in CDS Hooks; this service always sends it (feedback needs it).
    "required": ["uuid", "summary", "indicator", "source"],
    "properties": {
        "uuid": {"type": "string", "format": "uuid"},
        "summary": {"type": "string", "minLength": 1, "maxLength": 139},
        "detail": _NON_EMPTY,
        "indicator": {"type": "string", "enum": ["info", "warning", "critical"]},
        "source": {
            "type": "object",
            "required": ["label"],
            "properties": {
                "label": _NON_EMPTY,
                "url": {"type": "string", "format": "uri"},
                "icon": {"type": "string", "format": "uri"},
                "topic": _CODING,
            },
            "additionalProperties": False,
        },
        "suggestions": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["label", "uuid"],
                "properties": {
                    "label": _NON_EMPTY,
                    "uuid": {"type": "string", "format": "uuid"},
                    "isRecommended": {"type": "boolean"},
                    "actions": {"type": "array", "minItems": 1, "items": _ACTION},
                },
                "additionalProperties": False,
            },
        },
        "selectionBehavior": {"type": "string", "enum": ["at-most-one", "any"]},
        "overrideReasons": {
            "type": "array",
            "minItems": 1,
            "items": {**_CODING, "required": ["system", "code", "display"]},
        },
        "links": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["label", "url", "type"],
                "properties": {
                    "label": _NON_EMPTY,
                    "url": {"type": "string", "format": "uri"},
                    "type": {"type": "string", "enum": ["absolute", "smart"]},
                    "appContext": _NON_EMPTY,
                },
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
}
CDS_RESPONSE = {
    "type": "object",
    "description": "CDS Hooks 2.0 response; `cards` is [] when there is no guidance.",
    "required": ["cards"],
    "properties": {
        "cards": {"type": "array", "items": CARD},
        "systemActions": {"type": "array", "minItems": 1, "items": _ACTION},
        "extension": {"type": "object", "minProperties": 1},
    },
    "additionalProperties": False,
}
DISCOVERY = {
    "type": "object",
    "required": ["services"],
    "properties": {
        "services": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["hook", "id", "description"],
                "properties": {
                    "hook": _NON_EMPTY,
                    "id": _NON_EMPTY,
                    "title": _NON_EMPTY,
                    "description": _NON_EMPTY,
                    "usageRequirements": _NON_EMPTY,
                    "prefetch": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
        }
    },
}


_OUTCOME = {
    "description": "A FHIR OperationOutcome naming the problem (never a stack trace)",
    "content": {
        "application/json": {
            "schema": OPERATION_OUTCOME,
            "example": {
                "resourceType": "OperationOutcome",
                "issue": [
                    {
                        "severity": "error",
                        "code": "invalid",
                        "diagnostics": "context.patientId is required for hook patient-view",
                    }
                ],
            },
        }
    },
}


def _responses() -> dict[str, Any]:
    return {
        "200": {
            "description": "Cards (possibly none) and the knowledge-base version",
            "content": {"application/json": {"schema": CDS_RESPONSE}},
        },
        "400": {
            **_OUTCOME,
            "description": "Malformed JSON, a missing required field, or the wrong hook for this service",
        },
        "401": {
            "description": "No valid JWT from a trusted EHR (bare, with WWW-Authenticate: Bearer)"
        },
        "404": {**_OUTCOME, "description": "No CDS service with this id"},
        "412": {
            **_OUTCOME,
            "description": "Required data was neither in prefetch nor obtainable from fhirServer",
        },
        "413": {**_OUTCOME, "description": "Body larger than CDS_MAX_BODY_BYTES"},
        "415": {**_OUTCOME, "description": "The body is not JSON"},
    }


def hook_request_schema(registry: ServiceRegistry) -> dict[str, Any]:
    hooks = sorted({s.hook for s in registry.services.values()})
    services = ", ".join(f"`{s.id}` ({s.hook})" for s in registry.services.values())
    schema = {
        "type": "object",
        "required": ["hook", "hookInstance", "context"],
        "properties": {
            "hook": {"type": "string", "enum": hooks},
            "hookInstance": {"type": "string", "minLength": 1},
            "fhirServer": {
                "type": ["string", "null"],
                "format": "uri",
                "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://",
            },
            "fhirAuthorization": {
                "type": ["object", "null"],
                "required": ["access_token"],
                "properties": {
                    "access_token": {"type": "string", "pattern": "^[!-~]+$"},
                    "token_type": {"type": "string"},
                    "expires_in": {"type": ["integer", "null"]},
                    "scope": {"type": ["string", "null"]},
                    "subject": {"type": ["string", "null"]},
                    "patient": {"type": ["string", "null"]},
                },
            },
            "context": {
                "type": "object",
                "required": ["patientId"],
                "properties": {
                    "patientId": {"type": "string", "minLength": 1},
                    "userId": {"type": "string"},
                    "encounterId": {"type": "string"},
                    "selections": {
                        "type": ["array", "null"],
                        "items": {"type": "string"},
                        "description": "order-select; absent or null: every draft is selected.",
                    },
                    "draftOrders": {
                        "type": "object",
                        "description": "order-select and order-sign: a FHIR Bundle (REQUIRED).",
                        "required": ["resourceType"],
                        "properties": {
                            "resourceType": {"type": "string", "enum": ["Bundle"]},
                            "entry": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["resource"],
                                    "properties": {
                                        "resource": {
                                            "type": "object",
                                            "required": ["resourceType"],
                                            "properties": {"resourceType": {"type": "string"}},
                                        }
                                    },
                                },
                            },
                        },
                    },
                },
            },
            "prefetch": {
                "type": ["object", "null"],
                "description": "Per key: a FHIR resource or Bundle, or null for no data "
                "(a null prefetch, tolerated, is the same as none).",
                "additionalProperties": {
                    "anyOf": [
                        {"type": "null"},
                        {
                            "type": "object",
                            "required": ["resourceType"],
                            "properties": {"resourceType": {"type": "string"}},
                        },
                    ]
                },
            },
        },
    }
    worked = {name: ex for hook in hooks for name, ex in examples(hook).items()}
    return {
        "description": "The EHR calls the service for its hook with the context and, ideally, "
        f"the prefetch it asked for in discovery. Services: {services}. Pick the example that "
        "matches the service id you enter. Every call needs `Authorization: Bearer <JWT>` "
        "unless the service runs with CDS_AUTH=off.",
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema, "examples": worked}},
        },
        "responses": _responses(),
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
        },
        "responses": {
            "200": {"description": "Stored (the rows are committed)"},
            "400": {**_OUTCOME, "description": "Not a CDS Hooks feedback body"},
            "401": {"description": "No valid JWT from a trusted EHR"},
            "404": {**_OUTCOME, "description": "No CDS service with this id"},
            "413": {**_OUTCOME, "description": "Body larger than CDS_MAX_BODY_BYTES"},
            "415": {**_OUTCOME, "description": "The body is not JSON"},
            "503": {**_OUTCOME, "description": "Could not be stored now; retry"},
        },
    }


# ---------------------------------------------------------------------------------------------
# Finishing FastAPI's generated document


DISCOVERY_RESPONSES = {
    "200": {
        "description": "The services offered",
        "content": {"application/json": {"schema": DISCOVERY}},
    },
    "401": {"description": "No valid JWT from a trusted EHR (bare, with WWW-Authenticate: Bearer)"},
}


def finish_schema(schema: dict[str, Any], registry: ServiceRegistry) -> dict[str, Any]:
    """Discovery's responses, no FastAPI 422 (bodies are parsed by hand: never answered), and
    the service ids as an enum, so every status and body the service answers is documented."""
    paths = schema.get("paths", {})
    discovery = paths.get("/cds-services", {}).get("get")
    if discovery is not None:
        discovery["responses"] = DISCOVERY_RESPONSES
    for path in ("/cds-services/{service_id}", "/cds-services/{service_id}/feedback"):
        operation = paths.get(path, {}).get("post")
        if operation is None:
            continue
        responses = operation.get("responses", {})
        responses.pop("422", None)
        if path.endswith("/feedback") and "200" in responses:
            responses["200"].pop("content", None)  # FastAPI's default; the 200 has no body
        for parameter in operation.get("parameters", []):
            if parameter.get("name") == "service_id":
                parameter["schema"] = {"type": "string", "enum": sorted(registry.services)}
    components = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    if "components" in schema and not components:
        schema["components"].pop("schemas", None)
        if not schema["components"]:
            del schema["components"]
    return schema


def install(app: Any, registry: ServiceRegistry) -> None:
    """Serve the finished document at /openapi.json (generated once, then cached by FastAPI)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        cached = app.openapi_schema is not None
        schema: dict[str, Any] = generate()
        return schema if cached else finish_schema(schema, registry)

    app.openapi = openapi
