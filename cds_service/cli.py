"""The ``cds-service`` command line: serve (more commands join as they land)."""

from __future__ import annotations

import typer

from cds_service.knowledge.cli import register as register_knowledge_commands
from cds_service.settings import Settings
from cds_service.store.commands import register as register_storage_commands

app = typer.Typer(
    help="Neurotransmitter CDS Hooks service.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Neurotransmitter CDS Hooks service: serve it, evaluate requests, check the knowledge."""


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Interface to bind (default CDS_HOST, 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port (default CDS_PORT, 8080)."),
    workers: int | None = typer.Option(None, help="Worker processes (default CDS_WORKERS, 1)."),
    reload: bool = typer.Option(False, help="Reload on code changes (development only)."),
) -> None:
    """Run the service under uvicorn.

    Example: cds-service serve --host 127.0.0.1 --port 8080
    """
    import uvicorn

    settings = Settings()
    uvicorn.run(
        "cds_service.asgi:app",
        factory=False,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
        reload=reload,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
    )


# `db upgrade`, `report`, `prune` (implemented in cds_service/store/commands.py).
register_storage_commands(app)
# `check-knowledge` (implemented in cds_service/knowledge/cli.py).
register_knowledge_commands(app)


def main() -> None:
    app()
