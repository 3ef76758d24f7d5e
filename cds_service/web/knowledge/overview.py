"""Page models of the pages that list: the index, the knowledge base's identity and changelog,
the citations, and the tests the service may suggest.

The index links every page of the site, so a reviewer (and the tests) can reach everything
from it; its tables are plain rows of words and links.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import LabOrderSuggestion, Measure, Questionnaire
from cds_service.web.knowledge.catalog import (
    DOSE_LIMIT,
    DUPLICATION,
    FOLLOW_UP,
    GUIDANCE,
    INTERVENTION,
    MEASURE,
    PATHWAY,
    PROMPT,
    RULE,
    SAFETY,
    Catalog,
    Kind,
    page_path,
)
from cds_service.web.knowledge.describe import dose_threshold, measure_link
from cds_service.web.knowledge.parts import (
    CitationView,
    Line,
    Text,
    citation_views,
    code_text,
    joined,
    words,
)


@dataclass(frozen=True, slots=True)
class Table:
    anchor: str
    heading: str
    intro: str | None
    columns: tuple[str, ...]
    rows: tuple[tuple[Line, ...], ...]  # the first cell of a row is its header (th scope=row)


def index_tables(catalog: Catalog, kb: KnowledgeBase) -> tuple[Table, ...]:
    pathways = sorted(kb.pathways.values(), key=lambda p: (p.order, p.id))
    rules = sorted(kb.rules, key=lambda r: [p.id for p in pathways].index(r.pathway))
    labs = [m for m in kb.measures.values() if not isinstance(m, Questionnaire)]
    scores = [m for m in kb.measures.values() if isinstance(m, Questionnaire)]
    follow_ups = [f for fs in kb.follow_ups.values() for f in fs]
    return (
        Table(
            "pathways",
            "Pathways",
            None,
            ("Pathway", "Role", "Rules"),
            tuple(
                (
                    (Text(p.name, page_path(PATHWAY, p.id)),),
                    words(p.role),
                    words(str(sum(r.pathway == p.id for r in kb.rules))),
                )
                for p in pathways
            ),
        ),
        Table(
            "rules",
            RULE.plural,
            "When a patient's data meet a rule, its finding goes on a card with what it suggests.",
            ("Rule", "Title", "Pathway", "Grade", "Version"),
            tuple(
                (
                    _id_link(RULE, r.id),
                    words(r.title),
                    words(kb.pathways[r.pathway].short or r.pathway),
                    words(r.grade),
                    words(f"v{r.version}"),
                )
                for r in rules
            ),
        ),
        Table(
            "safety",
            SAFETY.plural,
            "Checked before any suggestion is shown and against every draft order.",
            ("Rule", "Title", "Action", "Grade", "Version"),
            tuple(
                (
                    _id_link(SAFETY, r.id),
                    words(r.title),
                    words(r.action + (" (hard)" if r.hard else "")),
                    words(r.grade or "-"),
                    words(f"v{r.version}"),
                )
                for r in kb.safety_rules
            ),
        ),
        Table(
            "prompts",
            PROMPT.plural,
            None,
            ("Prompt", "Title", "Grade", "Version"),
            tuple(
                (
                    _id_link(PROMPT, p.id),
                    words(p.title),
                    words(p.grade or "-"),
                    words(f"v{p.version}"),
                )
                for p in kb.safety_prompts
            ),
        ),
        Table(
            "follow-up",
            FOLLOW_UP.plural,
            "Rechecks of a supplement the patient already takes.",
            ("Rule", "Title", "Recheck after", "Grade", "Version"),
            tuple(
                (
                    _id_link(FOLLOW_UP, f.id),
                    words(f.title),
                    words(f.interval),
                    words(f.grade),
                    words(f"v{f.version}"),
                )
                for f in follow_ups
            ),
        ),
        Table(
            "order-checks",
            "Order checks: dose limits and duplication",
            None,
            ("Rule", "Title", "Warning above", "Grade", "Version"),
            tuple(
                (
                    _id_link(DOSE_LIMIT, d.id),
                    words(d.title),
                    words(dose_threshold(d.warn_above)),
                    words(d.grade or "-"),
                    words(f"v{d.version}"),
                )
                for d in kb.dose_limits
            )
            + tuple(
                (
                    _id_link(DUPLICATION, d.id),
                    words(d.title),
                    words("-"),
                    words(d.grade or "-"),
                    words(f"v{d.version}"),
                )
                for d in kb.duplication
            ),
        ),
        Table(
            "guidance",
            GUIDANCE.plural,
            None,
            ("Guidance", "Title"),
            tuple((_id_link(GUIDANCE, g.id), words(g.title)) for g in kb.medication_guidance),
        ),
        Table(
            "interventions",
            INTERVENTION.plural,
            None,
            ("Intervention", "Kind", "Daily dose", "Grade", "Offered"),
            tuple(
                (
                    (Text(i.name, page_path(INTERVENTION, i.id)),),
                    words(i.kind),
                    words(i.dose_label or i.daily_dose.describe()),
                    words(i.grade),
                    words("yes" if i.offer else "never"),
                )
                for i in kb.interventions.values()
            ),
        ),
        _measure_table("labs", "Laboratory measures", labs),
        _measure_table("scores", "Questionnaire scores", scores),
    )


def _measure_table(anchor: str, heading: str, measures: Iterable[Measure]) -> Table:
    rows = []
    for measure in measures:
        rows.append(
            (
                (Text(measure.name, page_path(MEASURE, measure.id)),),
                words(", ".join(c.code for c in measure.codes)),
                words(str(len({b.id for b in measure.bands}))),
                words(", ".join(measure.flags) or "-"),
            )
        )
    return Table(anchor, heading, None, ("Measure", "Codes", "Bands", "Flags"), tuple(rows))


def _id_link(kind: Kind, entry_id: str) -> Line:
    return (Text(entry_id, page_path(kind, entry_id)),)


# -- about ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Release:
    version: str
    date: date
    changes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AboutView:
    """The About page beyond the manifest's identity fields (the template reads those)."""

    releases: tuple[Release, ...]
    override_reasons: tuple[tuple[str, str, str], ...]  # code, display, offered by default
    code_systems: tuple[tuple[str, str], ...]


