"""The companion app's routes: ``/app/launch``, ``/app/callback``, its stylesheet, dev mode.

Every launch decision is made here, in this order: ``iss`` on the allow-list (before any
request to it), SMART discovery, PKCE and ``state`` sealed into a cookie, the EHR's authorize
endpoint; back at the callback: the cookie opened, ``state`` matched and used once, the code
exchanged, the record read with the token, the page rendered, the token dropped. Refusals are
short HTML pages (``AppRefused``); every response carries ``Cache-Control: no-store`` and a
Content-Security-Policy without inline script or style.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from cds_service.errors import AppRefused, ServiceUnavailable
from cds_service.fetch.fhir_client import FhirClient
from cds_service.knowledge import KnowledgeBase
from cds_service.protocol.services import ServiceDefinition
from cds_service.security.replay import MemoryReplayCache
from cds_service.settings import Settings
from cds_service.store.records import AppOpenAudit, AuditStore
from cds_service.web.assets import stylesheet
from cds_service.web.smart.gather import PatientData, evaluate_record, read_record
from cds_service.web.smart.oauth import authorize_url, discover, exchange
from cds_service.web.smart.page import (
    LaunchContext,
    build_page,
    parse_app_context,
    render_message,
    render_page,
)
from cds_service.web.smart.state import (
    STATE_TTL_SECONDS,
    LaunchState,
    StateSealer,
    cookie_name,
    new_state,
    new_verifier,
    pkce_challenge,
)

logger = logging.getLogger(__name__)

APP_PREFIX = "/app"
LAUNCH_PATH = f"{APP_PREFIX}/launch"
CALLBACK_PATH = f"{APP_PREFIX}/callback"
DEV_PATH = f"{APP_PREFIX}/dev"
STYLESHEET_PATH = f"{APP_PREFIX}/static/smart.css"
MAX_LAUNCH_PARAM = 2048


@dataclass(frozen=True, slots=True)
class DevTarget:
    """``cds-service app``: one patient of an open FHIR server, read without a token."""

    fhir_server: str
    patient_id: str


def public_base(request: Request, settings: Settings) -> str:
    """The service's base URL as browsers and EHRs reach it (``CDS_PUBLIC_BASE_URL``)."""
    if settings.public_base_url:
        return settings.public_base_url
    return str(request.base_url).rstrip("/")


def security_headers(frame_ancestors: str) -> dict[str, str]:
    return {
        # The page holds patient data: no cache, shared or private, may keep it.
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        "Content-Security-Policy": (
            "default-src 'none'; style-src 'self'; img-src 'self' data:; "
            f"form-action 'none'; base-uri 'none'; frame-ancestors {frame_ancestors}"
        ),
        "X-Content-Type-Options": "nosniff",
        # The callback URL carries the authorization code: never send it to a cited source.
        "Referrer-Policy": "no-referrer",
    }


