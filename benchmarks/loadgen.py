"""A bounded HTTP/1.1 load generator: keep-alive connections, pre-built requests, raw sockets.

Run as its own process (``python -m benchmarks.loadgen ...``) so it never shares a GIL with the
server under test. Each of ``--concurrency`` connections sends one request, waits for the whole
response, and sends the next (closed loop). The run stops at ``--requests`` completed requests
or after ``--duration`` seconds, whichever comes first, and prints one JSON object: counts,
errors, throughput, latency percentiles and the generator's own CPU time.

Why not an existing tool: wrk is not on the machine, and Python HTTP clients (httpx, aiohttp)
spend more CPU per request than the servers under test, which on a 2-core machine would
measure the client. uvloop and httptools (both installed with ``uvicorn[standard]``) keep this
client at a few tens of microseconds per request.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httptools
import orjson
import uvloop


def build_request(host: str, port: int, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Content-Type: application/json\r\n"
        "Accept: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body


class _Connection(asyncio.Protocol):
    """One keep-alive connection; ``request`` returns (status, response body length)."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[tuple[int, int]] | None = None
        self.size = 0
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(exc)

    def on_body(self, body: bytes) -> None:
        self.size += len(body)

    def on_message_complete(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self.parser.get_status_code(), self.size))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or ConnectionError("closed by the server"))
        if not self.closed.done():
            self.closed.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    def send(self, payload: bytes) -> asyncio.Future[tuple[int, int]]:
        """Write one request; the future resolves to (status, body length) of its response."""
        assert self.transport is not None
        self.size = 0
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(payload)
        return self.waiter


@dataclass
class _Tally:
    deadline: float
    budget: int
    started: int = 0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    reconnects: int = 0
    response_bytes: int = 0

    def take(self) -> bool:
        if self.started >= self.budget or time.perf_counter() >= self.deadline:
            return False
        self.started += 1
        return True


async def _client(
    host: str,
    port: int,
    payloads: list[bytes],
    offset: int,
    tally: _Tally,
    turn: asyncio.Event,
    next_turn: asyncio.Event,
) -> None:
    loop = asyncio.get_running_loop()
    connection: _Connection | None = None
    index = offset
    # Ramp up: connect only once the previous client has sent its first request, as a
    # client's pool grows when its connections are busy. Opening every connection at the same
    # instant, with all workers idle, lets one uvicorn worker accept them all.
    await turn.wait()
    while tally.take():
        try:
            if connection is None or connection.transport is None or connection.closed.done():
                _, connection = await loop.create_connection(_Connection, host, port)
            payload = payloads[index % len(payloads)]
            index += 1
            began = time.perf_counter()
            waiter = connection.send(payload)
            next_turn.set()
            status, size = await waiter
            tally.latencies.append(time.perf_counter() - began)
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            tally.response_bytes += size
            if status != 200:
                tally.errors += 1
        except (OSError, httptools.HttpParserError, ConnectionError):
            next_turn.set()
            tally.errors += 1
            tally.reconnects += 1
            if connection is not None and connection.transport is not None:
                connection.transport.close()
            connection = None
    next_turn.set()
    if connection is not None and connection.transport is not None:
        connection.transport.close()


def percentile(ordered: list[float], share: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def run_load(
    host: str,
    port: int,
    path: str,
    bodies: list[bytes],
    *,
    concurrency: int,
    duration: float,
    requests: int,
) -> dict[str, Any]:
    """Drive the load and summarise it (latencies in milliseconds)."""
    payloads = [build_request(host, port, path, body) for body in bodies]
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    began = time.perf_counter()
    tally = _Tally(deadline=began + duration, budget=requests)
    turns = [asyncio.Event() for _ in range(concurrency + 1)]
    turns[0].set()
    clients = (
        _client(host, port, payloads, i, tally, turns[i], turns[i + 1]) for i in range(concurrency)
    )
    await asyncio.gather(*clients)
    elapsed = time.perf_counter() - began
    usage_after = resource.getrusage(resource.RUSAGE_SELF)
    ordered = sorted(tally.latencies)
    done = len(ordered)
    return {
        "concurrency": concurrency,
        "requests": done,
        "errors": tally.errors,
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "elapsed_s": elapsed,
        "stopped_by": "requests" if tally.started >= requests else "duration",
        "rps": done / elapsed if elapsed else 0.0,
        "p50_ms": percentile(ordered, 0.50) * 1000,
        "p95_ms": percentile(ordered, 0.95) * 1000,
        "p99_ms": percentile(ordered, 0.99) * 1000,
        "max_ms": (ordered[-1] * 1000) if ordered else float("nan"),
        "response_bytes": tally.response_bytes,
        "client_cpu_s": (usage_after.ru_utime - usage_before.ru_utime)
        + (usage_after.ru_stime - usage_before.ru_stime),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--body", type=Path, action="append", required=True, help="repeatable")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--requests", type=int, default=10_000)
    args = parser.parse_args(argv)
    bodies = [path.read_bytes() for path in args.body]
    summary = uvloop.run(
        run_load(
            args.host,
            args.port,
            args.path,
            bodies,
            concurrency=args.concurrency,
            duration=args.duration,
            requests=args.requests,
        )
    )
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")


if __name__ == "__main__":
    main()
