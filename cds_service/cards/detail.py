"""The parts of a card's markdown detail that several kinds of card share: the input table
and thresholds of order-time cards, the source line, the footer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cds_service.engine.types import Trace
from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import (
    NON_ACTIONABLE_FLAGS,
    Citation,
    Measure,
)
from cds_service.snapshot.facts import LabFact


def input_table(trace: Trace, kb: KnowledgeBase, extra: Sequence[LabFact] = ()) -> list[str]:
    """The exact inputs: value as reported, value in the canonical unit with its band, date and
    source resource; missing and stale inputs are listed as such."""
    facts = {**trace.labs, **{f.measure_id: f for f in extra}}
    if not (facts or trace.missing):
        return []
    lines = ["| Input | Result | Interpreted | Date | Source |", "|---|---|---|---|---|"]
    for measure_id, fact in facts.items():
        measure = kb.measures[measure_id]
        lines.append(
            f"| {_input_name(fact, measure, kb)} | {fact.reported} | {_interpreted(fact, measure)} "
            f"| {fact.effective.date().isoformat()} | {fact.resource_id} |"
        )
    listed: set[str] = set()
    for measure_id in trace.missing:
        measure = kb.measures[measure_id]
        if any(other in facts or other in listed for other in measure.substitutes):
            continue  # e.g. CRP missing but hs-CRP present (or already listed as missing)
        listed.add(measure_id)
        stale = trace.stale.get(measure_id)
        if stale is not None:
            lines.append(
                f"| {measure.name} | {stale.reported} | not used: older than "
                f"{measure.stale_after_days} days | {stale.effective.date().isoformat()} | {stale.resource_id} |"
            )
        else:
            note = trace.notes.get(measure_id)
            lines.append(
                f"| {measure.name} | no result | missing{'; ' + note if note else ''} | | |"
            )
    return [*lines, ""]


def _input_name(fact: LabFact, measure: Measure, kb: KnowledgeBase) -> str:
    """The measure and its code, or for a value the service computed, what it came from."""
    derivation = fact.derivation
    if derivation is None:
        return f"{measure.name} (LOINC {fact.code})"
    sources = ", ".join(
        f"{kb.measures[i.measure_id].name.split(',')[0].lower()} {i.reported} "
        f"(LOINC {i.code}) on {i.effective.date().isoformat()}"
        for i in derivation.inputs
    )
    return (
        f"{measure.name} (derived from {sources}, {derivation.label}; "
        f"age {derivation.age}, {derivation.sex})"
    )


def record_names(trace: Trace) -> str:
    """The medications and conditions a predicate found, with their source resources."""
    items = [f"{m.name} ({m.ref})" for m in trace.medications.values()]
    items += [f"{c.name} ({c.ref})" for c in trace.conditions.values()]
    return ", ".join(items)


def results_read(trace: Trace, kb: KnowledgeBase) -> str:
    """The results a safety rule read, e.g. "Calcium, serum 11.8 mg/dL (2026-11-20)"."""
    return "; ".join(
        f"{kb.measures[m].name} {short_value(f)} ({f.effective.date().isoformat()})"
        for m, f in trace.labs.items()
    )


def _interpreted(fact: LabFact, measure: Measure) -> str:
    text = _band_text(fact, measure)
    previous = fact.previous
    if previous is None:
        return text
    return f"{text}; previous {short_value(previous)} ({previous.effective.date().isoformat()})"


def short_value(fact: LabFact) -> str:
    """A value in the measure's canonical unit, e.g. "240 pg/mL" (as reported if qualitative)."""
    if fact.value is None:
        return fact.reported
    return f"{fact.comparator or ''}{fact.value:.4g} {display_unit(fact.unit)}".strip()


def _band_text(fact: LabFact, measure: Measure) -> str:
    band = fact.band_label or next((b.label for b in measure.bands if b.id == fact.band), None)
    if fact.value is None:
        return band or "recorded"
    value = f"{fact.comparator or ''}{fact.value:.4g} {display_unit(fact.unit)}".strip()
    if fact.method:
        value += f" ({fact.method} method)"
    flags = NON_ACTIONABLE_FLAGS.intersection(measure.flags)
    if flags:
        return f"{value}: displayed only ({', '.join(sorted(flags))})"
    return f"{value}: {band}" if band else f"{value}: band not determinable"


