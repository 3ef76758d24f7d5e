"""Every defect of mappings/ and hooks/ in one list: what ``cds-service check-knowledge`` reports.

The loader's refusals (the service would not start), the service definitions, every
suggestion built and validated as FHIR R4, and the review-only content checks.
"""

from __future__ import annotations

from pathlib import Path

from cds_service.cards.check import suggestion_problems
from cds_service.errors import KnowledgeError
from cds_service.knowledge import load_knowledge
from cds_service.knowledge.check import content_problems
from cds_service.protocol.services import load_services


def check_knowledge(mappings_dir: Path, hooks_dir: Path) -> list[str]:
    """Every problem found; an empty list means the knowledge base is fit to serve."""
    try:
        kb = load_knowledge(mappings_dir)
    except KnowledgeError as exc:
        return [str(exc)]
    problems: list[str] = []
    try:
        load_services(hooks_dir, kb)
    except KnowledgeError as exc:
        problems.append(str(exc))
    problems += suggestion_problems(kb)
    problems += content_problems(kb)
    return problems
