"""``cds-service check-knowledge`` (a thin command over ``cli.review``, exit 1 on problems) and
``cds-service knowledge export`` (the knowledge pages as files, ``web/knowledge/export.py``)."""

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


EXPORT_EPILOG = """\
Examples:

  cds-service knowledge export --html ./knowledge-0.7.0      # then open ./knowledge-0.7.0/index.html

  cds-service knowledge export --html /tmp/kb --mappings ./my-mappings
"""


def export_command(
    html: Annotated[
        Path,
        typer.Option(
            "--html",
            help="Directory to write the pages to (created when missing).",
            file_okay=False,
        ),
    ],
    mappings: Annotated[
        Path | None, typer.Option(help="Knowledge base directory (default CDS_MAPPINGS_DIR).")
    ] = None,
) -> None:
    """Write the knowledge pages served at /knowledge/ as static HTML files, for review offline.

    Every rule, measure, intervention, safety rule, follow-up and order check, the index, the
    changelog, the citations and the tests; links between them work from the file system.
    """
    from cds_service.errors import KnowledgeError
    from cds_service.knowledge import load_knowledge
    from cds_service.settings import Settings
    from cds_service.web.knowledge.export import export_html

    try:
        kb = load_knowledge(mappings or Settings().mappings_dir)
    except KnowledgeError as exc:
        typer.echo(f"cds-service: cannot load the knowledge base: {exc}", err=True)
        raise typer.Exit(code=2) from None
    try:
        written = export_html(kb, html)
    except OSError as exc:
        typer.echo(f"cds-service: cannot write to {html}: {exc.strerror or exc}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(
        f"knowledge base {kb.version}: {len(written)} files written to {html} "
        f"(open {html / 'index.html'})"
    )


knowledge_app = typer.Typer(
    no_args_is_help=True,
    help="The knowledge base as pages: cds-service knowledge export --html DIR.",
)
knowledge_app.command("export", epilog=EXPORT_EPILOG)(export_command)


def register(app: typer.Typer) -> None:
    app.command("check-knowledge", epilog=EPILOG)(check_knowledge_command)
    app.add_typer(knowledge_app, name="knowledge")
