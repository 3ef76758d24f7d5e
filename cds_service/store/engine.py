"""One async engine per process, tuned per backend for durability and concurrency.

SQLite (the embedded default):
- WAL journal, so readers never block the writer and the report can run beside the service;
- ``synchronous=FULL``: every commit fsyncs the WAL, so an acknowledged feedback survives not
  only a killed process (which WAL with ``NORMAL`` already guarantees) but also a power cut;
- write transactions start with ``BEGIN IMMEDIATE`` and wait up to ``busy_timeout`` for the
  lock, so several workers on one file queue up instead of failing with "database is locked"
  when a read transaction tries to become a write transaction;
- ``foreign_keys=ON`` so the declared cascades hold.

PostgreSQL (``postgresql+asyncpg://``): short connect timeouts so a dead database turns into
a quick 503, and ``pool_pre_ping`` so the pool recovers after a database restart.

Both hide statement parameters from logs and error messages: they may hold a clinician's
comment.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cds_service.errors import DatabaseURLError

SQLITE_BUSY_TIMEOUT_MS = 5000
# How long a starting worker waits for another worker's schema upgrade (SQLite): an upgrade
# on a loaded machine takes longer than one write, and a worker that gives up fails to start.
SQLITE_MIGRATION_TIMEOUT_MS = 120_000
# One attempt to switch a new file to WAL (see ``_use_wal``).
_WAL_SWITCH_WAIT_MS = 50
CONNECT_TIMEOUT_S = 5.0
# The longest one write transaction may take, waits for a connection or a lock included
# (above SQLite's busy timeout, so a lock wait fails there first, with its own error).
TRANSACTION_TIMEOUT_S = 10.0

# Execution option: how a SQLite transaction begins ("IMMEDIATE" for writes, "DEFERRED" for
# reads). Ignored on PostgreSQL, whose MVCC needs no such hint.
SQLITE_BEGIN = "sqlite_begin"
READ_ONLY = {SQLITE_BEGIN: "DEFERRED"}


def backend(url: str) -> str:
    """``sqlite`` or ``postgresql``; anything else is refused with the variable's name."""
    try:
        name = make_url(url).get_backend_name()
    except sa.exc.ArgumentError as exc:
        raise DatabaseURLError("CDS_DATABASE_URL is not a valid database URL") from exc
    if name not in ("sqlite", "postgresql"):
        raise DatabaseURLError(
            "CDS_DATABASE_URL must be sqlite+aiosqlite://... or postgresql+asyncpg://..."
        )
    return name


def create_engine(url: str) -> AsyncEngine:
    """Build the engine for ``CDS_DATABASE_URL``; connects lazily."""
    if backend(url) == "sqlite":
        return _sqlite_engine(url)
    return create_async_engine(
        url,
        hide_parameters=True,
        pool_pre_ping=True,
        pool_timeout=10,
        connect_args={
            "timeout": CONNECT_TIMEOUT_S,
            "server_settings": {"application_name": "cds-service"},
        },
    )


def migration_engine(engine: AsyncEngine) -> AsyncEngine:
    """The engine to run a schema upgrade with: on a SQLite file, a separate one whose
    connections wait for the lock as long as an upgrade may take; otherwise ``engine``
    (PostgreSQL's advisory lock already waits without a timeout)."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return engine
    return _sqlite_engine(
        url.render_as_string(hide_password=False), busy_timeout_ms=SQLITE_MIGRATION_TIMEOUT_MS
    )


def _sqlite_engine(url: str, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> AsyncEngine:
    engine = create_async_engine(
        url, hide_parameters=True, connect_args={"timeout": busy_timeout_ms / 1000}
    )

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN out of the sqlite3 module's hands (its legacy mode defers it and then
        # fails to upgrade read locks); ``_on_begin`` below emits the right one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        _use_wal(cursor, busy_timeout_ms)
        for pragma in (
            f"PRAGMA busy_timeout={busy_timeout_ms}",
            "PRAGMA synchronous=FULL",
            "PRAGMA foreign_keys=ON",
        ):
            cursor.execute(pragma)
        cursor.close()

    @sa.event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN, "IMMEDIATE")
        conn.exec_driver_sql("BEGIN DEFERRED" if mode == "DEFERRED" else "BEGIN IMMEDIATE")

    return engine


def _use_wal(cursor: Any, timeout_ms: int) -> None:
    """Put the file in WAL mode (a persistent property of the file: one switch lasts).

    Connections opening a new file at once race to switch it: each holds the read lock the
    other's switch must wait out, so SQLite fails one at once and may keep the other waiting
    out its whole busy timeout. Hence: read the mode first (a file already in WAL needs no
    lock), and switch with a short busy timeout, again until ``timeout_ms`` has passed.
    """
    cursor.execute("PRAGMA journal_mode")
    if cursor.fetchone()[0] == "wal":
        return
    deadline = time.monotonic() + timeout_ms / 1000
    cursor.execute(f"PRAGMA busy_timeout={_WAL_SWITCH_WAIT_MS}")
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
