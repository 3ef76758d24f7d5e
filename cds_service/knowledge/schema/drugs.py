"""Medication classes, ingredients and products, and condition classes: what the classifier matches."""

from __future__ import annotations

from pydantic import Field, model_validator

from cds_service.knowledge.schema.common import _Model
from cds_service.knowledge.schema.rules import DoseThreshold


class MedicationClass(_Model):
    id: str
    name: str
    atc: list[str] = []  # ATC prefixes that imply the class
    # How long a stopped drug of this class still counts (washout), in days.
    washout_days: int = Field(default=14, ge=0)
    # Dietary supplements (often over the counter): when one is what makes a new order unsafe,
    # the order card offers to stop it (clinical-reference §7.6). Interventions always are.
    supplement: bool = False
    citations: list[str] = []


class Ingredient(_Model):
    id: str
    name: str
    rxnorm: list[str] = []  # RxNorm ingredient (IN/PIN/MIN) CUIs
    atc: list[str] = []  # exact ATC codes
    names: list[str] = []  # generic and brand names matched in display/text (lower case)
    # Local supplement codes (urn:neurotransmitter-cds:supplement) for ingredients with no
    # confirmed RxNorm code: what the service's own suggestions are coded with.
    supplement_codes: list[str] = []
    classes: list[str] = []
    # Classes the ingredient belongs to only above a daily dose (e.g. doxepin is a strong
    # anticholinergic above 6 mg/day, AGS Beers 2023): a medication whose dose is known to be at
    # or below the threshold is not of that class; an unknown dose counts as above (conservative).
    class_doses: dict[str, DoseThreshold] = {}
    washout_days: int | None = Field(default=None, ge=0)  # overrides the classes' windows
    # A supplement ingredient that is also one of our interventions (e.g. 5-HTP): a draft order
    # for it is checked by the same safety rules as a suggestion would be.
    intervention: str | None = None
    # True when the RxNorm/ATC codes were checked against a published table (see citations).
    verified: bool = False

    @model_validator(mode="after")
    def _class_doses(self) -> Ingredient:
        for class_id in self.class_doses:
            if class_id not in self.classes:
                raise ValueError(f"class_doses names {class_id!r}, which is not among classes")
        return self


class Strength(_Model):
    """Amount of one ingredient per unit of a product (tablet, capsule, mL)."""

    ingredient: str
    value: float = Field(gt=0)
    unit: str


class Product(_Model):
    """A curated RxNorm product (SCD/SBD/GPCK) and the ingredients it contains."""

    rxnorm: str
    display: str
    ingredients: list[str] = Field(min_length=1)
    strengths: list[Strength] = []


class ParenteralRoutes(_Model):
    """How a medication is recognised as given by injection or infusion rather than by mouth:
    a SNOMED CT route code on the dosage, or a word in the route's or the drug's text."""

    snomed: list[str] = []
    words: list[str] = []  # whole words, lower case (e.g. "intravenous", "injectable")


class ConditionClass(_Model):
    id: str
    name: str
    snomed: list[str] = []
    icd10: list[str] = []  # code prefixes, dots ignored (e.g. "F31", "O")
    names: list[str] = []  # text fallback (lower case), for uncoded conditions
    # Lifelong conditions (bipolar disorder, PKU, a history of serotonin syndrome) count even
    # when the Condition is resolved or inactive; only refuted/entered-in-error are ignored.
    counts_when_resolved: bool = False
    citations: list[str] = []
    # SNOMED CT codes of this class checked against a published source (real FHIR data with the
    # concept's display, a terminology table); the rest are listed by check-knowledge --verbose.
    verified: list[str] = []

    @model_validator(mode="after")
    def _verified_codes(self) -> ConditionClass:
        for code in self.verified:
            if code not in self.snomed:
                raise ValueError(f"verified code {code} is not among the snomed codes")
        return self
