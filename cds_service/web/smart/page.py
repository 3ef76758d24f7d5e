"""The page: what the engine concluded and the course of every measure behind it, as HTML.

Built from ``PatientData`` (the hook's own evaluation, the pathway assessments and the history)
in one pass, then rendered with Jinja2 (autoescape on). Card details are the cards' markdown,
rendered by markdown-it-py with raw HTML off (medication names and other text come from the
EHR). The card the clinician clicked (``appContext``) is shown first, open.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from markdown_it import MarkdownIt
from markupsafe import Markup

from cds_service.engine.types import Finding, PathwayAssessment
from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import Questionnaire
from cds_service.snapshot.facts import LabFact
from cds_service.web.assets import TEMPLATES
from cds_service.web.smart.charts import MeasureChart, build_chart
from cds_service.web.smart.gather import PatientData

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,99}$")
_UUID = re.compile(r"^[A-Za-z0-9-]{1,100}$")
MAX_CONTEXT_RULES = 50


@dataclass(frozen=True, slots=True)
class LaunchContext:
    """The card the app was opened from, as its smart link's ``appContext`` named it."""

    card: str | None
    rules: tuple[str, ...]


def parse_app_context(value: str | None, kb: KnowledgeBase) -> LaunchContext:
    """Read ``{"card": uuid, "rules": [...]}``; anything else is ignored, never trusted.

    Only rule ids the knowledge base knows are kept: the value passed through the EHR and is
    recorded in the audit trail.
    """
    if not value:
        return LaunchContext(None, ())
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError:
        return LaunchContext(None, ())
    if not isinstance(data, Mapping):
        return LaunchContext(None, ())
    card = data.get("card")
    card = card if isinstance(card, str) and _UUID.match(card) else None
    known = known_rule_ids(kb)
    rules = data.get("rules")
    kept: list[str] = []
    if isinstance(rules, list):
        for rule in rules[:MAX_CONTEXT_RULES]:
            if (
                isinstance(rule, str)
                and _RULE_ID.match(rule)
                and rule in known
                and rule not in kept
            ):
                kept.append(rule)
    return LaunchContext(card, tuple(kept))


def known_rule_ids(kb: KnowledgeBase) -> frozenset[str]:
    return kb.card_rule_ids()


@dataclass(frozen=True, slots=True)
class InputView:
    name: str
    result: str
    band: str | None
    date: str


@dataclass(frozen=True, slots=True)
class RuleView:
    id: str
    version: int
    title: str
    statement: str
    grade: str | None
    citations: tuple[tuple[str, str], ...]  # (label, url)
    inputs: tuple[InputView, ...]
    fired: bool


@dataclass(frozen=True, slots=True)
class CardView:
    anchor: str
    uuid: str
    indicator: str
    summary: str
    topic: str
    detail: Markup
    rules: tuple[RuleView, ...]


@dataclass(frozen=True, slots=True)
class PathwayView:
    name: str
    role: str
    status: str
    findings: tuple[str, ...]
    card_anchor: str | None


@dataclass(frozen=True, slots=True)
class PageView:
    as_of: str
    sex: str | None
    age: int | None
    patient_found: bool
    pathways: tuple[PathwayView, ...]
    cards: tuple[CardView, ...]
    opened: CardView | None  # the card the app was launched from, shown first
    labs: tuple[MeasureChart, ...]
    scores: tuple[MeasureChart, ...]
    no_results: tuple[str, ...]  # measures the pathways read, with no result in the record
    data_notes: tuple[str, ...]
    knowledge_version: str
    dev_mode: bool = False
    charts_by_id: dict[str, MeasureChart] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.labs and not self.scores and not self.cards


def build_page(
    data: PatientData,
    kb: KnowledgeBase,
    *,
    context: LaunchContext,
    now: datetime,
    dev_mode: bool = False,
) -> PageView:
    """Everything the template shows, computed once."""
    evaluation = data.evaluation
    snapshot = evaluation.snapshot
    wire_cards = evaluation.response.get("cards", [])
    findings = {f.rule.id: f for a in data.assessments for f in (*a.findings, *a.context)}
    cards = tuple(
        _card_view(index, wire, audit.rule_ids, findings, kb)
        for index, (wire, audit) in enumerate(zip(wire_cards, evaluation.cards, strict=True))
    )
    opened = _opened(cards, context)
    anchors_by_rule: dict[str, str] = {}
    for card in cards:
        for rule in card.rules:
            anchors_by_rule.setdefault(rule.id, card.anchor)
    pathways = tuple(_pathway_view(a, anchors_by_rule) for a in data.assessments)
    order = _measure_order(cards, data.assessments, findings)
    series = data.history.series
    ranked = sorted(series, key=lambda m: (order.get(m, len(order)), kb.measures[m].name))
    charts = [
        build_chart(
            kb,
            kb.measures[measure_id],
            series[measure_id],
            sex=data.history.sex,
            therapies=data.history.therapies,
            chart_id=f"chart-{_slug(measure_id)}",
        )
        for measure_id in ranked
    ]
    read = dict.fromkeys(
        m for a in data.assessments for m in (*a.pathway.markers, *a.pathway.symptom_measures)
    )
    no_results = tuple(kb.measures[m].name for m in read if m in kb.measures and m not in series)
    notes = evaluation.response.get("extension", {}).get("org.neurotransmitter-cds", {})
    return PageView(
        as_of=now.date().isoformat(),
        sex=snapshot.sex,
        age=snapshot.age,
        patient_found=snapshot.patient_found,
        pathways=pathways,
        cards=cards,
        opened=opened,
        labs=tuple(c for c in charts if not c.is_score),
        scores=tuple(c for c in charts if c.is_score),
        no_results=no_results,
        data_notes=tuple(_data_note(n) for n in notes.get("dataNotes", [])),
        knowledge_version=kb.version,
        dev_mode=dev_mode,
        charts_by_id={c.measure_id: c for c in charts},
    )


