"""OpenAPI descriptions of the raw-JSON endpoints (bodies are parsed by hand for speed).

The response, card and feedback schemas are generated from the pydantic models in
``protocol/messages.py`` (one source of truth for limits such as the summary length); the hook
request schema is written here, because the request reader is tolerant on purpose and a model
would describe less than it accepts. ``/docs`` shows the requests in ``examples/`` (realistic
patients the service answers with cards) as worked examples for each hook.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema
from pydantic_core import core_schema

from cds_service.protocol.messages import EXAMPLE_EXTENSION, CDSResponse, FeedbackRequest
from cds_service.protocol.services import ServiceRegistry

REF_TEMPLATE = "#/components/schemas/{model}"


class WireSchema(GenerateJsonSchema):
    """JSON Schema of what the strict writer sends: optional fields are omitted, never null,
    and a field the model fills itself (a uuid) is always present."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> dict[str, Any]:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> dict[str, Any]:
        return self.generate_inner(schema["schema"])

    def field_is_required(
        self,
        field: core_schema.ModelField | core_schema.DataclassField | core_schema.TypedDictField,
        total: bool,
    ) -> bool:
        inner = field["schema"]
        if inner["type"] == "default":
            return "default_factory" in inner
        return super().field_is_required(field, total)


def component_schemas(
    models: list[tuple[type[BaseModel], JsonSchemaMode, type[GenerateJsonSchema]]],
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Each model's schema (a $ref) and the component definitions they need."""
    refs: list[dict[str, Any]] = []
    components: dict[str, Any] = {}
    for model, mode, generator in models:
        keyed, defs = models_json_schema(
            [(model, mode)], ref_template=REF_TEMPLATE, schema_generator=generator
        )
        refs.append(keyed[(model, mode)])
        for name, definition in defs.get("$defs", {}).items():
            if components.get(name, definition) != definition:
                raise ValueError(f"two different schemas are both named {name}")
            components[name] = definition
    return refs, components


RESPONSE_MODELS: list[tuple[type[BaseModel], JsonSchemaMode, type[GenerateJsonSchema]]] = [
    (CDSResponse, "serialization", WireSchema),
    # The tolerant reader: what the service accepts (nulls included).
    (FeedbackRequest, "validation", GenerateJsonSchema),
]
(CDS_RESPONSE, FEEDBACK_REQUEST), COMPONENTS = component_schemas(RESPONSE_MODELS)


def load_examples(directory: Path | None) -> dict[str, dict[str, dict[str, Any]]]:
    """hook -> OpenAPI ``examples`` (name -> summary, description, value) from the CDS Hooks
    requests in ``directory`` (``examples/``); FHIR Bundles there are for the command line."""
    by_hook: dict[str, dict[str, dict[str, Any]]] = {}
    if directory is None or not directory.is_dir():
        return by_hook
    for path in sorted(directory.glob("*.json")):
        try:
            document = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            continue  # examples are documentation: a broken one is left out, not fatal
        hook = document.get("hook") if isinstance(document, Mapping) else None
        if not isinstance(hook, str) or "context" not in document:
            continue
        about = (document.get("extension") or {}).get(EXAMPLE_EXTENSION) or {}
        title = str(about.get("title") or path.stem)
        by_hook.setdefault(hook, {})[path.stem] = {
            "summary": path.stem,
            "description": title,
            "value": document,
        }
    return by_hook


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


def hook_request_schema(
    registry: ServiceRegistry, examples: Mapping[str, Mapping[str, dict[str, Any]]]
) -> dict[str, Any]:
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
    worked = {name: ex for hook in hooks for name, ex in examples.get(hook, {}).items()}
    return {
        "description": "The EHR calls the service for its hook with the context and, ideally, "
        f"the prefetch it asked for in discovery. Services: {services}. Pick the example that "
        "matches the service id you enter (its name starts with the hook). Without prefetch, "
        "missing keys are read from `fhirServer` with `fhirAuthorization.access_token` as a "
        "bearer token (never logged); a required key that cannot be read gives 412. Every call "
        "needs `Authorization: Bearer <JWT>` unless the service runs with CDS_AUTH=off.",
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema, "examples": worked}},
        },
        "responses": _responses(),
    }


def feedback_request_schema() -> dict[str, Any]:
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
            "content": {"application/json": {"schema": FEEDBACK_REQUEST, "example": example}},
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
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    components.update(COMPONENTS)
    return schema


def install(app: Any, registry: ServiceRegistry) -> None:
    """Serve the finished document at /openapi.json (generated once, then cached by FastAPI)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        cached = app.openapi_schema is not None
        schema: dict[str, Any] = generate()
        return schema if cached else finish_schema(schema, registry)

    app.openapi = openapi
