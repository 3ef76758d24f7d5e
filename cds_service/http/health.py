"""Operations endpoints: readiness (``/readyz``) and Prometheus metrics (``/metrics``).

Neither needs a token: a load balancer and Prometheus call them from inside the network (put
them behind the ingress's allow-list, see docs/operations.md). Liveness (``/healthz``) stays in
app.py: it says only that the process answers, so a slow database never gets a healthy worker
restarted.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from cds_service.observability import metrics

logger = logging.getLogger(__name__)

# Above the store's own 2 s query timeout, below the probe's (deploy/: timeoutSeconds: 3).
READY_TIMEOUT_SECONDS = 2.5

router = APIRouter(tags=["Operations"])


async def readiness(app: FastAPI) -> tuple[bool, dict[str, str]]:
    """(ready, check -> short result): knowledge loaded, I/O open, database answering."""
    checks: dict[str, str] = {}
    kb = getattr(app.state, "knowledge", None)
    checks["knowledge"] = f"ok ({kb.version})" if kb is not None else "not loaded"
    # The lifespan opens the pooled HTTP client; before that (or after shutdown) calls would fail.
    checks["fhir_client"] = "ok" if getattr(app.state, "fhir", None) is not None else "not started"
    store = getattr(app.state, "store", None)
    if store is None:
        checks["database"] = "not configured"
    else:
        try:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS):
                answered = await store.ready()
        except TimeoutError:
            answered, checks["database"] = False, "timeout"
        except Exception as exc:
            # The exception text may quote the URL (with its password): name the type only.
            logger.warning("readiness: database check failed (%s)", type(exc).__name__)
            answered, checks["database"] = False, "unreachable"
        else:
            checks["database"] = "ok" if answered else "unreachable"
    ready = all(v.startswith("ok") or v == "not configured" for v in checks.values())
    return ready, checks


@router.get(
    "/readyz",
    summary="Readiness: knowledge loaded and database reachable",
    responses={503: {"description": "Not ready; `checks` says which part failed"}},
)
async def readyz(request: Request) -> Response:
    ready, checks = await readiness(request.app)
    body: dict[str, Any] = {"status": "ready" if ready else "not ready", "checks": checks}
    return Response(
        orjson.dumps(body), status_code=200 if ready else 503, media_type="application/json"
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def prometheus_metrics() -> Response:
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)
