"""Request bodies: read once with a size limit, parsed once, turned into a ``HookRequest``.

415 unless JSON, 413 past the limit, 400 for JSON that is not a valid call of this service;
the 400 names the first problem without echoing the input (it may hold patient data or a
token). Large hook bodies are parsed without the prefetch entries no rule reads
(``lean_json``).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from pydantic import ValidationError

from cds_service.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from cds_service.http.lean_json import HookBodyReader
from cds_service.knowledge import KnowledgeBase
from cds_service.observability.middleware import CallNote
from cds_service.protocol.messages import HookRequest
from cds_service.protocol.services import ServiceDefinition
from cds_service.snapshot.facts import READ_RESOURCE_TYPES


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, read once; 415 unless JSON, 413 past ``limit`` bytes."""
    content_type = request.headers.get("content-type", "")
    if content_type and "json" not in content_type.lower():
        raise UnsupportedMediaType("the body must be JSON (Content-Type: application/json)")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def decode_json(raw: bytes) -> Any:
    """Parse a request body once, with orjson; 400 when it is not JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("the body is not valid JSON") from exc


def decode_hook_body(raw: bytes, reader: HookBodyReader) -> Any:
    """A hook call's body, parsed once without the prefetch entries no rule reads.

    See ``lean_json``: the value (or the 400) is what ``decode_json`` gives, minus Bundle
    entries the snapshot would skip.
    """
    try:
        return reader.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("the body is not valid JSON") from exc


def hook_body_reader(kb: KnowledgeBase) -> HookBodyReader:
    """One per process: it learns the shape of what the EHR sends (lean_json)."""
    return HookBodyReader(READ_RESOURCE_TYPES, kb.measure_codes)


def parse_hook_request(
    service: ServiceDefinition, body: Any, note: CallNote | None = None
) -> HookRequest:
    """The parsed body as a call to ``service``; ``BadRequest`` names the first problem."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    try:
        hook_request = HookRequest.model_validate(body)
    except ValidationError as exc:
        raise BadRequest(first_error(exc)) from exc
    if note is not None:
        note.hook_instance = hook_request.hookInstance
    if hook_request.hook != service.hook:
        raise BadRequest(f"service {service.id} answers {service.hook}, not {hook_request.hook}")
    hook_request.check_context()
    return hook_request


def first_error(exc: ValidationError) -> str:
    # Never echo the offending input: it may hold patient data or a token.
    error = exc.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"]) or "body"
    return f"{where}: {error['msg']}"
