"""Evaluate the predicate language of ``mappings/`` against a snapshot, recording a trace.

Every clause is two-valued; "no current value" is an explicit ``missing: true`` test, never an
implicit false that a rule could misread as "normal". An allergy to "what would be given"
(``allergy_to_subject``) needs the subject: the safety gate passes it as ``subject``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from cds_service.engine.types import Trace
from cds_service.knowledge.schema import (
    AgePredicate,
    AllergyPredicate,
    AllPredicate,
    AlwaysPredicate,
    AnyPredicate,
    ConditionPredicate,
    LabPredicate,
    MedicationPredicate,
    NotPredicate,
    Predicate,
    SexPredicate,
    SubjectAllergyPredicate,
)
from cds_service.snapshot.facts import PatientSnapshot


@dataclass(frozen=True, slots=True)
class Given:
    """What would be given, as an allergy sees it: its ingredients and interventions."""

    ingredients: Collection[str]
    interventions: Collection[str]


def holds(
    predicate: Predicate, snapshot: PatientSnapshot, trace: Trace, subject: Given | None = None
) -> bool:
    """True when the predicate holds for the patient; ``trace`` collects the inputs read."""
    if isinstance(predicate, LabPredicate):
        return _lab(predicate, snapshot, trace)
    if isinstance(predicate, AllPredicate):
        return all(holds(child, snapshot, trace, subject) for child in predicate.all)
    if isinstance(predicate, AnyPredicate):
        return any(holds(child, snapshot, trace, subject) for child in predicate.any)
    if isinstance(predicate, NotPredicate):
        return not holds(predicate.not_, snapshot, trace, subject)
    if isinstance(predicate, MedicationPredicate):
        return _medication(predicate, snapshot, trace)
    if isinstance(predicate, ConditionPredicate):
        found = False
        for condition in snapshot.conditions:
            if condition.active and predicate.condition in condition.classes:
                trace.conditions[condition.ref] = condition
                found = True
        return found
    if isinstance(predicate, AgePredicate):
        trace.age_used = True
        age = snapshot.age
        return predicate.if_unknown if age is None else predicate.age.contains(age)
    if isinstance(predicate, SexPredicate):
        return snapshot.sex == predicate.sex
    if isinstance(predicate, AlwaysPredicate):
        return True
    if isinstance(predicate, AllergyPredicate):
        found = False
        for allergy in snapshot.allergies:
            if predicate.allergy in allergy.allergens:
                trace.allergies[allergy.ref] = allergy
                found = True
        return found
    if isinstance(predicate, SubjectAllergyPredicate):
        return subject is not None and _allergic_to(subject, snapshot, trace)
    raise TypeError(f"unknown predicate {type(predicate).__name__}")  # pragma: no cover


def _lab(predicate: LabPredicate, snapshot: PatientSnapshot, trace: Trace) -> bool:
    fact = snapshot.labs.get(predicate.lab)
    if fact is None:
        trace.missing[predicate.lab] = None
        stale = snapshot.stale_labs.get(predicate.lab)
        if stale is not None:
            trace.stale[predicate.lab] = stale
        note = snapshot.notes.get(predicate.lab)
        if note is not None:
            trace.notes[predicate.lab] = note
        return bool(predicate.missing)
    trace.labs[predicate.lab] = fact
    if predicate.missing is not None:
        return not predicate.missing
    if predicate.band is not None:
        return fact.band in predicate.bands
    if fact.value is None or fact.comparator is not None:
        return False
    if predicate.above_reference is not None:
        high = fact.reference_high
        return high is not None and fact.value > high * predicate.above_reference
    if predicate.below_reference is not None:
        low = fact.reference_low
        return low is not None and fact.value < low * predicate.below_reference
    return False  # pragma: no cover - the schema requires one test


def _medication(predicate: MedicationPredicate, snapshot: PatientSnapshot, trace: Trace) -> bool:
    target = predicate.medication
    found = False
    pool = (
        snapshot.medications + snapshot.drafts if predicate.include_drafts else snapshot.medications
    )
    for medication in pool:
        if not (medication.active or (predicate.include_recent and medication.recent)):
            continue
        if predicate.min_days is not None and (
            medication.start_date is None
            or (snapshot.now - medication.start_date).days < predicate.min_days
        ):
            continue
        if target in medication.classes or target in medication.ingredients:
            trace.medications[medication.ref] = medication
            found = True
    return found


def _allergic_to(subject: Given, snapshot: PatientSnapshot, trace: Trace) -> bool:
    """An allergy naming the subject's ingredient, or another ingredient of its intervention
    (an allergy to "iron" counts for ferrous sulfate; one to ferrous sulfate for any iron)."""
    found = False
    for allergy in snapshot.allergies:
        if set(allergy.ingredients) & set(subject.ingredients) or set(allergy.interventions) & set(
            subject.interventions
        ):
            trace.allergies[allergy.ref] = allergy
            found = True
    return found
