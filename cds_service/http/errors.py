"""Errors -> responses, in one place: a short FHIR OperationOutcome, never a stack trace.

Every deliberate error (``CDSError``) carries its status and a fixed message; 401s are bare,
with ``WWW-Authenticate: Bearer`` (the reason is logged, never returned); anything unexpected
is logged with its traceback and answered 500 "internal error".
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from cds_service.errors import AuthenticationFailed, CDSError
from cds_service.observability import metrics

logger = logging.getLogger("cds_service")

JSON = "application/json"


def outcome(status: int, code: str, message: str) -> Response:
    """A FHIR OperationOutcome error body (the CDS Hooks 3.0 ballot's recommendation)."""
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": message}],
    }
    return Response(orjson.dumps(body), status_code=status, media_type=JSON)


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AuthenticationFailed)
    async def _unauthorised(request: Request, exc: AuthenticationFailed) -> Response:
        # The authenticator has logged the reason (with iss and aud, never the token).
        metrics.auth_failure(exc.reason)
        return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(CDSError)
    async def _cds_error(request: Request, exc: CDSError) -> Response:
        if exc.status_code >= 500:
            logger.error("%s on %s: %s", type(exc).__name__, request.url.path, exc.message)
        return outcome(exc.status_code, exc.issue_code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return outcome(400, "invalid", "the request is not valid")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not-found", 405: "not-supported"}.get(exc.status_code, "processing")
        response = outcome(exc.status_code, code, str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        logger.error("unexpected error on %s", request.url.path, exc_info=exc)
        return outcome(500, "exception", "internal error")
