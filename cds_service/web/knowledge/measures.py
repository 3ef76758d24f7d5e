"""Page models of measures: laboratory analytes and questionnaire scores.

Every band in every unit system (a table, and an SVG band bar per sex or method), the codes,
how long a result stays current, the flags and notes, whether the service derives it, and
every rule of any kind that reads it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from markupsafe import Markup

from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import Measure, Predicate, Questionnaire
from cds_service.web.knowledge.bandbar import band_bar
from cds_service.web.knowledge.catalog import (
    DOSE_LIMIT,
    FOLLOW_UP,
    MEASURE,
    PROMPT,
    RULE,
    SAFETY,
    Kind,
    page_path,
)
from cds_service.web.knowledge.describe import (
    UnitSystem,
    applies_to,
    band_range,
    measure_link,
    measures_read,
    unit_systems,
)
from cds_service.web.knowledge.parts import (
    CitationView,
    Fact,
    Line,
    Text,
    citation_views,
    code_text,
    fact,
    facts,
    joined,
)

# How the service treats a flagged measure (README, analytes.yaml): labels, not knowledge.
FLAG_MEANINGS = {
    "acute-phase": "acute-phase reactant: read only with a current CRP",
    "research-only": "research only: displayed, never used by a rule that suggests anything",
    "informational": "informational: displayed, never interpreted by a rule",
    "method-dependent": "method-dependent: results of different assays are not compared",
    "fasting": "fasting sample expected",
}


@dataclass(frozen=True, slots=True)
class BandRow:
    id: str
    label: str
    applies_to: str
    ranges: tuple[str, ...]  # one per unit system, canonical first
    contested: bool


@dataclass(frozen=True, slots=True)
class MeasureView:
    id: str
    name: str
    kind_label: str
    facts: tuple[Fact, ...]
    systems: tuple[UnitSystem, ...]
    bands: tuple[BandRow, ...]
    bar: Markup
    qualitative: tuple[Fact, ...]  # band -> the codes and texts that map to it
    notes: tuple[str, ...]
    read_by: tuple[Line, ...]
    citations: tuple[CitationView, ...]

    @property
    def path(self) -> str:
        return page_path(MEASURE, self.id)


def measure_view(
    kb: KnowledgeBase, measure: Measure, readers: dict[str, list[Line]]
) -> MeasureView:
    systems = unit_systems(measure)
    derived = [d for d in kb.derived if d.measure == measure.id]
    substitutes = joined(measure_link(kb, m) for m in measure.substitutes)
    rows = facts(
        fact("Short name", measure.short),
        fact("Codes", *(code_text(c) for c in measure.codes)),
        fact("Panel codes", *(code_text(c) for c in getattr(measure, "panel_codes", []))),
        fact("Canonical unit", measure.canonical_unit and systems[0].unit),
        fact(
            "Other units",
            *(f"1 {systems[0].unit} = {s.factor:g} {s.heading}" for s in systems[1:]),
        ),
        fact(
            "Also accepted as",
            ", ".join(a for s in systems[:1] for a in s.also)
            if systems and systems[0].also
            else None,
        ),
        fact("Score range", _score_range(measure)),
        fact("Current for", f"{measure.stale_after_days} days after the result"),
        fact("Flags", *(FLAG_MEANINGS.get(f, f) for f in measure.flags)),
        fact("Stands in for it", substitutes if measure.substitutes else None),
        *(
            fact(
                "Derived",
                f"{d.label} from {kb.measures[d.input].name} when no current result was sent "
                f"(adults {d.min_age}+ of recorded female or male sex)",
                *d.notes,
            )
            for d in derived
        ),
    )
    bands = tuple(
        BandRow(
            b.id,
            b.label,
            applies_to(b, measure),
            tuple(band_range(b, s) for s in systems),
            b.contested,
        )
        for b in measure.bands
    )
    qualitative = facts(
        *(
            fact(
                q.band,
                ", ".join(f"{c.code}" + (f" {c.display}" if c.display else "") for c in q.codes),
                ", ".join(f"“{t}”" for t in q.texts),
            )
            for q in measure.qualitative
        )
    )
    return MeasureView(
        id=measure.id,
        name=measure.name,
        kind_label="Questionnaire score"
        if isinstance(measure, Questionnaire)
        else "Laboratory measure",
        facts=rows,
        systems=systems,
        bands=bands,
        bar=band_bar(measure, dom_id=f"bar-{measure.id}"),
        qualitative=qualitative,
        notes=tuple(measure.notes),
        read_by=tuple(readers.get(measure.id, ())),
        citations=citation_views(
            kb, [*measure.citations, *(c for d in derived for c in d.citations)]
        ),
    )


def _score_range(measure: Measure) -> str | None:
    if not isinstance(measure, Questionnaire):
        return None
    return f"{measure.min_score:g} to {measure.max_score:g}"


def measure_readers(kb: KnowledgeBase) -> dict[str, list[Line]]:
    """Measure id -> the rules (of every kind) that read it, linked: built once per site."""
    readers: dict[str, list[Line]] = {}

    def add(kind: Kind, entry_id: str, title: str, predicates: Iterable[Predicate]) -> None:
        for measure_id in measures_read(predicates):
            readers.setdefault(measure_id, []).append(
                (Text(entry_id, page_path(kind, entry_id)), Text(f" {title}"))
            )

    for rule in kb.rules:
        add(RULE, rule.id, rule.title, [rule.when])
    for safety in kb.safety_rules:
        add(SAFETY, safety.id, safety.title, [safety.trigger])
    for prompt in kb.safety_prompts:
        add(PROMPT, prompt.id, prompt.title, [prompt.trigger])
    for limit in kb.dose_limits:
        add(DOSE_LIMIT, limit.id, limit.title, [e.when for e in limit.exceptions])
    for follow in (f for fs in kb.follow_ups.values() for f in fs):
        readers.setdefault(follow.measure, []).append(
            (Text(follow.id, page_path(FOLLOW_UP, follow.id)), Text(f" {follow.title}"))
        )
    return readers
