"""In-process cost of one hook call, from request bytes to response bytes, against the floor.

``evaluate_bytes`` runs the functions ``app.call_service`` runs (``decode_hook_body``,
``parse_hook_request``, ``answer``, ``json_response``) with complete prefetch, so nothing
awaits I/O; the floor is ``orjson.loads`` of the same bytes, timed in the same loop
(interleaved), so drift on the machine affects both alike.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import orjson

from cds_service.http.app import answer
from cds_service.http.bodies import decode_hook_body, hook_body_reader, parse_hook_request
from cds_service.http.errors import json_response
from cds_service.http.lean_json import HookBodyReader
from cds_service.knowledge import KnowledgeBase
from cds_service.protocol.services import ServiceDefinition
from cds_service.settings import Settings

T = TypeVar("T")


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Drive a coroutine that never suspends (complete prefetch: no I/O) without a loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError("the request needed I/O: its prefetch is not complete")


def evaluate_bytes(
    raw: bytes,
    service: ServiceDefinition,
    kb: KnowledgeBase,
    settings: Settings,
    now: datetime,
    reader: HookBodyReader | None = None,
) -> bytes:
    """Request bytes -> response bytes, exactly as the HTTP handler does it.

    ``reader`` lives as long as a worker: pass the same one for calls from the same "EHR".
    """
    body = decode_hook_body(raw, reader or hook_body_reader(kb))
    request = parse_hook_request(service, body)
    _, result = run_sync(answer(service, request, kb=kb, fhir=None, settings=settings, now=now))
    return bytes(json_response(result.response).body)


@dataclass(frozen=True, slots=True)
class InProcessResult:
    label: str
    hook: str
    observations: int | None
    resources: int
    request_bytes: int
    response_bytes: int
    cards: int
    runs: int
    median_ms: float
    p95_ms: float
    floor_median_ms: float
    floor_p95_ms: float

    @property
    def ratio(self) -> float:
        return self.median_ms / self.floor_median_ms


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def count_resources(raw: bytes) -> int:
    body = orjson.loads(raw)
    total = 0
    for value in (body.get("prefetch") or {}).values():
        if isinstance(value, dict):
            total += len(value.get("entry") or []) if value.get("resourceType") == "Bundle" else 1
    return total


def measure(
    label: str,
    raw: bytes,
    service: ServiceDefinition,
    kb: KnowledgeBase,
    settings: Settings,
    now: datetime,
    *,
    observations: int | None = None,
    budget_seconds: float = 2.0,
    min_runs: int = 30,
    max_runs: int = 3000,
) -> InProcessResult:
    """Time ``evaluate_bytes`` and ``orjson.loads`` on ``raw``, interleaved, over many runs.

    One body reader for the whole series, as a worker answering the same EHR has.
    """
    reader = hook_body_reader(kb)
    response = evaluate_bytes(raw, service, kb, settings, now, reader)  # also the warm-up
    for _ in range(3):
        evaluate_bytes(raw, service, kb, settings, now, reader)
        orjson.loads(raw)
    started = time.perf_counter()
    evaluate_bytes(raw, service, kb, settings, now, reader)
    orjson.loads(raw)
    one = time.perf_counter() - started
    runs = max(min_runs, min(max_runs, int(budget_seconds / max(one, 1e-6))))
    timings: list[float] = []
    floor: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(runs):
        t0 = clock()
        orjson.loads(raw)
        t1 = clock()
        evaluate_bytes(raw, service, kb, settings, now, reader)
        t2 = clock()
        floor.append((t1 - t0) / 1e6)
        timings.append((t2 - t1) / 1e6)
    cards = len(orjson.loads(response)["cards"])
    return InProcessResult(
        label=label,
        hook=service.hook,
        observations=observations,
        resources=count_resources(raw),
        request_bytes=len(raw),
        response_bytes=len(response),
        cards=cards,
        runs=runs,
        median_ms=statistics.median(timings),
        p95_ms=_percentile(timings, 0.95),
        floor_median_ms=statistics.median(floor),
        floor_p95_ms=_percentile(floor, 0.95),
    )
