"""Predicates: the closed language of ``when`` and ``trigger`` clauses (``engine/predicates.py``
evaluates it)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from cds_service.knowledge.schema.common import _Model


class LabPredicate(_Model):
    """True when the current value of ``lab`` (an analyte or questionnaire id) is in a band.

    With ``missing: true`` it is true when there is no current, usable value.
    """

    lab: str
    band: str | list[str] | None = None
    missing: bool | None = None
    # Against the reporting lab's own reference range: "above" means > high (times factor).
    above_reference: float | None = None
    below_reference: float | None = None

    @model_validator(mode="after")
    def _one_test(self) -> LabPredicate:
        tests = [self.band, self.missing, self.above_reference, self.below_reference]
        if sum(t is not None for t in tests) != 1:
            raise ValueError("a lab predicate needs exactly one of band, missing, *_reference")
        return self

    @property
    def bands(self) -> tuple[str, ...]:
        if self.band is None:
            return ()
        return (self.band,) if isinstance(self.band, str) else tuple(self.band)


class ConditionPredicate(_Model):
    condition: str  # a condition class id (conditions.yaml)


class MedicationPredicate(_Model):
    """True when the patient takes (or took within the washout window) a drug of this class."""

    medication: str  # a medication class id or ingredient id (medications.yaml)
    include_recent: bool = True
    include_drafts: bool = False
    # Only when taken for at least this many days (start of therapy known), e.g. zinc >= 8 weeks.
    min_days: int | None = Field(default=None, ge=1)


class Range(_Model):
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None

    def contains(self, value: float) -> bool:
        return (
            (self.gt is None or value > self.gt)
            and (self.ge is None or value >= self.ge)
            and (self.lt is None or value < self.lt)
            and (self.le is None or value <= self.le)
        )


class AgePredicate(_Model):
    age: Range
    # What to conclude when the birth date is unknown (conservative rules say true).
    if_unknown: bool = False


class AllergyPredicate(_Model):
    """True when an active, not refuted allergy or intolerance of this class is recorded
    (an allergen class id of allergies.yaml, e.g. fish)."""

    allergy: str


class SubjectAllergyPredicate(_Model):
    """True when an active allergy names what would be given itself: its ingredient (by code or
    name) or, for a supplement, any ingredient of the same intervention. Evaluated by the safety
    gate, which knows the subject; anywhere else it is false."""

    allergy_to_subject: Literal[True]


class SexPredicate(_Model):
    sex: Literal["female", "male", "other", "unknown"]


class AlwaysPredicate(_Model):
    """True for every patient, reading nothing: a safety rule decided by the dose alone (zinc
    above 40 mg/day), so the card names no input it did not use (an age, say)."""

    always: Literal[True]


class UsePredicate(_Model):
    """A named predicate from ``definitions.yaml``; replaced by its definition at load."""

    use: str


class AllPredicate(_Model):
    all: list[Predicate] = Field(min_length=1)


class AnyPredicate(_Model):
    any: list[Predicate] = Field(min_length=1)


class NotPredicate(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    not_: Predicate = Field(alias="not")


Predicate = Annotated[
    LabPredicate
    | ConditionPredicate
    | MedicationPredicate
    | AgePredicate
    | AllergyPredicate
    | SubjectAllergyPredicate
    | SexPredicate
    | AlwaysPredicate
    | UsePredicate
    | AllPredicate
    | AnyPredicate
    | NotPredicate,
    Field(union_mode="left_to_right"),
]
AllPredicate.model_rebuild()
AnyPredicate.model_rebuild()
NotPredicate.model_rebuild()
