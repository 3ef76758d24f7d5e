"""Derived measures: values the service computes when the lab sent none (e.g. eGFR)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from cds_service.knowledge.schema.common import _Model


class SexCoefficients(_Model):
    kappa: float = Field(gt=0)
    alpha: float


class DerivedMeasure(_Model):
    """A measure computed from another when no current result of it was sent.

    ``equation`` names the functional form (the only one known is the CKD-EPI 2021 race-free
    creatinine equation: factor x min(Scr/kappa, 1)^alpha x max(Scr/kappa, 1)^upper_exponent x
    age_base^age x female_factor if female); every coefficient lives here, in the data. The
    result carries its inputs, so a card shows what it was derived from. Only patients of a
    recorded sex (female or male) and a known age of at least ``min_age`` are derived.
    """

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    equation: Literal["ckd-epi-2021-creatinine"]
    label: str  # short name on cards, e.g. "CKD-EPI 2021"
    measure: str  # the measure computed (egfr)
    input: str  # the measure it is computed from (creatinine)
    # Codes of the input measure the equation was developed for (standardised serum/plasma).
    input_codes: list[str] = Field(min_length=1)
    input_unit: str  # the unit the coefficients expect; must be the input's canonical unit
    min_age: int = Field(ge=0)
    factor: float = Field(gt=0)
    upper_exponent: float
    age_base: float = Field(gt=0)
    female_factor: float = Field(gt=0)
    sexes: dict[Literal["female", "male"], SexCoefficients]
    # Measures of the same analyte the equation must not read (whole-blood creatinine): when one
    # of them is all there is, the card says why no value was derived from it.
    not_from: list[str] = []
    notes: list[str] = []
    citations: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _both_sexes(self) -> DerivedMeasure:
        if set(self.sexes) != {"female", "male"}:
            raise ValueError("sexes must give coefficients for female and male")
        return self


KnowledgeFile = Literal[
    "knowledge.yaml",
    "definitions.yaml",
    "citations.yaml",
    "analytes.yaml",
    "questionnaires.yaml",
    "pathways.yaml",
    "interventions.yaml",
    "lab_orders.yaml",
    "medications.yaml",
    "conditions.yaml",
    "safety.yaml",
    "derived.yaml",
]