class SmartApp:
    """The app's state for one FastAPI app: settings, sealing key, used ``state`` values."""

    def __init__(self, settings: Settings, kb: KnowledgeBase, dev: DevTarget | None) -> None:
        self.settings = settings
        self.kb = kb
        self.dev = dev
        self.headers = security_headers(settings.smart_frame_ancestors)
        self.allowed = frozenset(settings.smart_iss_allowed)
        self.sealer = StateSealer(settings.smart_state_key) if settings.smart_enabled else None
        self.used_states = MemoryReplayCache()
        self.stylesheet = stylesheet("smart")

    # -- responses ------------------------------------------------------------------------

    def html(self, body: str, status: int = 200) -> Response:
        return Response(
            body, status_code=status, media_type="text/html; charset=utf-8", headers=self.headers
        )

    def refused(self, refusal: AppRefused) -> Response:
        logger.info("SMART app refused: %s", refusal.reason)
        return self.html(
            render_message(refusal.title, refusal.message, status=refusal.status), refusal.status
        )

    # -- launch -------------------------------------------------------------------------------

    async def launch(self, request: Request) -> Response:
        try:
            return await self._launch(request)
        except AppRefused as refusal:
            return self.refused(refusal)

    async def _launch(self, request: Request) -> Response:
        assert self.sealer is not None and self.settings.smart_client_id is not None
        iss = request.query_params.get("iss", "")
        launch = request.query_params.get("launch", "")
        if not iss or not launch or len(iss) > MAX_LAUNCH_PARAM or len(launch) > MAX_LAUNCH_PARAM:
            raise AppRefused(
                400,
                "Open the app from the EHR",
                "This address is opened by the EHR when you click a card's link; it needs the "
                "EHR's launch parameters.",
                reason="no-launch-parameters",
            )
        iss = iss.rstrip("/")
        if iss not in self.allowed:
            # Nothing is fetched from an iss we do not know.
            raise AppRefused(
                403,
                "This EHR is not registered with the app",
                "The app was opened from an EHR it does not know, so it did not connect to it. "
                "If this EHR should be allowed, ask the team that runs this service to add its "
                "FHIR address to CDS_SMART_ISS_ALLOWED.",
                reason="unknown-iss",
            )
        config = await discover(request.app.state.http_client, iss)
        state, verifier = new_state(), new_verifier()
        redirect_uri = public_base(request, self.settings) + CALLBACK_PATH
        sealed = self.sealer.seal(
            LaunchState(
                state=state,
                verifier=verifier,
                iss=iss,
                token_endpoint=config.token_endpoint,
                redirect_uri=redirect_uri,
                expires_at=time.time() + STATE_TTL_SECONDS,
            )
        )
        target = authorize_url(
            config,
            client_id=self.settings.smart_client_id,
            redirect_uri=redirect_uri,
            launch=launch,
            state=state,
            challenge=pkce_challenge(verifier),
            iss=iss,
        )
        response = Response(status_code=302, headers={**self.headers, "Location": target})
        secure = redirect_uri.startswith("https://")
        response.set_cookie(
            cookie_name(state),
            sealed,
            max_age=STATE_TTL_SECONDS,
            path=_cookie_path(redirect_uri),
            httponly=True,
            secure=secure,
            # EHRs open apps in an iframe: there only SameSite=None (with Secure, partitioned
            # per embedding site) reaches the callback. Plain http (development) keeps Lax.
            samesite="none" if secure else "lax",
            partitioned=secure,
        )
        return response

    # -- callback -----------------------------------------------------------------------------

    async def callback(self, request: Request) -> Response:
        assert self.sealer is not None
        state = request.query_params.get("state", "")
        name = cookie_name(state)
        path = _cookie_path(public_base(request, self.settings) + CALLBACK_PATH)
        try:
            response = await self._callback(request, state, name)
        except AppRefused as refusal:
            response = self.refused(refusal)
        # Whatever happened, this launch is over.
        if name in request.cookies:
            response.delete_cookie(name, path=path)
        return response

    async def _callback(self, request: Request, state: str, name: str) -> Response:
        assert self.sealer is not None and self.settings.smart_client_id is not None
        sealed = request.cookies.get(name, "")
        launch = self.sealer.open(sealed, now=time.time()) if state and sealed else None
        if launch is None or not hmac.compare_digest(launch.state, state):
            raise AppRefused(
                400,
                "This launch is not valid any more",
                "The app could not match this sign-in to a launch from this browser: it has "
                f"expired (after {STATE_TTL_SECONDS // 60} minutes), was already used, or was "
                "not started here. Open the app again from the card.",
                reason="state-unknown",
            )
        if not await self.used_states.first_use(launch.iss, state, launch.expires_at):
            raise AppRefused(
                400,
                "This launch was already used",
                "Each sign-in opens the page once. Open the app again from the card.",
                reason="state-replayed",
            )
        error = request.query_params.get("error")
        if error is not None:
            shown = error if error.isascii() and error.replace("_", "").isalpha() else "error"
            raise AppRefused(
                403,
                "The EHR did not authorise the app",
                f"The EHR answered “{shown[:40]}”. Open the app again from the card; if it "
                "keeps happening, tell the team that runs the EHR integration.",
                reason="authorize-error",
            )
        code = request.query_params.get("code", "")
        if not code or len(code) > MAX_LAUNCH_PARAM:
            raise AppRefused(
                400,
                "The EHR sent no authorization",
                "The sign-in came back without an authorization code. Open the app again.",
                reason="no-code",
            )
        grant = await exchange(
            request.app.state.http_client,
            token_endpoint=launch.token_endpoint,
            code=code,
            verifier=launch.verifier,
            redirect_uri=launch.redirect_uri,
            client_id=self.settings.smart_client_id,
            client_secret=self.settings.smart_client_secret,
        )
        context = parse_app_context(grant.app_context, self.kb)
        data = await self._read(
            request,
            fhir_server=launch.iss,
            token=grant.access_token.get_secret_value(),
            patient_id=grant.patient,
        )
        del grant  # the token is not needed past the reads
        response = await self._page(data, context)
        await self._audit(request, context)
        return response

    # -- dev mode -------------------------------------------------------------------------------

    async def dev_page(self, request: Request) -> Response:
        assert self.dev is not None
        try:
            data = await self._read(
                request,
                fhir_server=self.dev.fhir_server,
                token=None,
                patient_id=self.dev.patient_id,
            )
            return await self._page(data, LaunchContext(None, ()), dev_mode=True)
        except AppRefused as refusal:
            return self.refused(refusal)

    # -- shared -------------------------------------------------------------------------------

    async def _read(
        self, request: Request, *, fhir_server: str, token: str | None, patient_id: str
    ) -> PatientData:
        fhir: FhirClient | None = request.app.state.fhir
        service = _patient_view_service(request)
        if fhir is None or service is None:
            raise AppRefused(
                503, "The app is starting", "Try again in a moment.", reason="not-ready"
            )
        settings = self.settings
        prefetch = await read_record(
            fhir,
            service,
            fhir_server=fhir_server,
            token=token,
            patient_id=patient_id,
            client_id=settings.smart_client_id,
            total_timeout=settings.fhir_read_timeout + settings.fhir_connect_timeout,
        )
        now = datetime.now(UTC)
        # The engine and the charts are CPU work (~0.1-0.5 s): off the event loop that serves
        # the hook calls.
        return await asyncio.to_thread(
            evaluate_record, prefetch, self.kb, patient_id=patient_id, now=now
        )

    async def _page(
        self, data: PatientData, context: LaunchContext, *, dev_mode: bool = False
    ) -> Response:
        now = datetime.now(UTC)

        def render() -> str:
            return render_page(
                build_page(data, self.kb, context=context, now=now, dev_mode=dev_mode)
            )

        return self.html(await asyncio.to_thread(render))

    async def _audit(self, request: Request, context: LaunchContext) -> None:
        store: AuditStore | None = request.app.state.store
        if store is None:
            return
        record = AppOpenAudit(
            opened_at=datetime.now(UTC),
            card_uuid=context.card,
            rule_ids=context.rules,
            knowledge_version=self.kb.version,
        )
        # A failure is already logged by the store; the clinician still gets the page.
        with suppress(ServiceUnavailable):
            await store.record_app_open(record)


