"""An independent checker of CDS Hooks 2.0 responses and discovery documents.

It re-reads the serialised JSON (not our models), so a bug in a model cannot hide a bug in the
output. Used by the tests on every response they see, by ``check-knowledge`` on the suggestion
templates, and available to operators. Suggested resources are validated as FHIR R4 with the
fhir.resources R4B models plus the constraints our contracts add (draft + proposal).
"""

from __future__ import annotations

import re
import uuid as uuid_module
from collections.abc import Iterator, Mapping
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from cds_service.protocol.messages import SUMMARY_MAX_LENGTH

INDICATORS = {"info", "warning", "critical"}
SELECTION_BEHAVIORS = {"at-most-one", "any"}
ACTION_TYPES = {"create", "update", "delete"}
LINK_TYPES = {"absolute", "smart"}
CARD_FIELDS = {
    "uuid",
    "summary",
    "detail",
    "indicator",
    "source",
    "suggestions",
    "selectionBehavior",
    "overrideReasons",
    "links",
}
_RELATIVE_REFERENCE = re.compile(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$")


def _empties(value: Any, path: str) -> Iterator[str]:
    """§Use of JSON: no null and no empty string, array or object anywhere."""
    if value is None:
        yield f"{path}: null is not allowed"
    elif isinstance(value, str | list | dict) and len(value) == 0:
        yield f"{path}: empty value is not allowed"
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from _empties(child, f"{path}.{key}")
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _empties(child, f"{path}[{index}]")


def _is_uuid(value: Any) -> bool:
    try:
        uuid_module.UUID(str(value))
    except ValueError:
        return False
    return True


def _coding(value: Any, path: str, *, display_required: bool) -> Iterator[str]:
    if not isinstance(value, Mapping):
        yield f"{path}: must be a Coding object"
        return
    for key in ("system", "code"):
        if not isinstance(value.get(key), str):
            yield f"{path}.{key}: required string"
    if display_required and not isinstance(value.get("display"), str):
        yield f"{path}.display: required for override reasons"


def check_response(response: Any) -> list[str]:
    """Every CDS Hooks 2.0 rule the response breaks; an empty list means valid."""
    errors: list[str] = []
    if not isinstance(response, Mapping):
        return ["response: must be a JSON object"]
    cards = response.get("cards")
    if not isinstance(cards, list):
        return ["cards: required array (use [] for no guidance)"]
    for key, value in response.items():
        if key == "cards" and value == []:
            continue
        errors.extend(_empties(value, key))
    extension = response.get("extension")
    if extension is not None and not isinstance(extension, Mapping):
        errors.append("extension: must be an object")
    unknown = set(response) - {"cards", "systemActions", "extension"}
    if unknown:
        errors.append(f"response: unknown fields {sorted(unknown)}")
    card_ids: set[str] = set()
    for index, card in enumerate(cards):
        errors.extend(_check_card(card, f"cards[{index}]", card_ids))
    for index, action in enumerate(response.get("systemActions") or []):
        errors.extend(_check_action(action, f"systemActions[{index}]", system=True))
    return errors


def _check_card(card: Any, path: str, card_ids: set[str]) -> Iterator[str]:
    if not isinstance(card, Mapping):
        yield f"{path}: must be an object"
        return
    unknown = set(card) - CARD_FIELDS - {"extension"}
    if unknown:
        yield f"{path}: unknown fields {sorted(unknown)}"
    if "uuid" in card:
        if not _is_uuid(card["uuid"]):
            yield f"{path}.uuid: must be a UUID"
        elif card["uuid"] in card_ids:
            yield f"{path}.uuid: duplicate card uuid"
        card_ids.add(card["uuid"])
    summary = card.get("summary")
    if not isinstance(summary, str) or not summary:
        yield f"{path}.summary: required string"
    elif len(summary) > SUMMARY_MAX_LENGTH:
        yield f"{path}.summary: must be under {SUMMARY_MAX_LENGTH + 1} characters ({len(summary)})"
    if "detail" in card and not isinstance(card["detail"], str):
        yield f"{path}.detail: must be a markdown string"
    if card.get("indicator") not in INDICATORS:
        yield f"{path}.indicator: must be one of {sorted(INDICATORS)}"
    source = card.get("source")
    if not isinstance(source, Mapping) or not isinstance(source.get("label"), str):
        yield f"{path}.source.label: required string"
    else:
        for key in ("url", "icon"):
            if key in source and not str(source[key]).startswith(("http://", "https://")):
                yield f"{path}.source.{key}: must be an absolute URL"
        if "topic" in source:
            yield from _coding(source["topic"], f"{path}.source.topic", display_required=False)
    suggestions = card.get("suggestions")
    if suggestions is not None:
        if not isinstance(suggestions, list):
            yield f"{path}.suggestions: must be an array"
            suggestions = []
        behavior = card.get("selectionBehavior")
        if behavior not in SELECTION_BEHAVIORS:
            yield f"{path}.selectionBehavior: required with suggestions, one of {sorted(SELECTION_BEHAVIORS)}"
        recommended = 0
        suggestion_ids: set[str] = set()
        for index, suggestion in enumerate(suggestions):
            spath = f"{path}.suggestions[{index}]"
            if not isinstance(suggestion, Mapping):
                yield f"{spath}: must be an object"
                continue
            if not isinstance(suggestion.get("label"), str):
                yield f"{spath}.label: required string"
            if "uuid" in suggestion:
                if not _is_uuid(suggestion["uuid"]):
                    yield f"{spath}.uuid: must be a UUID"
                elif suggestion["uuid"] in suggestion_ids:
                    yield f"{spath}.uuid: duplicate suggestion uuid"
                suggestion_ids.add(suggestion["uuid"])
            if "isRecommended" in suggestion:
                if not isinstance(suggestion["isRecommended"], bool):
                    yield f"{spath}.isRecommended: must be boolean"
                recommended += bool(suggestion["isRecommended"])
            for aindex, action in enumerate(suggestion.get("actions") or []):
                yield from _check_action(action, f"{spath}.actions[{aindex}]", system=False)
        if behavior == "at-most-one" and recommended > 1:
            yield f"{path}: at most one suggestion may be recommended with at-most-one"
    elif "selectionBehavior" in card:
        yield f"{path}.selectionBehavior: only allowed with suggestions"
    reasons = card.get("overrideReasons")
    if reasons is not None:
        if not isinstance(reasons, list):
            yield f"{path}.overrideReasons: must be an array of Coding"
        else:
            for index, reason in enumerate(reasons):
                yield from _coding(
                    reason, f"{path}.overrideReasons[{index}]", display_required=True
                )
    for index, link in enumerate(card.get("links") or []):
        lpath = f"{path}.links[{index}]"
        if not isinstance(link, Mapping):
            yield f"{lpath}: must be an object"
            continue
        for key in ("label", "url"):
            if not isinstance(link.get(key), str):
                yield f"{lpath}.{key}: required string"
        if link.get("type") not in LINK_TYPES:
            yield f"{lpath}.type: must be absolute or smart"
        if "appContext" in link and link.get("type") != "smart":
            yield f"{lpath}.appContext: only for smart links"


def _check_action(action: Any, path: str, *, system: bool) -> Iterator[str]:
    if not isinstance(action, Mapping):
        yield f"{path}: must be an object"
        return
    kind = action.get("type")
    if kind not in ACTION_TYPES:
        yield f"{path}.type: must be create, update or delete"
    if not system and not isinstance(action.get("description"), str):
        yield f"{path}.description: required string"
    if kind in ("create", "update"):
        resource = action.get("resource")
        if not isinstance(resource, Mapping):
            yield f"{path}.resource: required for {kind}"
        else:
            # A created resource is our draft proposal; an updated one is the client's own
            # (e.g. its MedicationStatement set to stopped): valid R4, not a proposal.
            errors = check_resource(resource, proposal=kind == "create")
            yield from (f"{path}.resource: {e}" for e in errors)
    if kind == "delete":
        resource_id = action.get("resourceId")
        if not isinstance(resource_id, str) or not _RELATIVE_REFERENCE.match(resource_id):
            yield f"{path}.resourceId: delete needs a relative reference like MedicationRequest/1"
        if "resource" in action:
            yield f"{path}.resource: delete uses resourceId, not resource"


def check_resource(resource: Mapping[str, Any], *, proposal: bool = True) -> list[str]:
    """Validate a suggested resource as FHIR R4 (R4B models) plus, for a resource the service
    proposes (``proposal``), our draft/proposal contract."""
    rtype = resource.get("resourceType")
    try:
        model = get_fhir_model_class(str(rtype))
    except (KeyError, ValueError):
        return [f"unknown resourceType {rtype!r}"]
    errors: list[str] = []
    try:
        model.model_validate(dict(resource))
    except ValidationError as exc:
        errors += [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5]]
    if proposal and rtype in ("MedicationRequest", "ServiceRequest"):
        if resource.get("status") != "draft":
            errors.append("status must be draft")
        if resource.get("intent") != "proposal":
            errors.append("intent must be proposal")
        if not str((resource.get("subject") or {}).get("reference", "")).startswith("Patient/"):
            errors.append("subject must reference the patient")
    return errors


def check_discovery(document: Any) -> list[str]:
    """Rules for ``GET /cds-services``: services array, required fields, unique ids."""
    if not isinstance(document, Mapping) or not isinstance(document.get("services"), list):
        return ["services: required array"]
    errors: list[str] = []
    seen: set[str] = set()
    for index, service in enumerate(document["services"]):
        path = f"services[{index}]"
        if not isinstance(service, Mapping):
            errors.append(f"{path}: must be an object")
            continue
        errors.extend(_empties(service, path))
        for key in ("hook", "id", "description"):
            if not isinstance(service.get(key), str):
                errors.append(f"{path}.{key}: required string")
        if service.get("id") in seen:
            errors.append(f"{path}.id: duplicate")
        seen.add(str(service.get("id")))
        prefetch = service.get("prefetch", {})
        if not isinstance(prefetch, Mapping) or not all(
            isinstance(v, str) for v in prefetch.values()
        ):
            errors.append(f"{path}.prefetch: must map keys to template strings")
    return errors
