"""CDS Hooks 2.0 wire models: a tolerant reader for requests, a strict writer for responses.

Requests accept what real clients send (extra fields, legacy root-level ``user``/``patient``,
DSTU2/STU3 resources inside ``draftOrders``); FHIR content stays raw JSON here and is read by
``snapshot.py``. Responses are built from models that refuse anything the spec forbids; the
independent checker in ``validate.py`` re-checks the serialised result.
Spec: https://cds-hooks.hl7.org/2.0/ (section names quoted beside the checks).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic.config import JsonDict

from cds_service.errors import BadRequest

HOOKS_WITH_DRAFT_ORDERS = frozenset({"order-select", "order-sign"})

# The context the service cannot work without. The spec also REQUIRES userId (all hooks) and
# selections (order-select), but real clients omit them (the HL7 PDDI IG examples send no
# userId) and the service needs neither: userId is only a prefetch token, and without
# selections every draft order is treated as selected. Tolerant reader, strict writer.
REQUIRED_CONTEXT: dict[str, tuple[str, ...]] = {
    "patient-view": ("patientId",),
    "order-select": ("patientId", "draftOrders"),
    "order-sign": ("patientId", "draftOrders"),
}


# "summary ... SHOULD be under a 140-character limit" (§Card Attributes): the one place the
# limit is written; the card model, the renderers, the validator and the OpenAPI read it.
SUMMARY_MAX_LENGTH = 139
_UUID: JsonDict = {"format": "uuid"}
_URI: JsonDict = {"format": "uri"}
_DATE_TIME: JsonDict = {"format": "date-time"}
# Optional arrays are omitted rather than sent empty (cds-resp: no empty optional fields).
_NON_EMPTY_ARRAY: JsonDict = {"minItems": 1}
_NON_EMPTY_OBJECT: JsonDict = {"minProperties": 1}
# Extension keys: the response's own (knowledge version, data notes), and the one in
# examples/ that says what an example shows and the date it describes.
EXTENSION_KEY = "org.neurotransmitter-cds"
EXAMPLE_EXTENSION = "org.neurotransmitter-cds.example"


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class FhirAuthorization(_Tolerant):
    """§Passing the Access Token. The token is secret: it never reaches a log or a store."""

    access_token: SecretStr
    token_type: str = "Bearer"  # noqa: S105 - a token type, not a secret
    expires_in: int | None = None
    scope: str | None = None
    subject: str | None = None
    patient: str | None = None

    @field_validator("access_token")
    @classmethod
    def _sendable(cls, value: SecretStr) -> SecretStr:
        # It goes in an Authorization header: visible ASCII only (RFC 6750 b64token is a subset).
        token = value.get_secret_value()
        if not token or not all("!" <= c <= "~" for c in token):
            raise ValueError("access_token must be visible ASCII characters")
        return value


class HookRequest(_Tolerant):
    """The body of ``POST /cds-services/{id}``; FHIR resources are kept as raw JSON."""

    hook: str = Field(min_length=1)
    hookInstance: str = Field(min_length=1)
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _legacy_shapes(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        context = data.get("context")
        context = dict(context) if isinstance(context, dict) else context
        # Pre-1.0 clients put user/patient/encounter at the root (cds-hooks/docs#232).
        if any(k in data for k in ("user", "patient", "encounter")):
            context = context if isinstance(context, dict) else {}
            for legacy, current in (
                ("user", "userId"),
                ("patient", "patientId"),
                ("encounter", "encounterId"),
            ):
                if isinstance(data.get(legacy), str) and current not in context:
                    context[current] = data[legacy]
        # Early order hooks sent the draft orders as context.medications (a list or a Bundle).
        if isinstance(context, dict) and "draftOrders" not in context:
            medications = context.get("medications")
            if isinstance(medications, list):
                context["draftOrders"] = {
                    "resourceType": "Bundle",
                    "entry": [{"resource": m} for m in medications],
                }
            elif isinstance(medications, dict) and medications.get("resourceType") == "Bundle":
                context["draftOrders"] = medications
        if context is not data.get("context"):
            data = {**data, "context": context}
        return data

    @field_validator("fhirServer")
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        # The service sends requests there: refuse what is not an absolute http(s) URL rather
        # than fail later in the HTTP client.
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            usable = (
                parts.scheme.lower() in ("http", "https")
                and bool(parts.hostname)
                and (parts.port is None or parts.port > 0)
                and value.isprintable()
                and not any(c.isspace() for c in value)
            )
        except ValueError:  # "http://[::1" and ports out of range
            usable = False
        if not usable:
            raise ValueError("fhirServer must be an absolute http(s) URL")
        return value

    @model_validator(mode="after")
    def _fhir_server_with_token(self) -> HookRequest:
        # §Calling a CDS Service: fhirServer is "CONDITIONAL: required if fhirAuthorization is used".
        if self.fhirAuthorization is not None and not self.fhirServer:
            raise ValueError("fhirServer is required when fhirAuthorization is present")
        return self

    @property
    def patient_id(self) -> str:
        return str(self.context["patientId"])

    @property
    def access_token(self) -> str | None:
        auth = self.fhirAuthorization
        return auth.access_token.get_secret_value() if auth is not None else None

    def check_context(self) -> None:
        """Raise ``BadRequest`` unless the context has what this hook requires."""
        context = self.context
        for name in REQUIRED_CONTEXT.get(self.hook, ("patientId",)):
            value = context.get(name)
            if value is None or value == "" or value == []:
                raise BadRequest(f"context.{name} is required for hook {self.hook}")
        for name in ("userId", "patientId", "encounterId"):
            if name in context and not isinstance(context[name], str):
                raise BadRequest(f"context.{name} must be a string")
        if self.hook in HOOKS_WITH_DRAFT_ORDERS or "draftOrders" in context:
            draft = context.get("draftOrders")
            if not isinstance(draft, dict) or draft.get("resourceType") != "Bundle":
                raise BadRequest("context.draftOrders must be a FHIR Bundle")
            entries = draft.get("entry", [])
            if not isinstance(entries, list):
                raise BadRequest("context.draftOrders.entry must be a list")
            # An order that cannot be read cannot be checked: refuse rather than skip it.
            for entry in entries:
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if not isinstance(resource, dict) or not isinstance(
                    resource.get("resourceType"), str
                ):
                    raise BadRequest(
                        "every context.draftOrders.entry must hold a resource with a resourceType"
                    )
        selections = context.get("selections")
        if selections is not None and (
            not isinstance(selections, list) or not all(isinstance(s, str) for s in selections)
        ):
            raise BadRequest("context.selections must be a list of references")


# ---------------------------------------------------------------------------------------------
# Feedback (§Feedback)


class Coding(BaseModel):
    """A Coding as CDS Hooks uses it: ``code`` and ``system`` REQUIRED."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str = Field(min_length=1)
    code: str = Field(min_length=1)
    display: str | None = None


