"""The HTTP surface: ``create_app(settings)`` wires routes, CORS, errors and pooled I/O.

Errors become responses only in ``errors.py`` (a short FHIR OperationOutcome, never a stack
trace). Bodies are read once, with a size limit, and parsed once (``bodies.py``); FHIR content
is never validated wholesale on the request path (see architecture.md, "fast by
construction").
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import orjson
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from pydantic import ValidationError

from cds_service import __version__
from cds_service.errors import (
    BadRequest,
    CDSError,
    UnknownService,
)
from cds_service.fetch.fhir_client import FhirClient
from cds_service.fetch.prefetch import resolve
from cds_service.fetch.result import PrefetchResult
from cds_service.http.bodies import (
    decode_hook_body,
    decode_json,
    first_error,
    hook_body_reader,
    parse_hook_request,
    read_body,
)
from cds_service.http.errors import install_error_handlers, json_response
from cds_service.http.health import router as operations_router
from cds_service.http.openapi import feedback_request_schema, hook_request_schema, load_examples
from cds_service.http.openapi import install as install_openapi
from cds_service.knowledge import KnowledgeBase, load_knowledge
from cds_service.observability import metrics
from cds_service.observability.middleware import (
    InstrumentMiddleware,
    MeasuredFhirClient,
    call_note,
)
from cds_service.pipeline import Evaluation, evaluate
from cds_service.protocol.messages import FeedbackRequest, HookRequest
from cds_service.protocol.services import ServiceDefinition, load_services
from cds_service.protocol.validate import check_response
from cds_service.security import Authenticator, startup_registry
from cds_service.settings import Settings
from cds_service.store import SQLAuditStore
from cds_service.store.records import AuditStore, InvocationAudit
from cds_service.store.writer import AuditWriter
from cds_service.web.knowledge import KNOWLEDGE_PATH, install_knowledge_pages
from cds_service.web.smart import LAUNCH_PATH, DevTarget, install_smart_app, public_base

logger = logging.getLogger("cds_service")

JSON = "application/json"


async def answer(
    service: ServiceDefinition,
    hook_request: HookRequest,
    *,
    kb: KnowledgeBase,
    fhir: FhirClient | None,
    settings: Settings,
    now: datetime,
    knowledge_url: str | None = None,
    smart_launch_url: str | None = None,
) -> tuple[PrefetchResult, Evaluation]:
    """Prefetch, evaluate and (optionally) self-check: the whole call after parsing.

    ``call_service`` and ``benchmarks/`` both run exactly this, so the benchmark times the
    request path itself rather than a copy of it.
    """
    prefetched = await resolve(
        hook_request,
        service,
        fhir,
        total_timeout=settings.fhir_read_timeout + settings.fhir_connect_timeout,
    )
    result = evaluate(
        hook_request,
        prefetched,
        kb,
        now,
        knowledge_url=knowledge_url,
        smart_launch_url=smart_launch_url,
    )
    if settings.validate_responses:
        problems = check_response(result.response)
        if problems:
            logger.error("invalid response from %s: %s", service.id, problems[:5])
            raise CDSError("the service produced an invalid response")
    return prefetched, result


def freeze_startup_heap() -> None:
    """Move everything built at start-up out of the cyclic garbage collector's sight.

    The knowledge base, the models and the imported modules live as long as the process, yet
    each full collection walks them all; a 1,000-Observation request allocates enough
    containers to trigger several. Frozen, they are skipped: the in-process benchmark measured
    the 5,000-Observation call at 85 -> 46 ms and the 1,000-Observation p95 at 51 -> 11 ms.
    """
    gc.collect()
    gc.freeze()


def audience(request: Request, settings: Settings) -> str:
    """The exact URL the caller called, as the JWT ``aud`` must name it."""
    if settings.public_base_url:
        return settings.public_base_url + request.url.path
    return str(request.url.replace(query="", fragment=""))


def smart_launch_url(request: Request, settings: Settings) -> str | None:
    """Where cards' smart links point: the companion app's launch URL, or None when it is off."""
    if not settings.smart_enabled:
        return None
    return public_base(request, settings) + LAUNCH_PATH


async def authenticate(request: Request) -> None:
    authenticator = request.app.state.authenticator
    if authenticator is not None:
        settings: Settings = request.app.state.settings
        await authenticator.authenticate(
            request.headers.get("authorization"), audience(request, settings)
        )


def create_app(
    settings: Settings,
    *,
    knowledge: KnowledgeBase | None = None,
    clock: Callable[[], datetime] | None = None,
    smart_dev: DevTarget | None = None,
) -> FastAPI:
    """Build the service from its settings; nothing is created at import time.

    ``smart_dev`` (``cds-service app``) serves the companion app's page for one patient of an
    open FHIR server without a launch: development and demos only.
    """
    kb = knowledge or load_knowledge(settings.mappings_dir)
    registry = load_services(settings.hooks_dir, kb)
    discovery_body = orjson.dumps(registry.discovery())
    body_reader = hook_body_reader(kb)
    now = clock or (lambda: datetime.now(UTC))
    trusted = startup_registry(settings)  # refuses to start on a bad trusted-clients file

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        timeout = httpx.Timeout(
            connect=settings.fhir_connect_timeout,
            read=settings.fhir_read_timeout,
            write=settings.fhir_read_timeout,
            pool=settings.fhir_connect_timeout,
        )
        limits = httpx.Limits(max_connections=settings.fhir_max_connections)
        async with httpx.AsyncClient(
            timeout=timeout, limits=limits, follow_redirects=False
        ) as client:
            app.state.http_client = client
            if trusted is not None:
                app.state.authenticator = Authenticator(trusted, client)
            app.state.fhir = MeasuredFhirClient(
                client,
                max_pages=settings.fhir_max_pages,
                max_bytes=settings.fhir_max_response_bytes,
            )
            # Connects and applies migrations; unsafe storage settings stop the start here.
            app.state.store = await SQLAuditStore.open(settings)
            app.state.audit_writer = AuditWriter(
                app.state.store, on_failure=metrics.audit_write_failure
            )
            app.state.audit_writer.start()
            freeze_startup_heap()
            try:
                yield
            finally:
                gc.unfreeze()  # a process that builds several apps (the tests) can free them
                await app.state.audit_writer.aclose(grace=5)
                store: AuditStore | None = app.state.store
                if store is not None:
                    await store.aclose()

    app = FastAPI(
        title="Neurotransmitter CDS Hooks service",
        version=__version__,
        summary="CDS Hooks 2.0: neurotransmitter pathway assessment and supplement safety.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.knowledge = kb
    app.state.registry = registry
    app.state.authenticator = None
    app.state.store = None
    app.state.audit_writer = None
    app.state.fhir = None

    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    )
    # Outermost user middleware: it sees every response, CORS preflights included.
    app.add_middleware(
        InstrumentMiddleware, services={s.id: s.hook for s in registry.services.values()}
    )
    metrics.knowledge_loaded(kb.version)
    install_error_handlers(app)
    app.include_router(operations_router)
    install_knowledge_pages(app, kb)  # no token: rendered from the knowledge base alone
    if settings.smart_enabled or smart_dev is not None:
        install_smart_app(app, settings, dev=smart_dev)

    def service_for(service_id: str) -> ServiceDefinition:
        service = registry.services.get(service_id)
        if service is None:
            raise UnknownService(f"no CDS service with id {service_id!r}")
        return service

    @app.get("/cds-services", tags=["CDS Hooks"], summary="Discovery: the services offered")
    async def discovery(request: Request) -> Response:
        await authenticate(request)
        return Response(discovery_body, media_type=JSON)

    @app.post(
        "/cds-services/{service_id}",
        tags=["CDS Hooks"],
        summary="Call a CDS service",
        openapi_extra=hook_request_schema(registry, load_examples(settings.examples_dir)),
    )
    async def call_service(service_id: str, request: Request) -> Response:
        started = time.perf_counter()
        started_at = now()
        note = call_note(request)  # read by InstrumentMiddleware for the access log and metrics
        await authenticate(request)
        service = service_for(service_id)
        body = decode_hook_body(await read_body(request, settings.max_body_bytes), body_reader)
        hook_request = parse_hook_request(service, body, note)
        prefetched, result = await answer(
            service,
            hook_request,
            kb=kb,
            fhir=request.app.state.fhir,
            settings=settings,
            now=started_at,
            knowledge_url=public_base(request, settings) + KNOWLEDGE_PATH,
            smart_launch_url=smart_launch_url(request, settings),
        )
        note.prefetch = prefetched.status
        note.cards = result.cards
        latency_ms = (time.perf_counter() - started) * 1000
        store: AuditStore | None = request.app.state.store
        if store is not None:
            record = InvocationAudit(
                hook_instance=hook_request.hookInstance,
                service_id=service.id,
                hook=service.hook,
                patient_id=hook_request.patient_id,
                knowledge_version=kb.version,
                started_at=started_at,
                latency_ms=latency_ms,
                status=200,
                cards=result.cards,
            )
            # Queued for the writer task (one transaction per batch), after the answer is built.
            await request.app.state.audit_writer.submit(record)
        return json_response(result.response)

    @app.post(
        "/cds-services/{service_id}/feedback",
        tags=["CDS Hooks"],
        summary="Feedback on cards (accepted or overridden)",
        openapi_extra=feedback_request_schema(),
    )
    async def feedback(service_id: str, request: Request) -> Response:
        await authenticate(request)
        service = service_for(service_id)
        body = decode_json(await read_body(request, settings.max_body_bytes))
        try:
            items = FeedbackRequest.model_validate(body).feedback
        except ValidationError as exc:
            raise BadRequest(first_error(exc)) from exc
        store: AuditStore | None = request.app.state.store
        if store is not None:
            # A 200 means the rows are committed; ServiceUnavailable becomes a 503 to retry.
            await store.record_feedback(service.id, items)
        return Response(status_code=200)

    @app.get("/healthz", tags=["Operations"], summary="Liveness: the process answers")
    async def healthz() -> Response:
        return json_response({"status": "ok"})

    install_openapi(app, registry)  # documents every status each route answers

    return app
