"""``cds-service app``: the SMART app's page for one patient of an open FHIR server.

For development and demos against public test data: no launch, no token, nothing stored. The
service runs with its usual settings (its audit database included) plus one extra route,
``/app/dev``, that reads the given patient from the given server.
"""

from __future__ import annotations

import re

import typer

# An open FHIR server's patient id goes into a URL path: FHIR ids only (R4 §2.1.27.1).
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def run_dev_app(*, fhir_server: str, patient: str, host: str, port: int) -> int:
    import uvicorn

    from cds_service.cli.preflight import check_configuration
    from cds_service.errors import ConfigurationError
    from cds_service.http.app import create_app
    from cds_service.observability.logs import configure_logging, log_config
    from cds_service.web.smart import DevTarget

    if not fhir_server.startswith(("http://", "https://")):
        typer.echo("cds-service app: --fhir-server must be an http(s) URL", err=True)
        return 2
    if not _FHIR_ID.match(patient):
        typer.echo(
            "cds-service app: --patient must be a FHIR id (letters, digits, - and .)", err=True
        )
        return 2
    try:
        settings = check_configuration()
    except ConfigurationError as exc:
        typer.echo(f"cds-service app: cannot start: {exc}", err=True)
        return 2
    configure_logging(settings.log_level)
    app = create_app(settings, smart_dev=DevTarget(fhir_server.rstrip("/"), patient))
    typer.echo(f"Trends and reasoning for patient {patient}: http://{host}:{port}/app/dev")
    typer.echo("Development mode: read without authorisation. Ctrl-C stops it.")
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=log_config(settings.log_level),
        log_level=settings.log_level.lower(),
        access_log=False,
    )
    return 0
