"""Serving many calls leaves nothing behind once their audit records are written.

The service runs under uvicorn with what production has on the request path: metrics, the
JSON access log to a file, the audit writer and its SQLite store. Clients on keep-alive
connections (the benchmark's load generator) send a few hundred calls, each with its own
hookInstance as EHRs send them, several at a time so the audit writer batches. Anything kept
per call (a cache keyed by hookInstance or card uuid, a metric label per call, records held by
a handler, audits queued faster than they are written) leaves Python objects behind in
proportion to the calls: the count of live blocks of the interpreter's allocator
(``sys.getallocatedblocks``) after a warm-up and after the calls tells. (``tracemalloc`` would
name the culprit but stalls threads that allocate without the GIL, such as the SQLite
driver's, long enough to time out its writes: use it to investigate, not here.)
"""

from __future__ import annotations

import asyncio
import gc
import logging
import secrets
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from benchmarks.loadgen import run_load
from benchmarks.synthetic import synthetic_request
from cds_service.http.app import create_app
from cds_service.knowledge import KnowledgeBase
from cds_service.observability.logs import JsonFormatter
from cds_service.protocol.services import load_services
from cds_service.settings import PROJECT_ROOT
from tests.conftest import make_settings
from tests.servers import serve_app

SERVICE = "neurotransmitter-patient-view"
PATH = f"/cds-services/{SERVICE}"
WARM_UP = 100
CALLS = 600
CONCURRENCY = 8
# Blocks that may stay behind per call. One call allocates thousands; the smallest thing worth
# keeping per call (its hookInstance string) takes one, an audit record with its cards ~40.
# Measured: 120-200 blocks in all for 300 to 1,200 calls; keeping each hookInstance in a list
# left ~750 for 600 calls and failed.
BLOCKS_PER_CALL = 1


@contextmanager
def production_logging(path: Path) -> Iterator[None]:
    """Logging as the benchmark runs the service: the access log as JSON lines to a file.

    Entered inside the test, after pytest has attached its capture (which keeps every record
    and line for its report) to the root logger and to the loggers that did not propagate then.
    The access lines go to the file alone; every other logger is at WARNING for the while (the
    log guard turned them all to DEBUG, SQLAlchemy's statement log included), so the capture
    holds nothing per call.
    """
    handler = logging.FileHandler(path)
    handler.setFormatter(JsonFormatter())
    access = logging.getLogger("cds_service.access")
    others = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    saved = [(lg, lg.level) for lg in others if isinstance(lg, logging.Logger) and lg is not access]
    for logger, _ in saved:
        logger.setLevel(logging.WARNING)
    level = access.level
    access.setLevel(logging.INFO)
    access.addHandler(handler)
    access.propagate = False
    try:
        yield
    finally:
        access.propagate = True
        access.removeHandler(handler)
        access.setLevel(level)
        handler.close()
        for logger, old in saved:
            logger.setLevel(old)


def _stored(database: Path) -> int:
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM invocations").fetchone()[0])
    finally:
        conn.close()


def _live_blocks() -> int:
    """Live blocks of the interpreter's allocator once the server has settled.

    The last responses reach the client a moment before the server thread has let go of
    their requests (thousands of blocks each): read until two readings agree.
    """
    deadline = time.monotonic() + 10
    gc.collect()
    reading = sys.getallocatedblocks()
    while True:
        time.sleep(0.05)
        gc.collect()
        previous, reading = reading, sys.getallocatedblocks()
        if abs(reading - previous) < 50 or time.monotonic() > deadline:
            return reading


def test_calls_leave_no_memory_behind(tmp_path: Path, kb: KnowledgeBase) -> None:
    database = tmp_path / "audit.db"
    settings = make_settings(
        tmp_path,
        database_url=f"sqlite+aiosqlite:///{database}",
        audit_key=secrets.token_hex(32),
        validate_responses=False,  # production's default
    )
    service = load_services(PROJECT_ROOT / "hooks", kb).services[SERVICE]
    template = orjson.loads(synthetic_request(kb, service, 100))
    sent = 0

    def burst(port: int, count: int) -> None:
        """``count`` calls, then wait (with a deadline) until the writer has stored them all."""
        nonlocal sent
        bodies = [
            orjson.dumps({**template, "hookInstance": f"{sent + n:08d}-0000-4000-8000-{n:012d}"})
            for n in range(count)
        ]
        summary = asyncio.run(
            run_load(
                "127.0.0.1",
                port,
                PATH,
                bodies,
                concurrency=CONCURRENCY,
                duration=120,
                requests=count,
            )
        )
        assert summary["statuses"] == {"200": count}
        sent += count
        deadline = time.monotonic() + 30
        while _stored(database) < sent:
            assert time.monotonic() < deadline, f"audits stored: {_stored(database)} of {sent}"
            time.sleep(0.02)

    app = create_app(settings, knowledge=kb)
    access_log = tmp_path / "access.jsonl"
    with production_logging(access_log), serve_app(app) as url:
        port = int(url.rsplit(":", 1)[1])
        burst(port, WARM_UP)
        before = _live_blocks()
        burst(port, CALLS)
        after = _live_blocks()

    assert _stored(database) == WARM_UP + CALLS
    assert len(access_log.read_text().splitlines()) == WARM_UP + CALLS
    grown = after - before
    assert grown < BLOCKS_PER_CALL * CALLS, f"{grown} blocks stayed behind after {CALLS} calls"
