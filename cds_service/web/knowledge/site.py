"""The knowledge pages of one knowledge base, rendered once and kept: ``KnowledgeSite``.

Pages depend on nothing but the knowledge base, so each is rendered on its first request
and its bytes and ETag are kept for the life of the process; the why page of a set of ids is
kept in a small LRU (cards of one knowledge base name a few hundred distinct sets at most).
The routes (``routes.py``) and ``cds-service knowledge export`` (``export.py``) both read
pages from here, so the served site and the exported files are the same HTML.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import Questionnaire
from cds_service.web.assets import TEMPLATES, stylesheet
from cds_service.web.knowledge.catalog import (
    ABOUT_PAGE,
    CARD_KINDS,
    CARD_TOPICS,
    CITATIONS_PAGE,
    DOSE_LIMIT,
    DUPLICATION,
    INDEX_PAGE,
    INTERVENTION,
    LAB_ORDERS_PAGE,
    MEASURE,
    PATHWAY,
    Catalog,
    Entry,
    Kind,
)
from cds_service.web.knowledge.entries import EntryView
from cds_service.web.knowledge.interventions import intervention_view
from cds_service.web.knowledge.measures import measure_readers, measure_view
from cds_service.web.knowledge.overview import (
    about_view,
    cited_views,
    index_tables,
    lab_order_views,
)
from cds_service.web.knowledge.parts import Line
from cds_service.web.knowledge.pathways import PathwayView, pathway_view
from cds_service.web.knowledge.rules import entry_view

MAX_WHY_IDS = 50  # a card names a handful; more is not a card's link
MAX_WHY_QUERY = 4096  # characters of the rules parameter read at all
MAX_SHOWN_ID = 100
WHY_CACHE_SIZE = 256
_RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,99}$")


@dataclass(frozen=True, slots=True)
class Page:
    body: bytes
    etag: str  # a strong validator: a hash of the body


@dataclass(frozen=True, slots=True)
class WhyItem:
    id: str  # as asked for, cut to MAX_SHOWN_ID characters
    valid: bool  # shaped like a rule id
    anchor: str | None
    entry: EntryView | None = None
    pathway: PathwayView | None = None
    topic: tuple[str, str] | None = None

    @property
    def known(self) -> bool:
        return bool(self.entry or self.pathway or self.topic)


def make_page(body: str | bytes) -> Page:
    data = body.encode() if isinstance(body, str) else body
    return Page(data, '"' + hashlib.sha256(data).hexdigest()[:32] + '"')


def root_of(path: str) -> str:
    """The way back to the knowledge root from a page at ``path`` ("" or "../")."""
    return "../" * path.count("/")


class KnowledgeSite:
    """Every page of one knowledge base, by its address relative to the knowledge root."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.catalog = Catalog(kb)
        self.info = kb.manifest  # what every page's masthead and footer say
        self.stylesheet = make_page(stylesheet("knowledge"))
        self._builders = self._page_builders()
        self._pages: dict[str, Page] = {}
        self._entries: dict[tuple[str, str], EntryView] = {}
        self._readers: dict[str, list[Line]] | None = None
        self._why: OrderedDict[tuple[str, ...], tuple[int, Page]] = OrderedDict()

    # -- pages ----------------------------------------------------------------------------------

    def paths(self) -> list[str]:
        """Every page's address, the index first."""
        return list(self._builders)

    def page(self, path: str) -> Page | None:
        """The page at ``path`` (e.g. ``rules/b12-deficient.html``), or None."""
        page = self._pages.get(path)
        if page is None:
            build = self._builders.get(path)
            if build is None:
                return None
            page = self._pages[path] = make_page(build())
        return page

    def message(self, path: str, status: int, title: str, message: str) -> Page:
        """A short page for a refusal, with links that work from ``path``."""
        return make_page(
            self._render(
                "knowledge/message.html", path, status=status, title=title, message=message
            )
        )

    def _render(self, template: str, path: str, **context: Any) -> str:
        return TEMPLATES.get_template(template).render(
            root=root_of(path), site=self.info, **context
        )

    def _page_builders(self) -> dict[str, Callable[[], str]]:
        kb, catalog = self.kb, self.catalog
        builders: dict[str, Callable[[], str]] = {
            INDEX_PAGE: lambda: self._render(
                "knowledge/index.html", INDEX_PAGE, tables=index_tables(catalog, kb)
            ),
            ABOUT_PAGE: lambda: self._render("knowledge/about.html", ABOUT_PAGE, v=about_view(kb)),
            CITATIONS_PAGE: lambda: self._render(
                "knowledge/citations.html", CITATIONS_PAGE, items=cited_views(kb)
            ),
            LAB_ORDERS_PAGE: lambda: self._render(
                "knowledge/lab-orders.html", LAB_ORDERS_PAGE, items=lab_order_views(kb)
            ),
        }
        for kind in CARD_KINDS:
            for entry in catalog.entries(kind):
                builders[entry.path] = self._entry_builder(entry)
        for entry in catalog.entries(PATHWAY):
            builders[entry.path] = self._subject_builder(
                "knowledge/pathway.html", entry, lambda e: pathway_view(kb, e.id)
            )
        for entry in catalog.entries(MEASURE):
            builders[entry.path] = self._subject_builder(
                "knowledge/measure.html",
                entry,
                lambda e: measure_view(kb, kb.measures[e.id], self.readers()),
            )
        for entry in catalog.entries(INTERVENTION):
            builders[entry.path] = self._subject_builder(
                "knowledge/intervention.html", entry, lambda e: intervention_view(kb, e.id)
            )
        return builders

    def _entry_builder(self, entry: Entry) -> Callable[[], str]:
        return lambda: self._render(
            "knowledge/entry.html",
            entry.path,
            e=self.entry(entry.kind, entry.id),
            anchor=_index_anchor(entry.kind),
        )

    def _subject_builder(
        self, template: str, entry: Entry, view: Callable[[Entry], object]
    ) -> Callable[[], str]:
        anchor = _index_anchor(entry.kind, entry.id, self.kb)
        return lambda: self._render(template, entry.path, v=view(entry), anchor=anchor)

    def entry(self, kind: Kind, entry_id: str) -> EntryView:
        key = (kind.key, entry_id)
        view = self._entries.get(key)
        if view is None:
            view = self._entries[key] = entry_view(self.kb, kind, entry_id)
        return view

    def readers(self) -> dict[str, list[Line]]:
        if self._readers is None:
            self._readers = measure_readers(self.kb)
        return self._readers

    # -- the why page -------------------------------------------------------------------------

    def why(self, values: Iterable[str]) -> tuple[int, Page]:
        """(status, page) for ``?rules=a,b``: every id with its content, or a note saying it
        is unknown; 404 when none is known, 400 when none is given."""
        ids, dropped = parse_ids(values)
        if not ids:
            return 400, self.message(
                "why",
                400,
                "No rule ids",
                "This page shows the rules a card names, as ?rules=id1,id2. "
                "Open it from a card's “Why” link, or browse the index.",
            )
        key = (*ids, str(dropped))
        cached = self._why.get(key)
        if cached is not None:
            self._why.move_to_end(key)
            return cached
        items = [self._why_item(i) for i in ids]
        status = 200 if any(item.known for item in items) else 404
        page = make_page(
            self._render(
                "knowledge/why.html", "why", items=items, dropped=dropped, limit=MAX_WHY_IDS
            )
        )
        self._why[key] = (status, page)
        if len(self._why) > WHY_CACHE_SIZE:
            self._why.popitem(last=False)
        return status, page

    def _why_item(self, raw: str) -> WhyItem:
        shown = raw[:MAX_SHOWN_ID]
        if not _RULE_ID.match(raw):
            return WhyItem(shown, valid=False, anchor=None)
        anchor = f"r-{raw}"
        entry = self.catalog.card_entry(raw)
        if entry is not None and entry.kind is PATHWAY:
            return WhyItem(raw, True, anchor, pathway=pathway_view(self.kb, raw))
        if entry is not None:
            return WhyItem(raw, True, anchor, entry=self.entry(entry.kind, raw))
        if raw in CARD_TOPICS:
            return WhyItem(raw, True, anchor, topic=CARD_TOPICS[raw])
        return WhyItem(raw, True, anchor)


def parse_ids(values: Iterable[str]) -> tuple[list[str], int]:
    """The ids of ``?rules=`` (repeated or comma-separated), once each, at most
    ``MAX_WHY_IDS``; and how many more there were."""
    text = ",".join(values)[:MAX_WHY_QUERY]
    ids = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    return ids[:MAX_WHY_IDS], max(len(ids) - MAX_WHY_IDS, 0)


def _index_anchor(kind: Kind, entry_id: str = "", kb: KnowledgeBase | None = None) -> str:
    """The index section that lists an entry of this kind."""
    if kind is MEASURE and kb is not None:
        return "scores" if isinstance(kb.measures[entry_id], Questionnaire) else "labs"
    if kind in (DOSE_LIMIT, DUPLICATION):
        return "order-checks"
    return kind.folder
