"""Where each page lives: every id a card can carry, and every subject, mapped to one address.

A card's audit ``rule_ids`` (and so its "Why" link) may name a recommendation rule, a safety
rule, a monitoring prompt, a follow-up, a dose limit or a duplication rule; a card folded into
"more findings" names the topic of a card that had no rule: a pathway, or ``not-checked``.
Every one of them resolves here, so the why page never meets an id it cannot place.
Addresses are relative to the knowledge root and end in ``.html``, so the site served under
``/knowledge/`` and the exported files link to each other the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import Pathway

# Card topics that are not rules (cards/orders.py, cards/patient.py): what a folded card's
# line names when the card it stands for had no rule of its own. Labels, not knowledge.
CARD_TOPICS = {
    "not-checked": (
        "Drugs not checked",
        "A card listing draft orders whose drug the service did not recognise, so no "
        "interaction rule could be applied to them.",
    ),
    "monitoring": ("Monitoring", "A card of monitoring prompts (the prompts are listed by id)."),
    "follow-up": (
        "Follow-up",
        "A card of rechecks of supplements already taken (the follow-ups are listed by id).",
    ),
}


@dataclass(frozen=True, slots=True)
class Kind:
    key: str
    folder: str
    label: str  # what one of them is called, e.g. "Safety rule"
    plural: str


RULE = Kind("rule", "rules", "Recommendation rule", "Recommendation rules")
SAFETY = Kind("safety", "safety", "Safety rule", "Safety rules")
PROMPT = Kind("prompt", "prompts", "Monitoring prompt", "Monitoring prompts")
FOLLOW_UP = Kind("follow-up", "follow-up", "Follow-up rule", "Follow-up rules")
DOSE_LIMIT = Kind("dose-limit", "order-checks", "Dose limit", "Dose limits")
DUPLICATION = Kind("duplication", "order-checks", "Duplication rule", "Duplication rules")
GUIDANCE = Kind("guidance", "guidance", "Order guidance", "Order guidance")
PATHWAY = Kind("pathway", "pathways", "Pathway", "Pathways")
MEASURE = Kind("measure", "measures", "Measure", "Measures")
INTERVENTION = Kind("intervention", "interventions", "Intervention", "Interventions")
# Pages of their own that are not entries: the site's index and its reference lists.
INDEX_PAGE = "index.html"
ABOUT_PAGE = "about.html"
CITATIONS_PAGE = "citations.html"
LAB_ORDERS_PAGE = "lab-orders.html"
STYLESHEET = "static/knowledge.css"
# The kinds whose ids a card's rule_ids can name, in the order they are looked up.
CARD_KINDS = (RULE, SAFETY, PROMPT, FOLLOW_UP, DOSE_LIMIT, DUPLICATION, GUIDANCE)


@dataclass(frozen=True, slots=True)
class Entry:
    kind: Kind
    id: str
    title: str

    @property
    def path(self) -> str:
        return page_path(self.kind, self.id)


def page_path(kind: Kind, entry_id: str) -> str:
    return f"{kind.folder}/{entry_id}.html"


class Catalog:
    """Every page-worthy thing of one knowledge base, by kind and by the ids cards carry."""

    def __init__(self, kb: KnowledgeBase) -> None:
        listed: list[Entry] = [
            *(Entry(RULE, r.id, r.title) for r in kb.rules),
            *(Entry(SAFETY, r.id, r.title) for r in kb.safety_rules),
            *(Entry(PROMPT, p.id, p.title) for p in kb.safety_prompts),
            *(Entry(FOLLOW_UP, f.id, f.title) for fs in kb.follow_ups.values() for f in fs),
            *(Entry(DOSE_LIMIT, d.id, d.title) for d in kb.dose_limits),
            *(Entry(DUPLICATION, d.id, d.title) for d in kb.duplication),
            *(Entry(GUIDANCE, g.id, g.title) for g in kb.medication_guidance),
        ]
        self.by_kind: dict[str, tuple[Entry, ...]] = {
            kind.key: tuple(e for e in listed if e.kind is kind) for kind in CARD_KINDS
        }
        self.by_kind[PATHWAY.key] = tuple(Entry(PATHWAY, p.id, p.name) for p in _pathways(kb))
        self.by_kind[MEASURE.key] = tuple(
            Entry(MEASURE, m.id, m.name) for m in kb.measures.values()
        )
        self.by_kind[INTERVENTION.key] = tuple(
            Entry(INTERVENTION, i.id, i.name) for i in kb.interventions.values()
        )
        # First of a kind wins: ids are unique within the rule-like kinds (checked by the
        # tests), and a pathway id is looked up only when no rule has it.
        self.card_ids: dict[str, Entry] = {}
        for entry in [*listed, *self.by_kind[PATHWAY.key]]:
            self.card_ids.setdefault(entry.id, entry)

    def entries(self, kind: Kind) -> tuple[Entry, ...]:
        return self.by_kind[kind.key]

    def card_entry(self, entry_id: str) -> Entry | None:
        """The page of an id from a card's rule_ids (a rule of any kind, or a pathway topic)."""
        return self.card_ids.get(entry_id)


def _pathways(kb: KnowledgeBase) -> list[Pathway]:
    """In the order cards rank them."""
    return sorted(kb.pathways.values(), key=lambda p: (p.order, p.id))
