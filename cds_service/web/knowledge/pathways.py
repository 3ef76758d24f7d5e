"""Page models of pathways: the biology as the knowledge base states it, its markers and
research-only markers, its limitations, and the rules and interventions on it."""

from __future__ import annotations

from dataclasses import dataclass

from cds_service.knowledge import KnowledgeBase
from cds_service.web.knowledge.catalog import INTERVENTION, PATHWAY, RULE, page_path
from cds_service.web.knowledge.describe import measure_link
from cds_service.web.knowledge.parts import (
    CitationView,
    Fact,
    Line,
    Text,
    citation_views,
    fact,
    facts,
    joined,
)


@dataclass(frozen=True, slots=True)
class PathwayView:
    id: str
    name: str
    role: str
    summary: str
    facts: tuple[Fact, ...]
    research_markers: tuple[str, ...]
    limitations: tuple[str, ...]
    rules: tuple[Line, ...]
    interventions: tuple[Line, ...]
    citations: tuple[CitationView, ...]

    @property
    def path(self) -> str:
        return page_path(PATHWAY, self.id)


def pathway_view(kb: KnowledgeBase, pathway_id: str) -> PathwayView:
    pathway = kb.pathways[pathway_id]
    rows = facts(
        fact("Role", pathway.role),
        fact("Precursors", ", ".join(pathway.precursors)),
        fact("Synthesis", *pathway.synthesis),
        fact("Rate-limiting steps", *pathway.rate_limiting_steps),
        fact("Co-factors", ", ".join(pathway.cofactors)),
        fact("Catabolism", *pathway.catabolism),
        fact(
            "Markers",
            joined(measure_link(kb, m) for m in pathway.markers) if pathway.markers else None,
        ),
        fact(
            "Symptom measures",
            joined(measure_link(kb, m) for m in pathway.symptom_measures)
            if pathway.symptom_measures
            else None,
        ),
        fact(
            "Precursor suggestions",
            None if pathway.precursor_suggestions else "none: this pathway is context only",
        ),
    )
    rules = tuple(
        (Text(rule.id, page_path(RULE, rule.id)), Text(f" {rule.title} (grade {rule.grade})"))
        for rule in kb.rules
        if rule.pathway == pathway.id
    )
    interventions = tuple(
        (Text(i.name, page_path(INTERVENTION, i.id)), Text(f" ({i.kind}, grade {i.grade})"))
        for i in kb.interventions.values()
        if pathway.id in i.pathways
    )
    return PathwayView(
        id=pathway.id,
        name=pathway.name,
        role=pathway.role,
        summary=pathway.summary,
        facts=rows,
        research_markers=tuple(pathway.research_markers),
        limitations=tuple(pathway.limitations),
        rules=rules,
        interventions=interventions,
        citations=citation_views(kb, pathway.citations),
    )
