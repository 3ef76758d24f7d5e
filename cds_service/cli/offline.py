"""Offline evaluation for ``cds-service evaluate``: a file in, the service's response out.

The file is either a CDS Hooks request (as an EHR would POST it) or a plain FHIR Bundle of one
patient, from which the request is built: the Bundle's resources become the prefetch of the
service for the chosen hook and, for order hooks, its draft orders become ``draftOrders``.
Evaluation runs the same code as the HTTP service (``resolve`` then ``pipeline.evaluate``)
without any network: a request whose required prefetch is missing is refused, not fetched.
Every refusal is an ``InputError`` with a one-line reason.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from cds_service.errors import CDSError, InputError
from cds_service.fetch.prefetch import resolve
from cds_service.knowledge import KnowledgeBase
from cds_service.pipeline import Evaluation, evaluate
from cds_service.protocol.messages import EXAMPLE_EXTENSION, HookRequest
from cds_service.protocol.services import ServiceDefinition, ServiceRegistry
from cds_service.protocol.validate import check_response

# Example files carry a title and the date they describe, so they read the same on any day.
ORDER_TYPES = ("MedicationRequest", "MedicationOrder", "ServiceRequest")
_TEMPLATE_TYPE = re.compile(r"^\s*([A-Z][A-Za-z]+)\s*([/?]|$)")


@dataclass(frozen=True, slots=True)
class Prepared:
    """A request ready to evaluate, with what the reader should know about how it was made."""

    request: HookRequest
    service: ServiceDefinition
    as_of: datetime | None  # the date the file describes; None means "now"
    title: str | None = None
    notes: tuple[str, ...] = ()
    as_of_source: str | None = None  # where as_of came from, for the reader


@dataclass(frozen=True, slots=True)
class Outcome:
    prepared: Prepared
    evaluation: Evaluation
    now: datetime
    problems: list[str] = field(default_factory=list)  # strict-writer check of the response


def read_json(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror or type(exc).__name__})") from exc
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc})") from exc


def prepare(document: Any, registry: ServiceRegistry, hook: str | None = None) -> Prepared:
    """A ``Prepared`` request from a CDS Hooks request or a one-patient FHIR Bundle."""
    if not isinstance(document, dict):
        raise InputError("expected a JSON object: a CDS Hooks request or a FHIR Bundle")
    if "hook" in document and "context" in document:
        return _from_request(document, registry, hook)
    if document.get("resourceType") == "Bundle":
        return _from_bundle(document, registry, hook or "patient-view")
    if "resourceType" in document:
        raise InputError(
            f"a FHIR {document['resourceType']} is not enough: give a Bundle of one patient"
        )
    raise InputError("neither a CDS Hooks request (hook, context) nor a FHIR Bundle")


def run(prepared: Prepared, kb: KnowledgeBase, now: datetime | None = None) -> Outcome:
    """Resolve the prefetch offline and evaluate, exactly as the HTTP service would."""
    when = now or prepared.as_of or datetime.now(UTC)
    request, service = prepared.request, prepared.service
    given = request.prefetch or {}
    absent = [k for k, spec in service.prefetch.items() if spec.required and k not in given]
    try:
        request.check_context()
        if absent:
            raise InputError(
                "evaluate works offline and needs the data in prefetch (it never calls "
                f"fhirServer); missing: {', '.join(absent)}"
            )
        prefetched = asyncio.run(resolve(request, service, None, total_timeout=1.0))
    except CDSError as exc:
        raise InputError(exc.message) from exc
    evaluation = evaluate(request, prefetched, kb, when)
    return Outcome(prepared, evaluation, when, check_response(evaluation.response))


def service_for_hook(registry: ServiceRegistry, hook: str) -> ServiceDefinition:
    for service in registry.services.values():
        if service.hook == hook:
            return service
    hooks = ", ".join(sorted({s.hook for s in registry.services.values()}))
    raise InputError(f"no service answers hook {hook!r} (this service has: {hooks})")


def _from_request(
    document: dict[str, Any], registry: ServiceRegistry, hook: str | None
) -> Prepared:
    if hook is not None and document.get("hook") != hook:
        raise InputError(
            f"the file is a {document.get('hook')} request; --hook applies to FHIR Bundles only"
        )
    try:
        request = HookRequest.model_validate(document)
    except ValidationError as exc:
        error = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in error["loc"]) or "request"
        raise InputError(f"not a valid CDS Hooks request: {where}: {error['msg']}") from exc
    service = service_for_hook(registry, request.hook)
    example = (document.get("extension") or {}).get(EXAMPLE_EXTENSION) or {}
    title = example.get("title") if isinstance(example.get("title"), str) else None
    as_of = _as_of(example.get("asOf"))
    source = "the date the example describes" if as_of else None
    return Prepared(request, service, as_of, title, as_of_source=source)


def _as_of(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        day = date.fromisoformat(value[:10])
    except ValueError as exc:
        raise InputError(f"{value!r} is not a date (YYYY-MM-DD)") from exc
    # Noon UTC: the same calendar day in every time zone a reader is likely to be in.
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def _from_bundle(bundle: dict[str, Any], registry: ServiceRegistry, hook: str) -> Prepared:
    service = service_for_hook(registry, hook)
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise InputError("Bundle.entry must be a list")
    resources = [
        e["resource"]
        for e in entries
        if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    ]
    patients = [r for r in resources if r.get("resourceType") == "Patient"]
    if len(patients) != 1:
        raise InputError(
            f"the Bundle holds {len(patients)} Patient resources; evaluate needs exactly one"
        )
    patient_id = patients[0].get("id")
    if not isinstance(patient_id, str) or not patient_id:
        raise InputError("the Bundle's Patient has no id")

    notes: list[str] = []
    context: dict[str, Any] = {"userId": "Practitioner/cds-service-cli", "patientId": patient_id}
    drafts: list[dict[str, Any]] = []
    if hook in ("order-select", "order-sign"):
        drafts, note = _draft_orders(resources)
        notes.append(note)
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for r in drafts],
        }
        if hook == "order-select":
            context["selections"] = [f"{r['resourceType']}/{r.get('id')}" for r in drafts]
    in_draft = {id(r) for r in drafts}
    current = [r for r in resources if id(r) not in in_draft]

    prefetch: dict[str, Any] = {}
    for key, spec in service.prefetch.items():
        types = {_template_type(q) for q in (spec.query, *spec.alternatives)} - {None}
        if spec.query.lstrip().startswith("Patient/"):
            prefetch[key] = patients[0]
            continue
        prefetch[key] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": r} for r in current if r.get("resourceType") in types],
        }
    document = {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": context,
        "prefetch": prefetch,
    }
    try:
        request = HookRequest.model_validate(document)
    except ValidationError as exc:  # pragma: no cover - built above from checked parts
        raise InputError("could not build a request from the Bundle") from exc
    # A Bundle is a snapshot: read it as of when it was assembled, so it ages with its data.
    as_of = _as_of(bundle.get("timestamp"))
    source = "the Bundle's timestamp" if as_of else None
    return Prepared(request, service, as_of, None, tuple(notes), source)


def _template_type(template: str) -> str | None:
    match = _TEMPLATE_TYPE.match(template)
    return match.group(1) if match else None


def _draft_orders(resources: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """The orders being placed: every draft order, else the most recent active prescription."""
    drafts = [
        r for r in resources if r.get("resourceType") in ORDER_TYPES and r.get("status") == "draft"
    ]
    if drafts:
        names = ", ".join(f"{r['resourceType']}/{r.get('id')}" for r in drafts)
        return drafts, f"draft orders from the Bundle: {names}"
    active = [
        r
        for r in resources
        if r.get("resourceType") in ("MedicationRequest", "MedicationOrder")
        and r.get("status") == "active"
    ]
    if not active:
        raise InputError(
            "the Bundle has no draft order (status draft) and no active MedicationRequest "
            "to check at order time"
        )
    latest = max(active, key=lambda r: str(r.get("authoredOn") or r.get("dateWritten") or ""))
    return [latest], (
        f"no draft order in the Bundle: checking the most recent active prescription, "
        f"{latest['resourceType']}/{latest.get('id')}, as if it were being ordered"
    )