class _FeedbackCoding(Coding):
    # The sandbox sends only {code, system}; clients may add userSelected etc.
    model_config = ConfigDict(extra="ignore", frozen=True)


class AcceptedSuggestion(_Tolerant):
    id: str = Field(min_length=1)


class OverrideReason(_Tolerant):
    reason: _FeedbackCoding | None = None
    userComment: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> OverrideReason:
        # cds-fb-3: an overrideReason must contain a reason, a userComment, or both.
        if self.reason is None and not self.userComment:
            raise ValueError("overrideReason needs a reason or a userComment")
        return self


class Feedback(_Tolerant):
    card: str = Field(min_length=1)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = None
    overrideReason: OverrideReason | None = None
    outcomeTimestamp: str = Field(min_length=1, json_schema_extra=_DATE_TIME)

    @field_validator("outcomeTimestamp")
    @classmethod
    def _rfc3339(cls, value: str) -> str:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError("outcomeTimestamp must be an RFC 3339 date-time") from exc
        if parsed.tzinfo is None:
            raise ValueError("outcomeTimestamp must carry a time zone (UTC)")
        return value

    @model_validator(mode="after")
    def _accepted_needs_suggestions(self) -> Feedback:
        # "acceptedSuggestions: CONDITIONAL, required when outcome is accepted".
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("acceptedSuggestions is required when outcome is accepted")
        return self


class FeedbackRequest(_Tolerant):
    feedback: list[Feedback] = Field(min_length=1)


