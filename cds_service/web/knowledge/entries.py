"""The shape every page of a rule-like id shares: ``EntryView``, and the parts it is built of.

A recommendation rule, a safety rule, a monitoring prompt, a follow-up, a dose limit, a
duplication rule and an order guidance all become one ``EntryView``: the rule's header (id,
version, grade, statement), its facts, its conditions as plain-words trees, the thresholds it
reads in every unit system (with band bars, the bands read drawn out), what it suggests, its
sources and its version history. One shape, so a rule's page and the why page show it alike;
``rules.py`` and ``safety.py`` fill it per kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from markupsafe import Markup

from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import Predicate
from cds_service.web.knowledge.bandbar import band_bar
from cds_service.web.knowledge.catalog import INTERVENTION, LAB_ORDERS_PAGE, Kind, page_path
from cds_service.web.knowledge.describe import (
    Condition,
    Threshold,
    bands_read,
    measure_link,
    thresholds,
)
from cds_service.web.knowledge.parts import (
    Change,
    CitationView,
    Fact,
    Line,
    Text,
    citation_views,
    fact,
    history,
    joined,
    override_reasons,
    words,
)


@dataclass(frozen=True, slots=True)
class ConditionBlock:
    heading: str
    tree: Condition


@dataclass(frozen=True, slots=True)
class BandBar:
    measure: Text
    svg: Markup


@dataclass(frozen=True, slots=True)
class EntryView:
    kind: Kind
    id: str
    title: str
    version: int | None
    grade: str | None
    statement: str | None
    message: str | None  # what the card says, for the rules that say it in their own words
    facts: tuple[Fact, ...]
    conditions: tuple[ConditionBlock, ...]
    causes: tuple[ConditionBlock, ...]  # likely causes named beside the finding, and when
    thresholds: tuple[Threshold, ...]
    bars: tuple[BandBar, ...]
    suggests: tuple[Line, ...]
    citations: tuple[CitationView, ...]
    history: tuple[Change, ...]

    @property
    def path(self) -> str:
        return page_path(self.kind, self.id)


def entry_model(
    kb: KnowledgeBase,
    kind: Kind,
    entry_id: str,
    title: str,
    *,
    version: int | None = None,
    grade: str | None = None,
    statement: str | None = None,
    message: str | None = None,
    rows: tuple[Fact, ...] = (),
    blocks: Sequence[ConditionBlock] = (),
    causes: Sequence[ConditionBlock] = (),
    predicates: Sequence[Predicate] = (),
    suggests: tuple[Line, ...] = (),
    citations: Iterable[str] = (),
) -> EntryView:
    """The page model of one rule: ``predicates`` are what it reads (its thresholds and band
    bars come from them), ``blocks`` how they are shown in words."""
    read = bands_read(predicates)
    bars = []
    for measure_id, band_ids in read.items():
        measure = kb.measures.get(measure_id)
        if measure is None:
            continue
        svg = band_bar(
            measure, dom_id=f"bar-{entry_id}-{measure_id}", highlight=frozenset(band_ids)
        )
        if svg:
            bars.append(BandBar(measure_link(kb, measure_id), svg))
    return EntryView(
        kind=kind,
        id=entry_id,
        title=title,
        version=version,
        grade=grade,
        statement=statement,
        message=message,
        facts=rows,
        conditions=tuple(blocks),
        causes=tuple(causes),
        thresholds=thresholds(predicates, kb),
        bars=tuple(bars),
        suggests=suggests,
        citations=citation_views(kb, citations),
        history=history(kb, entry_id),
    )


def lab_order_line(kb: KnowledgeBase, order_id: str) -> Line:
    order = kb.lab_orders.get(order_id)
    if order is None:
        return words(f"test {order_id}")
    return (
        Text("Test: "),
        Text(order.name, f"{LAB_ORDERS_PAGE}#{order.id}"),
        Text(f" (LOINC {order.code.code}): {order.reason}"),
    )


def interventions_line(kb: KnowledgeBase, ids: Iterable[str]) -> Line:
    return joined(
        Text(kb.interventions[i].name, page_path(INTERVENTION, i))
        if i in kb.interventions
        else Text(i)
        for i in ids
    )


def override_fact(kb: KnowledgeBase, codes: Iterable[str]) -> Fact | None:
    return fact("Override reasons", "; ".join(override_reasons(kb, codes)))


def band_labels(kb: KnowledgeBase, measure_id: str, band_ids: Iterable[str]) -> str:
    measure = kb.measures.get(measure_id)
    labels = {b.id: b.label for b in measure.bands} if measure else {}
    return ", ".join(dict.fromkeys(labels.get(b, b) for b in band_ids))
