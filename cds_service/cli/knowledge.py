"""``cds-service check-knowledge``: a thin command over ``cli.review`` (exit 1 on problems)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def check_knowledge_command(
    mappings: Annotated[
        Path | None, typer.Option(help="Knowledge base directory (default CDS_MAPPINGS_DIR).")
    ] = None,
    hooks: Annotated[
        Path | None, typer.Option(help="Service definitions directory (default CDS_HOOKS_DIR).")
    ] = None,
    verbose: Annotated[
        bool, typer.Option(help="Also list codes and citations not yet verified.")
    ] = False,
) -> None:
    """Validate mappings/ and hooks/ as the service does at start-up, and more; exit 1 on any problem."""
    from cds_service.cli.review import check_knowledge
    from cds_service.knowledge import load_knowledge
    from cds_service.knowledge.check import unverified
    from cds_service.settings import Settings

    settings = Settings()
    mappings_dir = mappings or settings.mappings_dir
    problems = check_knowledge(mappings_dir, hooks or settings.hooks_dir)
    for problem in problems:
        typer.echo(f"problem: {problem}", err=True)
    if problems:
        raise typer.Exit(code=1)
    kb = load_knowledge(mappings_dir)
    typer.echo(
        f"knowledge base {kb.version}: {len(kb.measures)} measures, {len(kb.pathways)} pathways, "
        f"{len(kb.interventions)} interventions, {len(kb.rules)} rules, {len(kb.safety_rules)} "
        f"safety rules, {len(kb.citations)} citations: no problem found"
    )
    if verbose:
        for item in unverified(kb):
            typer.echo(f"to verify: {item}")


EPILOG = """\
Examples:

  cds-service check-knowledge

  cds-service check-knowledge --verbose              # also what is still to verify

  cds-service check-knowledge --mappings ./my-mappings --hooks ./hooks
"""


def register(app: typer.Typer) -> None:
    app.command("check-knowledge", epilog=EPILOG)(check_knowledge_command)
