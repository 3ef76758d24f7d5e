"""``cds-service evaluate``: cards for a request or a patient Bundle, offline, in the terminal."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

EPILOG = """\
Examples:

  cds-service evaluate examples/*.json

  cds-service evaluate examples/order-sign-5htp-on-phenelzine.json --json

  cds-service evaluate ../shared/testdata/synthea/Some_Patient.json --hook order-sign

  cat request.json | cds-service evaluate -
"""


class Hook(StrEnum):
    patient_view = "patient-view"
    order_select = "order-select"
    order_sign = "order-sign"


def evaluate(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="CDS Hooks request JSON files or FHIR Bundles of one patient ('-' reads stdin).",
            show_default=False,
        ),
    ],
    hook: Annotated[
        Hook | None,
        typer.Option(
            help="For a FHIR Bundle: the hook to simulate (default patient-view). Order hooks "
            "check the Bundle's draft orders, or its most recent active prescription."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the raw CDS Hooks response instead.")
    ] = False,
    at: Annotated[
        str | None,
        typer.Option(
            help="Evaluate as of this date (YYYY-MM-DD); default: the date an example file "
            "names, else today.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Evaluate requests offline and print the cards a clinician would see.

    Each FILE is either a CDS Hooks request (as an EHR sends it, with its data in prefetch) or a FHIR Bundle of one patient, from which the request is built. Nothing is fetched from the network.

    Exits 1, with one line per file on stderr, when a file cannot be evaluated.
    """
    from rich.console import Console

    from cds_service.cli.offline import prepare, read_json, run
    from cds_service.cli.render import render_outcome
    from cds_service.errors import InputError, KnowledgeError
    from cds_service.knowledge import load_knowledge
    from cds_service.protocol.services import load_services
    from cds_service.settings import Settings

    now = _parse_day(at) if at else None
    settings = Settings()
    try:
        kb = load_knowledge(settings.mappings_dir)
        registry = load_services(settings.hooks_dir, kb)
    except KnowledgeError as exc:
        typer.echo(f"error: the knowledge base does not load: {exc}", err=True)
        raise typer.Exit(2) from exc

    console = Console(soft_wrap=False)
    responses: dict[str, object] = {}
    failed = 0
    for path in files:
        name = "<stdin>" if str(path) == "-" else str(path)
        try:
            document = json.load(sys.stdin) if str(path) == "-" else read_json(path)
            prepared = prepare(document, registry, hook.value if hook else None)
            outcome = run(prepared, kb, now)
        except json.JSONDecodeError:
            failed += 1
            typer.echo(f"error: {name}: not valid JSON", err=True)
            continue
        except InputError as exc:
            failed += 1
            typer.echo(f"error: {name}: {exc}", err=True)
            continue
        if as_json:
            responses[name] = outcome.evaluation.response
        else:
            render_outcome(console, name, outcome)
        if outcome.problems:
            failed += 1
    if as_json and responses:
        single = len(files) == 1
        document = next(iter(responses.values())) if single else responses
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
    if failed:
        raise typer.Exit(1)


def _parse_day(value: str) -> datetime:
    try:
        day = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter("use a date such as 2026-11-27", param_hint="--at") from exc
    if day.tzinfo is None:
        day = day.replace(hour=12, tzinfo=UTC) if len(value) <= 10 else day.replace(tzinfo=UTC)
    return day