def render_page(view: PageView) -> str:
    return TEMPLATES.get_template("smart/page.html").render(page=view)


def render_message(title: str, message: str, *, status: int) -> str:
    return TEMPLATES.get_template("smart/message.html").render(
        title=title, message=message, status=status
    )


def _slug(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-") or "measure"


def _data_note(note: str) -> str:
    key, _, rest = note.partition(":")
    names = {
        "observations": "Laboratory results and questionnaire scores",
        "medicationRequests": "Medication orders",
        "medicationStatements": "Medication statements",
        "conditions": "Conditions",
        "questionnaireResponses": "Questionnaire responses",
        "patient": "The patient's demographics",
    }
    return f"{names.get(key, key)}:{rest}"


def _opened(cards: Sequence[CardView], context: LaunchContext) -> CardView | None:
    """The card clicked: by uuid when the same evaluation produced it, else by its rules.

    The page evaluates afresh, so uuids are new; the rules a card carries identify it.
    """
    for card in cards:
        if context.card is not None and card.uuid == context.card:
            return card
    wanted = set(context.rules)
    if not wanted:
        return None
    best = max(cards, key=lambda c: len(wanted & {r.id for r in c.rules}), default=None)
    if best is None or not wanted & {r.id for r in best.rules}:
        return None
    return best


def _card_view(
    index: int,
    wire: Mapping[str, Any],
    rule_ids: Iterable[str],
    findings: Mapping[str, Finding],
    kb: KnowledgeBase,
) -> CardView:
    source = wire.get("source", {})
    topic = source.get("topic", {}).get("display") or source.get("label", "")
    return CardView(
        anchor=f"card-{index + 1}",
        uuid=str(wire.get("uuid", "")),
        indicator=str(wire.get("indicator", "info")),
        summary=str(wire.get("summary", "")),
        topic=str(topic),
        detail=Markup(_MARKDOWN.render(str(wire.get("detail", ""))))  # noqa: S704 - html off
        if wire.get("detail")
        else Markup(""),
        rules=tuple(_rule_view(rule_id, findings, kb) for rule_id in dict.fromkeys(rule_ids)),
    )


def _rule_view(rule_id: str, findings: Mapping[str, Finding], kb: KnowledgeBase) -> RuleView:
    rule = next((r for r in kb.rules if r.id == rule_id), None)
    if rule is not None:
        finding = findings.get(rule_id)
        inputs = _inputs(finding.trace.labs.values(), kb) if finding else ()
        return RuleView(
            rule.id,
            rule.version,
            rule.title,
            rule.statement,
            rule.grade,
            _citations(rule.citations, kb),
            inputs,
            finding is not None,
        )
    safety = next((r for r in kb.safety_rules if r.id == rule_id), None)
    if safety is not None:
        return RuleView(
            safety.id,
            safety.version,
            safety.title,
            safety.message,
            safety.grade,
            _citations(safety.citations, kb),
            (),
            True,
        )
    return RuleView(rule_id, 1, rule_id, "", None, (), (), False)


def _citations(ids: Iterable[str], kb: KnowledgeBase) -> tuple[tuple[str, str], ...]:
    return tuple((c.label, c.link) for c in kb.citation_links(i for i in ids if i in kb.citations))


def _inputs(labs: Iterable[LabFact], kb: KnowledgeBase) -> tuple[InputView, ...]:
    views = []
    for fact in labs:
        measure = kb.measures.get(fact.measure_id)
        labels = {b.id: b.label for b in measure.bands} if measure else {}
        views.append(
            InputView(
                name=measure.name if measure else fact.measure_id,
                result=fact.reported,
                band=labels.get(fact.band) if fact.band else None,
                date=fact.effective.date().isoformat(),
            )
        )
    return tuple(views)


def _pathway_view(assessment: PathwayAssessment, anchors: Mapping[str, str]) -> PathwayView:
    anchor = next((anchors[f.rule.id] for f in assessment.findings if f.rule.id in anchors), None)
    return PathwayView(
        name=assessment.pathway.name,
        role=assessment.pathway.role,
        status=assessment.status,
        findings=tuple(f.rule.finding for f in assessment.findings),
        card_anchor=anchor,
    )


def _measure_order(
    cards: Sequence[CardView],
    assessments: Sequence[PathwayAssessment],
    findings: Mapping[str, Finding],
) -> dict[str, int]:
    """Measures in reading order: those behind the cards first, then each pathway's markers
    and symptom measures in the pathways' order."""
    order: dict[str, int] = {}
    for card in cards:
        for rule in card.rules:
            finding = findings.get(rule.id)
            if finding is not None:
                for measure_id in finding.trace.labs:
                    order.setdefault(measure_id, len(order))
    for assessment in assessments:
        for measure_id in (*assessment.pathway.markers, *assessment.pathway.symptom_measures):
            order.setdefault(measure_id, len(order))
    return order


def is_score(kb: KnowledgeBase, measure_id: str) -> bool:
    return isinstance(kb.measures.get(measure_id), Questionnaire)
