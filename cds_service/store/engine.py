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

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cds_service.errors import DatabaseURLError

SQLITE_BUSY_TIMEOUT_MS = 5000
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


def _sqlite_engine(url: str) -> AsyncEngine:
    engine = create_async_engine(
        url, hide_parameters=True, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    )

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN out of the sqlite3 module's hands (its legacy mode defers it and then
        # fails to upgrade read locks); ``_on_begin`` below emits the right one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",  # first: switching to WAL may wait
            "PRAGMA journal_mode=WAL",
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
