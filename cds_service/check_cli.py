"""``cds-service check-knowledge``: the checks the service runs at start-up, and more, on demand.

It runs ``knowledge.check.check_knowledge`` when the knowledge package provides it. Otherwise
(and always, as a floor) it loads ``mappings/`` and ``hooks/`` exactly as the service does and
builds every suggestion the knowledge base can produce (one draft MedicationRequest per
intervention, one ServiceRequest per lab order) and validates each as FHIR R4.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EPILOG = """\
Examples:

  cds-service check-knowledge

  cds-service check-knowledge --mappings ./my-mappings --hooks ./hooks
"""


def basic_checks(mappings: Path, hooks: Path) -> tuple[list[str], str | None]:
    """(problems, one-line summary of what loaded) using the service's own loaders."""
    from cds_service.cards import medication_request, service_request
    from cds_service.errors import KnowledgeError
    from cds_service.knowledge import load_knowledge
    from cds_service.services import load_services
    from cds_service.validate import check_resource

    try:
        kb = load_knowledge(mappings)
    except KnowledgeError as exc:
        return [f"mappings: {exc}"], None
    problems: list[str] = []
    try:
        registry = load_services(hooks, kb)
    except KnowledgeError as exc:
        problems.append(f"hooks: {exc}")
        registry = None
    for intervention in kb.interventions.values():
        resource = medication_request(kb, intervention, "check", "knowledge check")
        problems += [
            f"interventions: {intervention.id}: suggested MedicationRequest: {p}"
            for p in check_resource(resource)
        ]
    for order in kb.lab_orders.values():
        resource = service_request(kb, order, "check")
        problems += [
            f"lab_orders: {order.id}: suggested ServiceRequest: {p}"
            for p in check_resource(resource)
        ]
    services = len(registry.services) if registry else 0
    summary = (
        f"knowledge base {kb.version}: {len(kb.measures)} measures, {len(kb.pathways)} pathways, "
        f"{len(kb.interventions)} interventions, {len(kb.lab_orders)} lab orders, "
        f"{len(kb.safety_rules)} safety rules, {len(kb.citations)} citations; "
        f"{services} services"
    )
    return problems, summary


def check_knowledge(
    mappings: Annotated[
        Path | None,
        typer.Option(help="Knowledge base directory (default CDS_MAPPINGS_DIR, mappings/)."),
    ] = None,
    hooks: Annotated[
        Path | None,
        typer.Option(help="Service definitions directory (default CDS_HOOKS_DIR, hooks/)."),
    ] = None,
) -> None:
    """Validate the knowledge base and the service definitions; exit 1 on any problem.

    Run it before deploying a change to mappings/ or hooks/: the service refuses to start on the same errors, and this names the file and field of each.
    """
    from cds_service.settings import Settings

    settings = Settings()
    mappings_dir = mappings or settings.mappings_dir
    hooks_dir = hooks or settings.hooks_dir
    problems, summary = basic_checks(mappings_dir, hooks_dir)
    if summary is not None:
        try:
            from cds_service.knowledge.check import (  # type: ignore[import-not-found,unused-ignore]
                check_knowledge as full_check,
            )
        except ImportError:
            full_check = None
        if full_check is not None:
            problems += [p for p in full_check(mappings_dir, hooks_dir) if p not in problems]
    for problem in problems:
        typer.echo(f"problem: {problem}", err=True)
    if problems:
        typer.echo(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found", err=True)
        raise typer.Exit(1)
    typer.echo(f"ok: {summary}")
