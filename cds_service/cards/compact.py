"""The card budget (clinical-reference §7.6, issue 15) as building blocks for order-time cards.

A summary of at most 139 characters that states the finding and the action and is never cut
off (``cards.text.fit`` picks the longest wording that fits); a markdown detail of at most 1,200
characters holding the patient-specific core: the inputs used, each rule in one sentence with
its grade, one to three citations (``fit_detail`` keeps every finding line and drops the
optional parts, least useful first, until it fits). Names are shortened at word boundaries,
never with an ellipsis.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cds_service.cards.text import DETAIL_BUDGET, clip, day, value_text
from cds_service.engine.types import Trace
from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import Citation
from cds_service.snapshot.facts import MedicationFact, PatientSnapshot

MAX_CITATIONS = 3


def drug_name(fact: MedicationFact, kb: KnowledgeBase, limit: int = 36) -> str:
    """A short name for a medication: its own text when short, else its ingredients."""
    if len(fact.name) <= limit:
        return fact.name
    if fact.ingredients:
        names = [kb.ingredients[i].name.split(" (")[0] for i in fact.ingredients]
        joined = " / ".join(dict.fromkeys(names))
        if len(joined) <= limit:
            return joined
    return clip(fact.name, limit)


def when(fact: MedicationFact) -> str:
    """Since when a medication is taken, or that it is a draft."""
    if fact.draft:
        return "draft order"
    if not fact.active:
        stopped = fact.last_date.date().isoformat() if fact.last_date else "date unknown"
        return f"stopped {stopped}, within its washout"
    if fact.start_date is not None:
        return f"since {fact.start_date.date().isoformat()}"
    if fact.last_date is not None:
        return f"recorded {fact.last_date.date().isoformat()}"
    return fact.status or "active"


def fact_line(fact: MedicationFact, kb: KnowledgeBase) -> str:
    return f"{drug_name(fact, kb, 48)} ({fact.ref}, {when(fact)})"


def input_lines(trace: Trace, snapshot: PatientSnapshot, kb: KnowledgeBase) -> list[str]:
    """The inputs a rule read, one short line each: results with date, band and source,
    missing results, conditions, allergies and the age when it decided."""
    lines = []
    for measure_id, fact in trace.labs.items():
        measure = kb.measures[measure_id]
        band = next((b.label for b in measure.bands if b.id == fact.band), None)
        where = f"{band}; {fact.resource_id}" if band else fact.resource_id
        lines.append(f"{measure.label} {value_text(fact)}, {day(fact)} ({where})")
    # A stand-in (CRP for hs-CRP) is not named beside the measure it stands in for.
    stand_ins = {s for m in trace.missing for s in kb.measures[m].substitutes}
    missing = [
        kb.measures[measure_id].label
        for measure_id in trace.missing
        if measure_id not in stand_ins
        and not any(other in trace.labs for other in kb.measures[measure_id].substitutes)
    ]
    if missing:  # one phrase: a list of absent results must not crowd out the present ones
        lines.append("no current result: " + ", ".join(dict.fromkeys(missing)))
    for condition in trace.conditions.values():
        lines.append(f"{condition.name} ({condition.ref})")
    for allergy in trace.allergies.values():
        lines.append(f"allergy: {allergy.name} ({allergy.ref})")
    if trace.age_used:
        age = snapshot.age
        lines.append(f"age {age} years" if age is not None else "age not recorded")
    return lines


def source_links(citations: Iterable[Citation], limit: int = MAX_CITATIONS) -> str:
    """One to ``limit`` citations on one line, each linked, with PMID or DOI."""
    parts = []
    for citation in list(dict.fromkeys(citations))[:limit]:
        label = citation.label.split(" (")[0]
        if len(label) > 60:  # "FDA Drug Safety Communication 2011, serotonin syndrome ..."
            label = clip(label.split(", ")[0], 60)
        ident = f", PMID {citation.pmid}" if citation.pmid else ""
        if citation.doi:
            ident += f", doi:{citation.doi}"
        parts.append(f"[{label}]({citation.link}){ident}")
    return "Sources: " + "; ".join(parts) + "." if parts else ""


def short_footer(kb: KnowledgeBase, rule_ids: Iterable[str]) -> str:
    rules = ", ".join(dict.fromkeys(rule_ids)) or "none"
    return f"*Knowledge base {kb.version} · rules {rules}*"


def first_sentence(text: str) -> str:
    """The first sentence of a rule statement: the rule in one sentence."""
    text = " ".join(text.split())
    end = text.find(". ")
    return text if end == -1 else text[: end + 1]


def fit_detail(
    essential: Sequence[str],
    optional: Sequence[str | Sequence[str]],
    footer: str,
    shorter: Sequence[str] = (),
    keep: Sequence[str] = (),
) -> str:
    """Essential lines, the ``keep`` blocks (the inputs used: criterion 4), then as many optional
    blocks as fit (in order; a tuple of blocks is one choice: the first that fits), then the
    footer, within ``DETAIL_BUDGET``. When the essential lines and the kept blocks are too long,
    ``shorter`` (one line per finding, same findings in fewer words) replaces the essential
    lines: a finding is never dropped."""
    lines = list(essential)
    if len("\n".join([*lines, *keep, "", footer])) > DETAIL_BUDGET and shorter:
        lines = list(shorter)
    optional = [*keep, *optional]
    if lines and lines[-1]:
        lines.append("")
    for choice in optional:
        for block in [choice] if isinstance(choice, str) else choice:
            # Each block its own paragraph: markdown joins lines that are not separated.
            if block and len("\n".join([*lines, block, "", footer])) <= DETAIL_BUDGET:
                lines += [block, ""]
                break
    text = (
        "\n".join([*lines, footer])
        if not lines or not lines[-1]
        else "\n".join([*lines, "", footer])
    )
    if len(text) > DETAIL_BUDGET:  # the finding lines alone overflow: cut the longest at words
        budget = DETAIL_BUDGET - len(footer) - 2
        text = clip("\n".join(lines), budget) + "\n\n" + footer
    return text
