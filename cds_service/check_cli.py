"""``cds-service check-knowledge``: the checks the service runs at start-up, and more, on demand.

It loads ``mappings/`` and ``hooks/`` exactly as the service does and builds every suggestion
the knowledge base can produce (one draft MedicationRequest per intervention, one
ServiceRequest per lab order), validating each as FHIR R4. When the knowledge package provides
``knowledge.check.check_knowledge`` (a review that covers these checks and more), its list of
problems is the one reported.
"""

from __future__ import annotations

from collections.abc import Callable
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


def _full_check() -> Callable[[Path, Path], list[str]] | None:
    try:
        from cds_service.knowledge import check  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return None
    found: Callable[[Path, Path], list[str]] | None = getattr(check, "check_knowledge", None)
    return found


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
    full_check = _full_check()
    if full_check is not None and summary is not None:
        # The knowledge package's own review covers the basic checks and more; one list.
        problems = full_check(mappings_dir, hooks_dir)
    for problem in problems:
        typer.echo(f"problem: {problem}", err=True)
    if problems:
        typer.echo(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found", err=True)
        raise typer.Exit(1)
    typer.echo(f"ok: {summary}")
