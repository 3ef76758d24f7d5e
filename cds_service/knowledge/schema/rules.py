"""Pathways, interventions, lab orders, recommendation rules and order-time guidance."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from cds_service.knowledge.schema.common import Code, Grade, _Model
from cds_service.knowledge.schema.predicates import Predicate


class Pathway(_Model):
    id: str
    name: str
    role: Literal["primary", "context", "cross-cutting"]
    summary: str
    precursors: list[str] = []
    synthesis: list[str] = []  # precursor -> product steps (enzyme; co-factors)
    rate_limiting_steps: list[str] = []
    cofactors: list[str] = []
    catabolism: list[str] = []
    markers: list[str] = []  # measure ids that bear on this pathway
    # Questionnaire ids whose scores describe the symptom burden shown on the card.
    symptom_measures: list[str] = []
    # Markers without a clinical reference interval or code (e.g. the kynurenine/tryptophan
    # ratio): named on the card, never read by a rule.
    research_markers: list[str] = []
    # GABA/glutamate: context only, never precursor suggestions.
    precursor_suggestions: bool = True
    limitations: list[str] = []
    citations: list[str] = []
    order: int = 100  # relevance order on cards, lower first


class Dose(_Model):
    """An amount per day, e.g. ``{value: 25, unit: mg}``; units: g, mg, ug (mcg) or IU."""

    value: float = Field(gt=0)
    unit: str


class DoseThreshold(_Model):
    """A dose above which a safety rule applies (per day, in ``unit``)."""

    gt: float | None = None
    ge: float | None = None
    unit: str

    @model_validator(mode="after")
    def _one_bound(self) -> DoseThreshold:
        if (self.gt is None) == (self.ge is None):
            raise ValueError("a dose threshold needs exactly one of gt, ge")
        return self

    def exceeded_by(self, value: float) -> bool:
        return value > self.gt if self.gt is not None else value >= (self.ge or 0)

    def describe(self) -> str:
        bound = f"> {self.gt:g}" if self.gt is not None else f"≥ {self.ge:g}"
        return f"{bound} {self.unit}/day"


class Intervention(_Model):
    id: str
    name: str
    kind: Literal["precursor", "cofactor", "modulator"]
    pathways: list[str] = Field(min_length=1)
    ingredient: Code  # RxNorm ingredient
    dose_text: str  # goes into MedicationRequest.dosageInstruction.text
    # The dose a suggestion proposes, per day: dose-dependent safety rules read it.
    daily_dose: Dose
    # A ceiling the service never exceeds (e.g. vitamin B6 25 mg/day); checked at load.
    max_daily_dose: Dose | None = None
    upper_limit: str | None = None  # tolerable upper intake level, with its source
    studied_dose: str
    grade: Grade
    evidence: str  # one or two sentences, plain words
    limitations: list[str] = []
    tags: list[str] = []  # read by safety rules (e.g. serotonergic-precursor, cation)
    # How a product is recognised as this intervention is not here: medications.yaml's
    # ingredients that name it (`intervention:`) are the one recognition table.
    offer: bool = True  # False = never suggested (e.g. phenylalanine: do not offer)
    do_not_offer_reason: str | None = None
    citations: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _reason(self) -> Intervention:
        if not self.offer and not self.do_not_offer_reason:
            raise ValueError("do_not_offer_reason is required when offer is false")
        cap = self.max_daily_dose
        if cap is not None:
            if cap.unit != self.daily_dose.unit:
                raise ValueError("max_daily_dose must use the unit of daily_dose")
            if self.daily_dose.value > cap.value:
                raise ValueError(
                    f"daily_dose {self.daily_dose.value:g} {cap.unit} exceeds max_daily_dose {cap.value:g}"
                )
        return self


class LabOrder(_Model):
    id: str
    name: str
    code: Code  # LOINC
    reason: str
    # Not suggested while any of these measures has a current result (unless a rule asks for
    # a repeat): "order B12" disappears once a current B12 exists.
    satisfied_by: list[str] = Field(min_length=1)


class MedicationSuggestion(_Model):
    medication: str  # intervention id


class LabOrderSuggestion(_Model):
    lab_order: str  # lab order id
    # Suggest even when a current result exists (e.g. repeat a CRP above 10 mg/L).
    repeat: bool = False
    # The interventions this test must come before (e.g. hCG before amino-acid precursors).
    # When safety withholds every one of them for another reason, the test changes nothing and
    # is not suggested.
    prerequisite_for: list[str] = []


SuggestionRef = Annotated[
    MedicationSuggestion | LabOrderSuggestion, Field(union_mode="left_to_right")
]


class Rule(_Model):
    """A recommendation rule: When <predicate> Then <finding> (and suggest ...)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")
    version: int = Field(ge=1)
    pathway: str
    title: str
    statement: str  # the rule in plain words, shown on the card
    when: Predicate
    finding: str  # short phrase, e.g. "Vitamin B12 deficient"
    # limitation: a co-factor deficit or precursor shortfall (status "possible limitation");
    # uncertain: data missing or equivocal (status "insufficient data"); option: a symptom-led
    # option for discussion; caution: something the clinician should know before any option;
    # context: shown on the cards of other findings, never a card on its own.
    severity: Literal["limitation", "uncertain", "option", "caution", "context"] = "limitation"
    suggest: list[SuggestionRef] = []
    grade: Grade
    citations: list[str] = Field(min_length=1)


class Definition(_Model):
    """A named predicate (``definitions.yaml``), e.g. "acute inflammation", used by rules."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str
    when: Predicate


class MedicationGuidance(_Model):
    """Order-time context for a drug class being ordered (e.g. an SSRI): the co-factor status
    that bears on it, and the tests to suggest when a result is missing."""

    id: str
    title: str
    classes: list[str] = Field(min_length=1)  # medication class ids (medications.yaml)
    pathway: str  # the card topic
    statement: str
    measures: list[str] = Field(min_length=1)
    lab_orders: list[str] = []  # suggested when none of the order's measures is current
    citations: list[str] = Field(min_length=1)
