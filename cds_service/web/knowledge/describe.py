"""The knowledge base's structures in plain words: predicates, bands in every unit, doses.

Only the form is written here ("all of", "no current result of"); every name, label and
number comes from ``mappings/``. A band is given in the canonical unit exactly as the data
write it and in each other unit system converted with the data's own factor.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.references import walk
from cds_service.knowledge.schema import (
    AgePredicate,
    AllergyPredicate,
    AllPredicate,
    AlwaysPredicate,
    AnyPredicate,
    Band,
    ConditionPredicate,
    DoseThreshold,
    LabPredicate,
    Measure,
    MedicationPredicate,
    NotPredicate,
    Predicate,
    Range,
    SexPredicate,
    SubjectAllergyPredicate,
)
from cds_service.web.bands import number
from cds_service.web.knowledge.catalog import MEASURE, page_path
from cds_service.web.knowledge.parts import Line, Text, dose_unit, joined


@dataclass(frozen=True, slots=True)
class UnitSystem:
    """Units that give the same number: one column of a band table (pg/mL and ng/L)."""

    unit: str
    also: tuple[str, ...]
    factor: float  # units per canonical unit

    @property
    def heading(self) -> str:
        return " = ".join((self.unit, *self.also))


_ANNOTATION = str.maketrans("", "", "{}[]")


def display_unit(unit: str) -> str:
    """UCUM as a label prints it: "{score}" -> "score", "m[IU]/L" -> "mIU/L",
    "mL/min/{1.73_m2}" -> "mL/min/1.73 m2"."""
    return unit.translate(_ANNOTATION).replace("_", " ")


def unit_systems(measure: Measure) -> tuple[UnitSystem, ...]:
    """The measure's units grouped by factor, the canonical unit's group first."""
    if measure.canonical_unit is None:
        return ()
    groups: dict[float, list[str]] = {}
    canonical = next(u for u in measure.units if u.unit == measure.canonical_unit)
    groups[canonical.per_canonical] = [display_unit(canonical.unit)]
    for unit in measure.units:
        spelled = display_unit(unit.unit)
        group = groups.setdefault(unit.per_canonical, [])
        if spelled not in group:
            group.append(spelled)
    return tuple(UnitSystem(units[0], tuple(units[1:]), factor) for factor, units in groups.items())


def bound_text(value: float, factor: float) -> str:
    """A bound in a unit system: as the data write it when unconverted, else 3 figures."""
    return f"{value:g}" if factor == 1 else number(value * factor)


def band_range(band: Band, system: UnitSystem) -> str:
    """ "≥ 15 and < 45 ng/mL" in this unit system; "any value" for an unbounded band."""
    parts = []
    if band.lower is not None:
        parts.append(f"{'≥' if band.lower[1] else '>'} {bound_text(band.lower[0], system.factor)}")
    if band.upper is not None:
        parts.append(f"{'≤' if band.upper[1] else '<'} {bound_text(band.upper[0], system.factor)}")
    return f"{' and '.join(parts)} {system.unit}" if parts else "any value"


def applies_to(band: Band, measure: Measure) -> str:
    """Whom a band applies to: "female", "rbc method"; "everyone else" for the general band
    that follows sex- or method-specific bands of the same id; "" for everyone."""
    qualifiers = [q for q in (band.sex, band.method and f"{band.method} method") if q]
    if qualifiers:
        return ", ".join(qualifiers)
    specific = any(b.id == band.id and (b.sex or b.method) for b in measure.bands)
    return "everyone else" if specific else ""


def band_label(measure: Measure, band_id: str) -> str:
    label = next((b.label for b in measure.bands if b.id == band_id), None)
    return label or band_id


def measure_link(kb: KnowledgeBase, measure_id: str) -> Text:
    measure = kb.measures.get(measure_id)
    if measure is None:
        return Text(measure_id)
    return Text(measure.name, page_path(MEASURE, measure_id))


# -- predicates ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Condition:
    """A predicate as a tree of plain-words lines (``all of`` / ``any of`` / ``not`` nest)."""

    line: Line
    children: tuple[Condition, ...] = ()


def condition(predicate: Predicate, kb: KnowledgeBase) -> Condition:
    """The predicate in plain words, with links to the measures it reads."""
    if isinstance(predicate, AllPredicate):
        return Condition((Text("all of:"),), tuple(condition(p, kb) for p in predicate.all))
    if isinstance(predicate, AnyPredicate):
        return Condition((Text("any of:"),), tuple(condition(p, kb) for p in predicate.any))
    if isinstance(predicate, NotPredicate):
        return Condition((Text("not:"),), (condition(predicate.not_, kb),))
    return Condition(_leaf(predicate, kb))


def _leaf(predicate: Predicate, kb: KnowledgeBase) -> Line:
    if isinstance(predicate, LabPredicate):
        return _lab(predicate, kb)
    if isinstance(predicate, ConditionPredicate):
        found = kb.condition_classes.get(predicate.condition)
        return (Text(f"condition on record: {found.name if found else predicate.condition}"),)
    if isinstance(predicate, MedicationPredicate):
        return (Text(_medication(predicate, kb)),)
    if isinstance(predicate, AgePredicate):
        unknown = " (also when the age is unknown)" if predicate.if_unknown else ""
        return (Text(f"age {range_text(predicate.age)} years{unknown}"),)
    if isinstance(predicate, AllergyPredicate):
        allergen = kb.allergens.get(predicate.allergy)
        return (Text(f"allergy on record: {allergen.name if allergen else predicate.allergy}"),)
    if isinstance(predicate, SubjectAllergyPredicate):
        return (Text("an allergy on record to the product itself (its ingredient)"),)
    if isinstance(predicate, SexPredicate):
        return (Text(f"sex recorded as {predicate.sex}"),)
    if isinstance(predicate, AlwaysPredicate):
        return (Text("every patient (nothing is read)"),)
    # ``use:`` references are resolved at load; anything else is a schema change to describe.
    return (Text(type(predicate).__name__),)


def _lab(predicate: LabPredicate, kb: KnowledgeBase) -> Line:
    link = measure_link(kb, predicate.lab)
    measure = kb.measures.get(predicate.lab)
    if predicate.missing is not None:
        return (Text(f"{_test(predicate)} of "), link)
    if not predicate.bands:
        return (link, Text(f" {_test(predicate)}"))
    labels = [band_label(measure, b) if measure else b for b in predicate.bands]
    return (link, Text(": " + " or ".join(dict.fromkeys(labels))))


def _test(predicate: LabPredicate) -> str:
    """What a lab predicate without bands tests, in words."""
    if predicate.missing is not None:
        return "no current result" if predicate.missing else "a current result"
    side, factor = (
        ("above the upper", predicate.above_reference)
        if predicate.above_reference is not None
        else ("below the lower", predicate.below_reference)
    )
    times = f" times {factor:g}" if factor not in (None, 1) else ""
    return f"{side} limit of the lab's reference range{times}"


def _medication(predicate: MedicationPredicate, kb: KnowledgeBase) -> str:
    named = kb.medication_classes.get(predicate.medication) or kb.ingredients.get(
        predicate.medication
    )
    name = named.name if named else predicate.medication
    when = "now, or stopped within its washout" if predicate.include_recent else "now"
    text = f"takes {name} ({when}"
    if predicate.min_days:
        text += f", for at least {predicate.min_days} days"
    if predicate.include_drafts:
        text += ", or it is being ordered"
    return text + ")"


def range_text(bounds: Range) -> str:
    parts = []
    for symbol, value in (("≥", bounds.ge), (">", bounds.gt), ("≤", bounds.le), ("<", bounds.lt)):
        if value is not None:
            parts.append(f"{symbol} {value:g}")
    return " and ".join(parts) or "any"


def dose_threshold(threshold: DoseThreshold) -> str:
    """ "> 40 mg/day" with units as a label prints them (IU, µg)."""
    bound = f"> {threshold.gt:,g}" if threshold.gt is not None else f"≥ {threshold.ge or 0:,g}"
    return f"{bound} {dose_unit(threshold.unit)}/day"


# -- thresholds read ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Test:
    """One band (or other test) a rule reads, in every unit system of its measure."""

    test: str  # the band's label, or what else is tested ("no current result")
    applies_to: str  # "female", "rbc method", "everyone else"; "" for everyone
    ranges: tuple[str, ...]  # canonical first; empty for tests without numbers
    contested: bool


@dataclass(frozen=True, slots=True)
class Threshold:
    """A measure a rule reads: how long its result counts, and each of its tests."""

    measure: Text
    current_for: str
    tests: tuple[Test, ...]


def thresholds(predicates: Iterable[Predicate], kb: KnowledgeBase) -> tuple[Threshold, ...]:
    """Every band, reference-range test and presence test the predicates read, once each,
    grouped by measure in the order the predicates name them."""
    tests: dict[str, dict[tuple[str, str], Test]] = {}
    for node in _labs(predicates):
        measure = kb.measures.get(node.lab)
        if measure is None:
            continue
        found = tests.setdefault(node.lab, {})
        if not node.bands:
            test = _test(node)
            found.setdefault((test, ""), Test(test, "", (), False))
            continue
        systems = unit_systems(measure)
        for band_id in node.bands:
            variants = [b for b in measure.bands if b.id == band_id]
            if not variants:  # a qualitative band (e.g. hCG positive): coded or text results
                found.setdefault((band_id, ""), Test(band_id, "", ("coded or text result",), False))
            for band in variants:
                whom = applies_to(band, measure)
                found.setdefault(
                    (band.id, whom),
                    Test(
                        band.label,
                        whom,
                        tuple(band_range(band, s) for s in systems),
                        band.contested,
                    ),
                )
    return tuple(
        Threshold(
            measure_link(kb, measure_id),
            f"{kb.measures[measure_id].stale_after_days} days",
            tuple(found.values()),
        )
        for measure_id, found in tests.items()
    )


def bands_read(predicates: Iterable[Predicate]) -> dict[str, set[str]]:
    """Measure id -> the band ids the predicates test (for the band bars' highlight)."""
    read: dict[str, set[str]] = {}
    for node in _labs(predicates):
        if node.bands:
            read.setdefault(node.lab, set()).update(node.bands)
    return read


def measures_read(predicates: Iterable[Predicate]) -> list[str]:
    return list(dict.fromkeys(node.lab for node in _labs(predicates)))


def _labs(predicates: Iterable[Predicate]) -> Iterator[LabPredicate]:
    for predicate in predicates:
        for node in walk(predicate):
            if isinstance(node, LabPredicate):
                yield node


def names(kb: KnowledgeBase, ids: Iterable[str]) -> Line:
    """Medication classes, ingredients or interventions by name, in a sentence."""
    out = []
    for item in ids:
        named = (
            kb.medication_classes.get(item)
            or kb.ingredients.get(item)
            or kb.interventions.get(item)
        )
        out.append(Text(named.name if named else item))
    return joined(out)
