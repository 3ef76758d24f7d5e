"""The storage commands of ``cds-service``: ``db upgrade``, ``report`` and ``prune``.

``register(app)`` adds them to the main Typer app in ``cli.py``; they read the same ``CDS_``
settings as the service. Errors print one line naming what to fix, never a traceback or a
database message (which could quote stored data).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, TypeVar

import sqlalchemy as sa
import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from cds_service.errors import DatabaseURLError
from cds_service.settings import Settings
from cds_service.store.engine import create_engine
from cds_service.store.migrate import current_revision, head_revision, upgrade
from cds_service.store.report import build_report
from cds_service.store.report_text import render_text
from cds_service.store.retention import prune as prune_rows

T = TypeVar("T")

db_app = typer.Typer(help="Manage the audit database.", no_args_is_help=True)


def _run(work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run ``work`` on an engine for ``CDS_DATABASE_URL``, turning failures into one line."""
    try:
        engine = create_engine(Settings().database_url)
    except DatabaseURLError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc

    async def main() -> T:
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except (sa.exc.SQLAlchemyError, OSError, TimeoutError) as exc:
        typer.echo(f"error: the database is unreachable or failed ({type(exc).__name__})", err=True)
        raise typer.Exit(1) from exc


async def _require_current(engine: AsyncEngine) -> None:
    at, head = await current_revision(engine), head_revision()
    if at != head:
        typer.echo(
            f"error: the database is at revision {at or 'none'}, this version needs {head}; "
            "run `cds-service db upgrade`",
            err=True,
        )
        raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the audit tables (the service also does this when it starts)."""

    async def work(engine: AsyncEngine) -> str | None:
        await upgrade(engine)
        return await current_revision(engine)

    typer.echo(f"database at revision {_run(work)}")


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter("use a date (2026-11-01) or an ISO 8601 date-time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def report(
    since: Annotated[
        str | None,
        typer.Option(help="Only invocations from this date or time on (UTC unless stated)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for tools.")] = False,
) -> None:
    """How clinicians answered the cards: per service and topic, per rule, per suggestion kind."""
    start = _parse_since(since)

    async def work(engine: AsyncEngine) -> str:
        await _require_current(engine)
        result = await build_report(engine, since=start)
        if as_json:
            return json.dumps(result.to_json(), indent=2)
        return render_text(result).rstrip("\n")

    typer.echo(_run(work))


def prune(
    days: Annotated[
        int | None,
        typer.Option(min=1, help="Keep this many days instead of CDS_RETENTION_DAYS."),
    ] = None,
) -> None:
    """Delete invocations and feedback older than the retention period."""
    keep = days if days is not None else Settings().retention_days
    cutoff = datetime.now(UTC) - timedelta(days=keep)

    async def work(engine: AsyncEngine) -> dict[str, int]:
        await _require_current(engine)
        return (await prune_rows(engine, cutoff)).deleted

    deleted = _run(work)
    summary = ", ".join(f"{count} {table}" for table, count in deleted.items())
    typer.echo(f"deleted rows older than {cutoff:%Y-%m-%d %H:%M} UTC: {summary}")


def register(app: typer.Typer) -> None:
    """Add ``db``, ``report`` and ``prune`` to the ``cds-service`` command."""
    app.add_typer(db_app, name="db")
    app.command("report")(report)
    app.command("prune")(prune)
