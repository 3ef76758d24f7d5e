"""Per-request bookkeeping: one access log line and the request metrics for every HTTP request.

A pure ASGI middleware (no ``BaseHTTPMiddleware``: that one copies the body stream and adds a
task per request). It sees the final status of every response, errors included, and reads what
the service-call handler noted in the request scope (``call_note``): the hookInstance, the cards
and where each prefetch key came from. The access line never holds patient data: no patient id,
no context, no prefetch, no token; only ids of the call and counts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cds_service.cards.record import CardAudit
from cds_service.errors import FHIRFetchError
from cds_service.fetch.fhir_client import FhirClient
from cds_service.observability import metrics

access_logger = logging.getLogger("cds_service.access")

SCOPE_KEY = "cds.call"
_QUIET = frozenset({"health", "metrics", "docs", "preflight"})
_DOCS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


@dataclass(slots=True)
class CallNote:
    """What a service call tells the middleware; filled by the handler as it gets that far."""

    hook_instance: str | None = None
    cards: tuple[CardAudit, ...] | None = None
    prefetch: Mapping[str, str] | None = None


def call_note(request: Request) -> CallNote:
    """The note for this request (a fresh one when the app runs without the middleware)."""
    note = request.scope.get(SCOPE_KEY)
    if not isinstance(note, CallNote):
        note = request.scope[SCOPE_KEY] = CallNote()
    return note


def classify(method: str, path: str) -> tuple[str, str | None]:
    """(endpoint, service id or None) for a request line; the endpoint set is fixed."""
    if method == "OPTIONS":
        return "preflight", None
    if path in ("/cds-services", "/cds-services/"):
        return "discovery", None
    if path.startswith("/cds-services/"):
        rest = path[len("/cds-services/") :]
        if rest.endswith("/feedback") and rest.count("/") == 1:
            return "feedback", rest[: -len("/feedback")]
        if "/" not in rest:
            return "service", rest
        return "other", None
    if path in ("/healthz", "/readyz"):
        return "health", None
    if path == "/metrics":
        return "metrics", None
    if path in _DOCS:
        return "docs", None
    if path == "/knowledge" or path.startswith("/knowledge/"):
        return "knowledge", None
    return "other", None


class InstrumentMiddleware:
    def __init__(self, app: ASGIApp, services: Mapping[str, str]) -> None:
        self.app = app
        self.services = dict(services)  # service id -> hook

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        note = scope[SCOPE_KEY] = CallNote()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except asyncio.CancelledError:
            status = 499  # the client went away (nginx's convention)
            raise
        finally:
            self._record(scope, status, time.perf_counter() - started, note)

    def _record(self, scope: Scope, status: int, seconds: float, note: CallNote) -> None:
        method: str = scope.get("method", "GET")
        path: str = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        endpoint, service_id = classify(method, path)
        metrics.http_request(endpoint, status)
        service = service_id if service_id in self.services else None
        fields: dict[str, Any] = {"endpoint": endpoint, "method": method, "status": status}
        if endpoint == "service" and method == "POST":
            label = service or "unknown"
            hook = self.services.get(service_id or "", "unknown")
            metrics.hook_call(label, hook, status, seconds)
            if note.cards is not None:
                metrics.cards(label, note.cards)
            if note.prefetch is not None:
                metrics.prefetch(label, dict(note.prefetch))
            fields.update(service=label, hook=hook)
            if note.hook_instance is not None:
                fields["hookInstance"] = note.hook_instance
            if note.cards is not None:
                fields["cards"] = len(note.cards)
        elif endpoint == "feedback":
            fields["service"] = service or "unknown"
        elif endpoint in ("other", "knowledge"):
            fields["path"] = path[:100]
        fields["latency_ms"] = round(seconds * 1000, 2)
        level = logging.DEBUG if endpoint in _QUIET else logging.INFO
        if access_logger.isEnabledFor(level):
            message = "hook call" if endpoint == "service" else "http request"
            access_logger.log(level, message, extra=fields)


class MeasuredFhirClient(FhirClient):
    """``FhirClient`` that times every HTTP request to the FHIR server and counts failures."""

    async def _get(self, url: str, token: str | None) -> Any:
        started = time.perf_counter()
        try:
            body = await super()._get(url, token)
        except FHIRFetchError as exc:
            metrics.fhir_fetch(time.perf_counter() - started, exc.kind)
            raise
        except asyncio.CancelledError:
            # The call's overall prefetch deadline expired while this request was in flight.
            metrics.fhir_fetch(time.perf_counter() - started, "cancelled")
            raise
        metrics.fhir_fetch(time.perf_counter() - started)
        return body
