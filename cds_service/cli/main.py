"""The ``cds-service`` command line: serve, evaluate, check-knowledge, knowledge export, db,
report, prune."""

from __future__ import annotations

import typer

from cds_service.cli import evaluate as evaluate_cli
from cds_service.cli.knowledge import register as register_knowledge_commands
from cds_service.cli.store import register as register_storage_commands

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root() -> None:
    """Neurotransmitter CDS Hooks service: serve it, evaluate requests, check the knowledge.

    Settings come from CDS_* environment variables (see docs/operations.md). Start with: cds-service evaluate examples/*.json
    """


SERVE_EPILOG = """\
Examples:

  CDS_AUTH=off cds-service serve --reload     # local development, no tokens

  cds-service serve --host 0.0.0.0 --port 8080 --workers 4
"""


@app.command(epilog=SERVE_EPILOG)
def serve(
    host: str | None = typer.Option(None, help="Interface to bind (default CDS_HOST, 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port (default CDS_PORT, 8080)."),
    workers: int | None = typer.Option(
        None, min=1, help="Worker processes (default CDS_WORKERS, 1)."
    ),
    reload: bool = typer.Option(False, help="Reload on code changes (development only; 1 worker)."),
) -> None:
    """Run the service under uvicorn, with one JSON log line per request on stdout.

    With several workers, metrics are summed across them through PROMETHEUS_MULTIPROC_DIR (a temporary directory unless you set one).
    """
    from cds_service.cli.preflight import check_configuration
    from cds_service.cli.serving import serve as run
    from cds_service.errors import ConfigurationError

    try:
        settings = check_configuration()
    except ConfigurationError as exc:
        typer.echo(f"cds-service: cannot start: {exc}", err=True)
        raise typer.Exit(2) from None
    run(
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
        reload=reload,
        log_level=settings.log_level,
    )


APP_EPILOG = """\
Examples:

  cds-service app --fhir-server https://r4.smarthealthit.org --patient PATIENT_ID

  cds-service app --fhir-server http://127.0.0.1:8081/fhir --patient pat-1 --port 8090
"""


@app.command("app", epilog=APP_EPILOG)
def smart_app(
    fhir_server: str = typer.Option(..., help="Base URL of an open FHIR R4 server (no token)."),
    patient: str = typer.Option(..., help="The patient's id on that server."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind (keep it local)."),
    port: int = typer.Option(8090, help="Port of the page."),
) -> None:
    """Show the SMART app's page (trends and reasoning) for one patient of an open FHIR server.

    Development and demos against public test data only: the server is read without
    authorisation and no SMART launch takes place. Opens nothing itself: it prints the URL.
    """
    from cds_service.cli.dev_app import run_dev_app

    raise typer.Exit(run_dev_app(fhir_server=fhir_server, patient=patient, host=host, port=port))


app.command(epilog=evaluate_cli.EPILOG)(evaluate_cli.evaluate)
# `db upgrade`, `report`, `prune` (implemented in cds_service/store/commands.py).
register_storage_commands(app)
# `check-knowledge` and `knowledge export` (cds_service/cli/knowledge.py).
register_knowledge_commands(app)


def main() -> None:
    app()