def about_view(kb: KnowledgeBase) -> AboutView:
    manifest = kb.manifest
    return AboutView(
        releases=tuple(Release(e.version, e.date, tuple(e.changes)) for e in manifest.changelog),
        override_reasons=tuple(
            (r.code, r.display, "every warning card" if r.default else "only rules that name it")
            for r in manifest.override_reasons
        ),
        code_systems=tuple(manifest.code_systems.items()),
    )


# -- citations and lab orders ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CitedView:
    citation: CitationView
    cited_by: Line


def cited_views(kb: KnowledgeBase) -> tuple[CitedView, ...]:
    """Every citation with the pages that cite it."""
    by: dict[str, list[Text]] = {}

    def add(kind: Kind, entry_id: str, label: str, ids: Iterable[str]) -> None:
        for citation_id in ids:
            by.setdefault(citation_id, []).append(Text(label, page_path(kind, entry_id)))

    for rule in kb.rules:
        add(RULE, rule.id, rule.id, rule.citations)
    for safety in kb.safety_rules:
        add(SAFETY, safety.id, safety.id, safety.citations)
    for prompt in kb.safety_prompts:
        add(PROMPT, prompt.id, prompt.id, prompt.citations)
    for follow in (f for fs in kb.follow_ups.values() for f in fs):
        add(FOLLOW_UP, follow.id, follow.id, follow.citations)
    for limit in kb.dose_limits:
        add(DOSE_LIMIT, limit.id, limit.id, limit.citations)
    for dup in kb.duplication:
        add(DUPLICATION, dup.id, dup.id, dup.citations)
    for guidance in kb.medication_guidance:
        add(GUIDANCE, guidance.id, guidance.id, guidance.citations)
    for measure in kb.measures.values():
        add(MEASURE, measure.id, measure.label, measure.citations)
    for intervention in kb.interventions.values():
        add(
            INTERVENTION,
            intervention.id,
            intervention.short or intervention.name,
            intervention.citations,
        )
    for pathway in kb.pathways.values():
        add(PATHWAY, pathway.id, pathway.short or pathway.name, pathway.citations)
    views = citation_views(kb, sorted(kb.citations))
    return tuple(CitedView(v, joined(by.get(v.id, []))) for v in views)


@dataclass(frozen=True, slots=True)
class LabOrderView:
    id: str
    name: str
    code: Line
    reason: str
    satisfied_by: Line
    suggested_by: Line


def lab_order_views(kb: KnowledgeBase) -> tuple[LabOrderView, ...]:
    suggesters = _lab_order_suggesters(kb)
    return tuple(
        LabOrderView(
            id=order.id,
            name=order.name,
            code=code_text(order.code),
            reason=order.reason,
            satisfied_by=joined(measure_link(kb, m) for m in order.satisfied_by),
            suggested_by=joined(part for line in suggesters.get(order.id, []) for part in line),
        )
        for order in kb.lab_orders.values()
    )


def _lab_order_suggesters(kb: KnowledgeBase) -> dict[str, list[Line]]:
    """Lab order id -> the rules that suggest it, for the lab orders page."""
    found: dict[str, list[Line]] = {}
    for rule in kb.rules:
        for suggestion in rule.suggest:
            if isinstance(suggestion, LabOrderSuggestion):
                found.setdefault(suggestion.lab_order, []).append(
                    (Text(rule.id, page_path(RULE, rule.id)),)
                )
    for safety in kb.safety_rules:
        if safety.replacement is not None:
            found.setdefault(safety.replacement.lab_order, []).append(
                (Text(safety.id, page_path(SAFETY, safety.id)),)
            )
    for prompt in kb.safety_prompts:
        if prompt.lab_order:
            found.setdefault(prompt.lab_order, []).append(
                (Text(prompt.id, page_path(PROMPT, prompt.id)),)
            )
    for follow in (f for fs in kb.follow_ups.values() for f in fs):
        found.setdefault(follow.lab_order, []).append(
            (Text(follow.id, page_path(FOLLOW_UP, follow.id)),)
        )
    return found
