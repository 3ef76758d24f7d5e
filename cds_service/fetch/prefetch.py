"""Resolve a service's prefetch: use what the client sent, fetch only what is missing.

Per CDS Hooks 2.0 §Prefetch: a key with a resource or Bundle is used; ``null`` means the client
has no data; an OperationOutcome means the client's fetch failed (we do not re-query blindly);
an absent key is fetched from ``fhirServer`` (all missing keys in parallel, bearer token when
given). When a required key cannot be obtained the answer is 412 with an OperationOutcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from cds_service.errors import BadRequest, FHIRFetchError, PreconditionFailed
from cds_service.fetch.fhir_client import FetchResult, FhirClient
from cds_service.fetch.result import KeyStatus, PrefetchResult
from cds_service.protocol.messages import HookRequest
from cds_service.protocol.services import ServiceDefinition, render_template


def _is_outcome(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("resourceType") == "OperationOutcome"


async def resolve(
    request: HookRequest,
    service: ServiceDefinition,
    client: FhirClient | None,
    *,
    total_timeout: float,
) -> PrefetchResult:
    """Gather every prefetch key of ``service`` or raise ``PreconditionFailed``."""
    given = {key: _unwrap(value) for key, value in (request.prefetch or {}).items()}
    values: dict[str, Any] = {}
    status: dict[str, KeyStatus] = {}
    missing: dict[str, list[str]] = {}
    result = PrefetchResult(values, status)
    for key, value in given.items():
        if value is not None and (
            not isinstance(value, Mapping) or not isinstance(value.get("resourceType"), str)
        ):
            raise BadRequest(f"prefetch.{key} must be a FHIR resource, a Bundle or null")
        if key not in service.prefetch and value is not None and not _is_outcome(value):
            values[key] = value  # extra data never hurts a safety check
    for key, spec in service.prefetch.items():
        if key in given:
            value = given[key]
            if value is None:
                values[key], status[key] = None, "null"
            elif _is_outcome(value):
                status[key] = "client-failed"
            else:
                values[key], status[key] = value, "prefetched"
            continue
        queries = [render_template(q, request.context) for q in (spec.query, *spec.alternatives)]
        rendered = [q for q in queries if q is not None]
        if not rendered or not request.fhirServer:
            status[key] = "unavailable"
            continue
        missing[key] = rendered

    paginate = [
        key
        for key, status_ in status.items()
        if status_ == "prefetched" and isinstance(values[key], Mapping) and _has_next(values[key])
    ]
    if (missing or paginate) and client is not None and request.fhirServer:
        token = request.access_token
        try:
            async with asyncio.timeout(total_timeout):
                await asyncio.gather(
                    *(
                        _fetch_key(client, request.fhirServer, token, k, q, result)
                        for k, q in missing.items()
                    ),
                    *(_follow_key(client, request.fhirServer, token, k, result) for k in paginate),
                )
        except TimeoutError:
            for key in missing:
                if status.get(key) not in ("fetched",):
                    status[key] = "failed"
                    result.failures.setdefault(key, "timeout")
    elif missing:
        for key in missing:
            status[key] = "unavailable"

    lacking = [
        key
        for key, spec in service.prefetch.items()
        if spec.required and status.get(key) in ("client-failed", "failed", "unavailable")
    ]
    if lacking:
        reasons = ", ".join(
            f"{key} ({_explain(status[key], result.failures.get(key))})" for key in lacking
        )
        raise PreconditionFailed(f"required data could not be obtained: {reasons}")
    return result


def _unwrap(value: Any) -> Any:
    """Pre-1.0 clients wrapped each prefetch value like a Bundle entry: {response, resource}."""
    if (
        isinstance(value, Mapping)
        and "resourceType" not in value
        and isinstance(value.get("resource"), Mapping)
    ):
        return value["resource"]
    return value


def _has_next(bundle: Mapping[str, Any]) -> bool:
    return bundle.get("resourceType") == "Bundle" and any(
        isinstance(link, Mapping) and link.get("relation") == "next"
        for link in bundle.get("link") or []
    )


async def _fetch_key(
    client: FhirClient,
    base: str,
    token: str | None,
    key: str,
    queries: list[str],
    result: PrefetchResult,
) -> None:
    last_error: FHIRFetchError | None = None
    for query in queries:
        try:
            fetched: FetchResult = await client.fetch(base, query, token)
        except FHIRFetchError as exc:
            last_error = exc
            # Only a rejected query (4xx) is worth an alternative; a down server is down.
            if not exc.kind.startswith("status-4"):
                break
            continue
        result.values[key] = fetched.value
        result.status[key] = "fetched"
        result.fetched.append(key)
        if fetched.truncated:
            result.truncated.append(key)
        return
    result.status[key] = "failed"
    result.failures[key] = last_error.kind if last_error else "unknown"


async def _follow_key(
    client: FhirClient, base: str, token: str | None, key: str, result: PrefetchResult
) -> None:
    try:
        fetched = await client.follow(base, dict(result.values[key]), token)
    except FHIRFetchError as exc:
        # The first page is still the client's data; later pages are missing.
        result.truncated.append(key)
        result.failures[key] = exc.kind
        return
    result.values[key] = fetched.value
    if fetched.truncated:
        result.truncated.append(key)


def _explain(status: str, kind: str | None) -> str:
    if status == "client-failed":
        return "the client's prefetch failed"
    if status == "unavailable":
        return "not in prefetch and no FHIR server to fetch it from"
    return f"fetch failed: {kind}"
