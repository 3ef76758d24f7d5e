"""Order checks beyond drug-condition rules (``mappings/order_checks.yaml``, ``allergies.yaml``):
dose limits (single and cumulative), therapeutic duplication, what one unit of an ingredient
weighs, and allergen classes. ``engine/dose_limits.py``, ``engine/duplication.py`` and the
safety gate's allergy predicates apply them.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from cds_service.knowledge.schema.common import RuleHeader, _Model
from cds_service.knowledge.schema.predicates import Predicate
from cds_service.knowledge.schema.rules import Dose, DoseThreshold


class IngredientAmount(_Model):
    """How an amount of an ingredient counts against a limit: the mass of one international unit
    (vitamin D: 40 IU = 1 ug), and the elemental share of a salt (ferrous sulfate: 20 % iron)."""

    ingredient: str  # an ingredient id of medications.yaml
    per_iu: Dose | None = None  # the mass that one IU stands for
    elemental_fraction: float | None = Field(default=None, gt=0, le=1)
    note: str  # the factor in plain words, with its basis
    citations: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _something(self) -> IngredientAmount:
        if self.per_iu is None and self.elemental_fraction is None:
            raise ValueError("an ingredient amount needs per_iu or elemental_fraction")
        return self


class DoseException(_Model):
    """A higher limit that applies when ``when`` holds (e.g. repletion of a proven deficiency)."""

    when: Predicate
    warn_above: DoseThreshold
    reason: str  # shown on the card, e.g. "25-OH vitamin D deficient: repletion dosing"


class DoseLimit(RuleHeader):
    """A daily limit on an ingredient group, checked against the new order alone and against the
    new order plus every active order or statement of the group (cumulative)."""

    interventions: list[str] = []  # every ingredient of these interventions counts
    ingredients: list[str] = []  # and these ingredients
    warn_above: DoseThreshold  # a warning above this daily amount
    info_above: DoseThreshold | None = None  # a note above this one (e.g. B6 above 25 mg)
    exceptions: list[DoseException] = []  # first that holds replaces warn_above
    limit_source: str  # the limit's source in a few words, for the card ("IOM 2011 UL")

    @model_validator(mode="after")
    def _group(self) -> DoseLimit:
        if not (self.interventions or self.ingredients):
            raise ValueError("a dose limit needs interventions or ingredients")
        return self


class DuplicationRule(RuleHeader):
    """The same supplement ordered while it is already taken (or ordered twice at once)."""

    interventions: list[str] = []  # empty: every intervention


class AllergenClass(_Model):
    """Something a patient can be allergic to that a rule names (fish, shellfish, cobalt)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    snomed: list[str] = []
    names: list[str] = []  # matched as whole words in the allergy's text (lower case)
    verified: list[str] = []  # SNOMED CT codes checked against a published source
    citations: list[str] = []

    @model_validator(mode="after")
    def _verified_codes(self) -> AllergenClass:
        for code in self.verified:
            if code not in self.snomed:
                raise ValueError(f"verified code {code} is not among the snomed codes")
        return self