# ---------------------------------------------------------------------------------------------
# Response (§CDS Service Response): strict writer.


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def wire(self) -> dict[str, Any]:
        # "An OPTIONAL element with no value MUST be omitted" (§Use of JSON).
        return self.model_dump(mode="json", exclude_none=True)


def new_uuid() -> str:
    return str(uuid.uuid4())


class Source(_Strict):
    label: str = Field(min_length=1)
    url: str | None = Field(default=None, json_schema_extra=_URI)
    icon: str | None = Field(default=None, json_schema_extra=_URI)
    topic: Coding | None = None


class Action(_Strict):
    type: Literal["create", "update", "delete"]
    description: str = Field(min_length=1)
    resource: dict[str, Any] | None = None
    resourceId: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Action:
        if self.type in ("create", "update") and not self.resource:
            raise ValueError(f"{self.type} action needs a resource")
        # cds-resp-2: delete uses resourceId, not resource.
        if self.type == "delete" and (not self.resourceId or self.resource is not None):
            raise ValueError("delete action needs resourceId and no resource")
        return self


class Suggestion(_Strict):
    label: str = Field(min_length=1)
    uuid: str = Field(default_factory=new_uuid, json_schema_extra=_UUID)
    isRecommended: bool | None = None
    actions: list[Action] | None = Field(default=None, json_schema_extra=_NON_EMPTY_ARRAY)

    @field_validator("actions")
    @classmethod
    def _non_empty(cls, value: list[Action] | None) -> list[Action] | None:
        return value or None


class Link(_Strict):
    label: str = Field(min_length=1)
    url: str = Field(min_length=1, json_schema_extra=_URI)
    type: Literal["absolute", "smart"]
    appContext: str | None = None

    @model_validator(mode="after")
    def _app_context(self) -> Link:
        # cds-resp-3: appContext only for smart links.
        if self.appContext is not None and self.type != "smart":
            raise ValueError("appContext is only allowed on smart links")
        return self


class OverrideCoding(Coding):
    # "display is REQUIRED for override reasons" (2.0).
    display: str = Field(min_length=1)


class Card(_Strict):
    # uuid is OPTIONAL in CDS Hooks; this service always sends it (feedback needs it).
    uuid: str = Field(default_factory=new_uuid, json_schema_extra=_UUID)
    summary: str = Field(min_length=1, max_length=SUMMARY_MAX_LENGTH)
    detail: str | None = Field(default=None, min_length=1)
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: list[Suggestion] | None = Field(default=None, json_schema_extra=_NON_EMPTY_ARRAY)
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[OverrideCoding] | None = Field(
        default=None, json_schema_extra=_NON_EMPTY_ARRAY
    )
    links: list[Link] | None = Field(default=None, json_schema_extra=_NON_EMPTY_ARRAY)

    @model_validator(mode="after")
    def _invariants(self) -> Card:
        if self.suggestions is not None and not self.suggestions:
            object.__setattr__(self, "suggestions", None)
        if self.overrideReasons is not None and not self.overrideReasons:
            object.__setattr__(self, "overrideReasons", None)
        if self.links is not None and not self.links:
            object.__setattr__(self, "links", None)
        # cds-resp-6: "selectionBehavior MUST be present if suggestions is".
        if self.suggestions and self.selectionBehavior is None:
            raise ValueError("selectionBehavior is required with suggestions")
        if not self.suggestions and self.selectionBehavior is not None:
            object.__setattr__(self, "selectionBehavior", None)
        # cds-resp-1: with at-most-one, at most one suggestion isRecommended.
        recommended = sum(1 for s in self.suggestions or () if s.isRecommended)
        if self.selectionBehavior == "at-most-one" and recommended > 1:
            raise ValueError("at most one suggestion may be recommended with at-most-one")
        return self


class CDSResponse(_Strict):
    """The response document (§CDS Service Response); ``cards`` is [] when there is no guidance.

    The pipeline builds the document directly (for speed); this model is its contract, from
    which the OpenAPI description is generated.
    """

    cards: list[Card]
    systemActions: list[Action] | None = Field(default=None, json_schema_extra=_NON_EMPTY_ARRAY)
    extension: dict[str, Any] | None = Field(default=None, json_schema_extra=_NON_EMPTY_OBJECT)
