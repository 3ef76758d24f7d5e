"""Prometheus metrics: every counter the service exposes at ``GET /metrics`` lives here.

Other modules report through the small functions below (``auth_failure(reason)``,
``audit_write_failure()``...), never through prometheus_client directly, so names, labels and
their bounded value sets stay in one place. Label values that come from outside (a service id
in a URL, a failure reason) are clamped so a caller cannot grow the number of series.

Several worker processes: prometheus_client's multiprocess mode is used when the environment
variable ``PROMETHEUS_MULTIPROC_DIR`` names a writable directory *before* this module is first
imported (``cds-service serve --workers N`` sets one up; see docs/operations.md). Each worker
then writes its values to files there and ``/metrics`` sums them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from cds_service.cards.record import CardAudit

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# `*_created` timestamps double the series count and no dashboard of ours reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

# A hook call should answer in well under a second (the spec: "on the order of 500 ms").
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HOOK_REQUESTS = Counter(
    "cds_hook_requests",
    "CDS service calls (POST /cds-services/{id}) by service, hook and HTTP status.",
    ["service", "hook", "status"],
)
HOOK_LATENCY = Histogram(
    "cds_hook_request_duration_seconds",
    "Time to answer a CDS service call, body read to last byte sent.",
    ["service", "hook"],
    buckets=_LATENCY_BUCKETS,
)
HTTP_REQUESTS = Counter(
    "cds_http_requests",
    "Every HTTP request by endpoint (discovery, service, feedback, health, metrics, docs, "
    "knowledge, preflight, other) and status.",
    ["endpoint", "status"],
)
CARDS = Counter(
    "cds_cards",
    "Cards returned, by service, indicator and topic (pathway or safety rule family).",
    ["service", "indicator", "topic"],
)
PREFETCH_KEYS = Counter(
    "cds_prefetch_keys",
    "Prefetch keys by where their data came from: prefetched, null, fetched (from the FHIR "
    "server), client-failed, failed, unavailable.",
    ["service", "key", "source"],
)
FHIR_FETCH_LATENCY = Histogram(
    "cds_fhir_fetch_duration_seconds",
    "Time for one HTTP request (a read or one search page) to the EHR's FHIR server.",
    buckets=_LATENCY_BUCKETS,
)
FHIR_FETCH_ERRORS = Counter(
    "cds_fhir_fetch_errors",
    "Failed HTTP requests to the EHR's FHIR server by kind (timeout, connect, status-NNN, "
    "decode, not-fhir, outcome, cancelled: the call's prefetch deadline passed).",
    ["kind"],
)
AUTH_FAILURES = Counter(
    "cds_auth_failures",
    "Rejected calls by authentication failure reason.",
    ["reason"],
)
AUDIT_WRITE_FAILURES = Counter(
    "cds_audit_write_failures",
    "Audit records that could not be written (the call itself was answered).",
)
KNOWLEDGE_INFO = Gauge(
    "cds_knowledge_info",
    "The knowledge-base version loaded (value is always 1).",
    ["version"],
    multiprocess_mode="max",
)

_LABEL = re.compile(r"[^A-Za-z0-9_.:-]")
_LABEL_MAX = 64


def clamp(value: object, default: str = "unknown") -> str:
    """A label value from outside input: short, plain characters only."""
    text = _LABEL.sub("_", str(value))[:_LABEL_MAX]
    return text or default


def hook_call(service: str, hook: str, status: int, seconds: float) -> None:
    HOOK_REQUESTS.labels(service, hook, str(status)).inc()
    HOOK_LATENCY.labels(service, hook).observe(seconds)


def http_request(endpoint: str, status: int) -> None:
    HTTP_REQUESTS.labels(endpoint, str(status)).inc()


def cards(service: str, rendered: Iterable[CardAudit]) -> None:
    for card in rendered:
        CARDS.labels(service, card.indicator, clamp(card.topic)).inc()


def prefetch(service: str, sources: dict[str, str]) -> None:
    """Count each prefetch key of one call by where its data came from."""
    for key, source in sources.items():
        PREFETCH_KEYS.labels(service, clamp(key), source).inc()


def fhir_fetch(seconds: float, error_kind: str | None = None) -> None:
    FHIR_FETCH_LATENCY.observe(seconds)
    if error_kind is not None:
        FHIR_FETCH_ERRORS.labels(clamp(error_kind)).inc()


def auth_failure(reason: str) -> None:
    """Count a rejected call; ``reason`` is the short code the authenticator logs."""
    AUTH_FAILURES.labels(clamp(reason)).inc()


def audit_write_failure() -> None:
    AUDIT_WRITE_FAILURES.inc()


def knowledge_loaded(version: str) -> None:
    KNOWLEDGE_INFO.labels(clamp(version)).set(1)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def exposition() -> tuple[bytes, str]:
    """The current metrics in the Prometheus text format, summed over workers if several."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
