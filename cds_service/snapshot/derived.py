"""Values the lab did not send, computed from ones it did (``mappings/derived.yaml``).

Only eGFR from serum creatinine today: the reference says to derive an eGFR only when none was
sent, with the CKD-EPI 2021 race-free equation. The functional form is here; every coefficient
is in the knowledge base. A derived value is never made from a bound ("<0.5"), a stale input, a
code the equation was not developed for (whole-blood creatinine), or a patient whose sex (female
or male) or age is unknown or below the equation's minimum: the measure then stays missing and
the rules ask for the test, which is the conservative outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta

from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import DerivedMeasure
from cds_service.snapshot.facts import Derivation, LabFact
from cds_service.snapshot.measures import band_for


def derive_labs(
    kb: KnowledgeBase,
    labs: Mapping[str, LabFact],
    *,
    birth_date: date | None,
    sex: str | None,
    now: datetime,
) -> tuple[dict[str, LabFact], dict[str, str]]:
    """Derived facts for measures with no current result, and for those that could not be
    derived although related results exist, the reason (shown beside the missing input)."""
    derived: dict[str, LabFact] = {}
    notes: dict[str, str] = {}
    age = _age(birth_date, now)
    for item in kb.derived:
        if item.measure in labs:
            continue
        source = labs.get(item.input)
        if source is None:
            others = [labs[m] for m in item.not_from if m in labs]
            if others:
                notes[item.measure] = (
                    f"not derived from {_described(kb, others[0])}: {item.label} uses "
                    f"{kb.measures[item.input].name.lower()} only"
                )
            continue
        reason = _reason_not_derived(item, source, age, sex)
        measure = kb.measures[item.measure]
        if reason is None and now - source.effective > timedelta(days=measure.stale_after_days):
            reason = f"older than {measure.stale_after_days} days"
        if reason is not None or source.value is None or age is None or sex is None:
            why = reason or "incomplete data"
            notes[item.measure] = f"not derived from {_described(kb, source)}: {why}"
            continue
        value = float(f"{EQUATIONS[item.equation](item, source.value, age, sex):.10g}")
        unit = measure.canonical_unit or ""
        derived[item.measure] = LabFact(
            measure_id=item.measure,
            value=value,
            comparator=None,
            unit=unit,
            reported=f"{value:.1f} {unit} (calculated)",
            code=source.code,
            effective=source.effective,
            resource_id=source.resource_id,
            band=band_for(measure, value, None, sex=sex),
            derivation=Derivation(item.id, item.label, (source,), age, sex),
        )
    return derived, notes


def _reason_not_derived(
    item: DerivedMeasure, source: LabFact, age: int | None, sex: str | None
) -> str | None:
    """Why this input cannot be used for this patient, or None when it can."""
    if source.code not in item.input_codes:
        return f"{item.label} is not defined for LOINC {source.code}"
    if source.value is None or source.comparator is not None:
        return f"the result is a bound ({source.reported}), not a value"
    if source.value <= 0:
        return "the result is not a positive value"
    if sex not in item.sexes:
        return "sex not recorded as female or male"
    if age is None:
        return "age unknown (no birth date)"
    if age < item.min_age:
        return f"{item.label} is for patients aged {item.min_age} or over"
    return None


def _described(kb: KnowledgeBase, fact: LabFact) -> str:
    name = kb.measures[fact.measure_id].name.lower()
    return f"{name} {fact.reported} on {fact.effective.date().isoformat()}"


def _ckd_epi_2021(item: DerivedMeasure, creatinine: float, age: int, sex: str) -> float:
    """factor x min(Scr/k, 1)^a x max(Scr/k, 1)^upper x age_base^age (x female_factor)."""
    coefficients = item.sexes[sex]  # type: ignore[index]
    ratio = creatinine / coefficients.kappa
    value: float = (
        item.factor
        * min(ratio, 1.0) ** coefficients.alpha
        * max(ratio, 1.0) ** item.upper_exponent
        * item.age_base**age
    )
    return value * item.female_factor if sex == "female" else value


EQUATIONS = {"ckd-epi-2021-creatinine": _ckd_epi_2021}


def _age(birth_date: date | None, now: datetime) -> int | None:
    if birth_date is None:
        return None
    today = now.date()
    return (
        today.year
        - birth_date.year
        - ((today.month, today.day) < (birth_date.month, birth_date.day))
    )