def display_unit(unit: str) -> str:
    """UCUM annotations ("{score}") read as plain words."""
    return unit.strip("{}") if unit.startswith("{") else unit


def threshold_line(measure: Measure, kb: KnowledgeBase, sex: str | None = None) -> str:
    """The measure's bands in plain words, with unit conversions; "" when it has none. With
    sex-specific bands, only those that apply to the patient (the general ones if unknown)."""
    # Fixed text per measure and sex, asked for on every card: built once per knowledge base.
    # Bands name only "female" or "male"; any other recorded gender reads the general bands.
    sex = sex if sex in ("female", "male") else None
    if kb.measures.get(measure.id) is not measure:  # not one of this knowledge base's own
        return _threshold_line(measure, kb, sex)
    lines = kb.memo.setdefault("threshold_line", {})
    line = lines.get((measure.id, sex))
    if line is None:
        line = lines[(measure.id, sex)] = _threshold_line(measure, kb, sex)
    return line


def _threshold_line(measure: Measure, kb: KnowledgeBase, sex: str | None) -> str:
    bands = [b for b in measure.bands if b.sex is None or b.sex == sex]
    specific = {b.id for b in bands if b.sex is not None}
    bands = [b for b in bands if b.sex is not None or b.id not in specific]
    if not bands:
        return ""
    if measure.canonical_unit is None:
        labels = " / ".join(dict.fromkeys(b.label for b in bands))
        return f"- {measure.name}: {labels} (coded or text result)"
    described = "; ".join(
        f"{b.label}: {b.describe(display_unit(measure.canonical_unit))}{' (threshold contested)' if b.contested else ''}"
        for b in bands
    )
    others = [u for u in measure.units if u.unit != measure.canonical_unit and u.per_canonical != 1]
    conversion = ""
    if others:
        conversion = (
            " ("
            + ", ".join(
                f"1 {measure.canonical_unit} = {u.per_canonical:g} {u.unit}" for u in others
            )
            + ")"
        )
    return f"- {measure.name}: {described}{conversion}"


def sources(citations: Iterable[Citation]) -> list[str]:
    lines = ["**Sources**", ""]
    for number, citation in enumerate(citations, start=1):
        ids = []
        if citation.pmid:
            ids.append(f"PMID {citation.pmid}")
        if citation.doi:
            ids.append(f"doi:{citation.doi}")
        ident = f" ({', '.join(ids)})" if ids else ""
        lines.append(f"{number}. [{citation.label}]({citation.link}){ident}")
    return [*lines, ""]


def citation_line(citation: Citation) -> str:
    """ "[Devalia 2014, Br J Haematol](https://pubmed.ncbi.nlm.nih.gov/24942828/)": the short
    label (no subtitle) linked by its PMID or DOI."""
    label = citation.label.split(" (")[0]
    if len(label) > 40:  # "WHO 2015, serum and red blood cell folate ..." -> "WHO 2015"
        label = label.split(",")[0]
    if len(label) > 40:  # "WHO 2020 guideline on ferritin ..." -> "WHO 2020 guideline"
        label = " ".join(label.split()[:3])
    return f"[{label}]({citation.link})"


def footer(kb: KnowledgeBase, rule_ids: Iterable[str]) -> str:
    rules = ", ".join(rule_ids)
    return (
        f"---\n*{kb.manifest.name} v{kb.version} (released {kb.manifest.released.isoformat()}); "
        f"rules: {rules}. For clinicians caring for adults; options for discussion, not orders. "
        "Uses laboratory results, questionnaire scores, medications, conditions, age and sex "
        "(sex-specific thresholds); does not use race, ethnicity or social determinants of health. "
        f"Developer: {kb.manifest.publisher}. Funding: {kb.manifest.funding}*"
    )