def _patient_view_service(request: Request) -> ServiceDefinition | None:
    registry = request.app.state.registry
    return next((s for s in registry.services.values() if s.hook == "patient-view"), None)


def _cookie_path(redirect_uri: str) -> str:
    """The directory of the callback (``/app/``, or ``/prefix/app/`` behind a proxy)."""
    path = urlsplit(redirect_uri).path
    return path.rsplit("/", 1)[0] + "/"


def install_smart_app(app: FastAPI, settings: Settings, *, dev: DevTarget | None = None) -> None:
    """Add the app's routes to ``app``. Called only when the app is on (or in dev mode)."""
    smart = SmartApp(settings, app.state.knowledge, dev)
    router = APIRouter(include_in_schema=False)

    async def serve_stylesheet() -> Response:
        return Response(
            smart.stylesheet,
            media_type="text/css; charset=utf-8",
            headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
        )

    router.add_api_route(STYLESHEET_PATH, serve_stylesheet, methods=["GET"])
    if settings.smart_enabled:
        router.add_api_route(LAUNCH_PATH, smart.launch, methods=["GET"])
        router.add_api_route(CALLBACK_PATH, smart.callback, methods=["GET"])
    if dev is not None:
        router.add_api_route(DEV_PATH, smart.dev_page, methods=["GET"])
    app.include_router(router)
