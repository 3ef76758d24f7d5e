"""The parts of a card's markdown detail that every kind of card shares: the input table,
thresholds in plain words, symptom scores, the medications a rule read, sources and footer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cds_service.engine.types import Decision, Trace
from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import (
    NON_ACTIONABLE_FLAGS,
    Citation,
    Measure,
)
from cds_service.snapshot.facts import LabFact, PatientSnapshot


def symptom_lines(symptoms: Sequence[LabFact], kb: KnowledgeBase) -> list[str]:
    """The symptom burden: the pathway's questionnaire scores with their bands and dates."""
    if not symptoms:
        return []
    lines = ["**Symptom burden**", ""]
    for fact in symptoms:
        measure = kb.measures[fact.measure_id]
        band = next((b.label for b in measure.bands if b.id == fact.band), "no band")
        value = f"{fact.value:g}" if fact.value is not None else fact.reported
        lines.append(f"- {measure.name}: {value} ({band}), {fact.effective.date().isoformat()}")
    return [*lines, ""]


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


def medication_names(trace: Trace, kb: KnowledgeBase | None = None) -> str:
    """The medications a rule read, with their source resources, e.g. for a drug-led finding.
    Where a drug belongs to a class only above a dose (doxepin > 6 mg/day), the dose that
    decided it is shown, or that it was unknown and counted (conservative)."""
    parts = []
    for medication in trace.medications.values():
        notes = []
        for ingredient_id in medication.ingredients if kb is not None else ():
            conditional = kb.ingredients[ingredient_id].class_doses  # type: ignore[union-attr]
            if any(class_id in medication.classes for class_id in conditional):
                dose = medication.doses.get(ingredient_id)
                notes.append(
                    f"dose {dose.describe()}" if dose else "dose unknown: counted (conservative)"
                )
        where = "; ".join([medication.ref, *notes])
        parts.append(f"{medication.name} ({where})")
    return ", ".join(parts)


def _interpreted(fact: LabFact, measure: Measure) -> str:
    band = next((b.label for b in measure.bands if b.id == fact.band), None)
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


def checks_run(
    decisions: Sequence[Decision], snapshot: PatientSnapshot, kb: KnowledgeBase
) -> list[str]:
    """The contraindication checks that ran, and the medications that could not be checked."""
    rules: dict[str, str] = {}
    for decision in decisions:
        if decision.candidate.kind != "medication":
            continue
        for rule in kb.safety_rules_by_intervention[decision.candidate.target]:
            rules[rule.id] = rule.title
    lines = []
    if rules:
        lines += ["**Safety checks run**", ""]
        lines.append("- " + "; ".join(f"{rid} {title}" for rid, title in rules.items()))
        lines.append(
            f"- Medications considered: {len(snapshot.medications)} current or recent; conditions: {len(snapshot.conditions)} classified."
        )
    unclassified = snapshot.unclassified_medications
    if unclassified:
        names = ", ".join(sorted({m.name for m in unclassified}))
        lines.append(f"- Not checked (not recognised): {names}.")
    if rules and not snapshot.allergies_read:
        lines.append("- Allergies: not checked (the patient's allergies could not be obtained).")
    return [*lines, ""] if lines else []


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


def footer(kb: KnowledgeBase, rule_ids: Iterable[str]) -> str:
    rules = ", ".join(rule_ids)
    return (
        f"---\n*{kb.manifest.name} v{kb.version} (released {kb.manifest.released.isoformat()}); "
        f"rules: {rules}. For clinicians caring for adults; options for discussion, not orders. "
        "Uses laboratory results, questionnaire scores, medications, conditions, age and sex "
        "(sex-specific thresholds); does not use race, ethnicity or social determinants of health. "
        f"Developer: {kb.manifest.publisher}. Funding: {kb.manifest.funding}*"
    )
