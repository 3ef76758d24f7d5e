"""Pathways, interventions, lab orders, recommendation rules and order-time guidance."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from cds_service.knowledge.schema.common import Code, Grade, _Model
from cds_service.knowledge.schema.predicates import Predicate


class Pathway(_Model):
    id: str
    name: str
    short: str | None = Field(default=None, max_length=24)  # the label on a card's lines
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

    def describe(self) -> str:
        """ "1,000 µg/day": thousands separated, UCUM spelled as clinicians read it."""
        unit = {"ug": "µg", "[IU]": "IU", "[iU]": "IU"}.get(self.unit, self.unit)
        return f"{self.value:,g} {unit}/day"


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
    # What a card's summary and suggestion label call it, before the dose ("oral B12").
    short: str | None = Field(default=None, max_length=32)
    # The dose as a label says it, when "<daily dose>/day" would mislead ("65 mg on alternate
    # days").
    dose_label: str | None = Field(default=None, max_length=40)
    # Interventions with the same choice are alternatives for one purpose (5-HTP or
    # L-tryptophan): a card offers them as one choice, never side by side.
    choice: str | None = None
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
    # Another regimen of the same ingredient (pyridoxine as isoniazid prophylaxis is a regimen
    # of vitamin-b6): it shares the ingredient code, a draft order or a product the patient
    # takes is recognised as the base intervention, and taking either counts as taking both.
    variant_of: str | None = None
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

    @property
    def label(self) -> str:
        """The short name with the proposed dose, e.g. "oral B12 1,000 µg/day"."""
        return f"{self.short or self.name} {self.dose_label or self.daily_dose.describe()}"


class LabOrder(_Model):
    id: str
    name: str
    short: str | None = Field(default=None, max_length=24)  # "eGFR", "hs-CRP"
    code: Code  # LOINC
    reason: str
    # Not suggested while any of these measures has a current result (unless a rule asks for
    # a repeat): "order B12" disappears once a current B12 exists.
    satisfied_by: list[str] = Field(min_length=1)

    @property
    def label(self) -> str:
        return self.short or self.name.split(",")[0]


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


class Cause(_Model):
    """A likely cause a finding names when the record shows it: a drug, a condition.

    Evaluated only when the rule fires; its inputs are shown beside the finding, never used to
    decide it (e.g. a proton-pump inhibitor on record beside severe hypomagnesaemia)."""

    label: str  # plain words, e.g. "proton-pump inhibitor (long-term use lowers magnesium)"
    when: Predicate


class Rule(_Model):
    """A recommendation rule: When <predicate> Then <finding> (and suggest ...)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")
    version: int = Field(ge=1)
    pathway: str
    title: str
    statement: str  # the rule in plain words, shown on the card
    when: Predicate
    finding: str  # short phrase, e.g. "Vitamin B12 deficient"
    # urgent: needs prompt clinical action rather than an option (severe hypomagnesaemia, no
    # first-line treatment for severe depression): shown first, and its card is a `warning`;
    # limitation: a co-factor deficit or precursor shortfall (status "possible limitation");
    # uncertain: data missing or equivocal (status "insufficient data"); option: a symptom-led
    # option for discussion; caution: something the clinician should know before any option;
    # context: shown on the cards of other findings, never a card on its own.
    severity: Literal["urgent", "limitation", "uncertain", "option", "caution", "context"] = (
        "limitation"
    )
    suggest: list[SuggestionRef] = []
    # Likely causes named beside the finding when the record shows them.
    causes: list[Cause] = []
    # What to do, in a few words, when the rule suggests nothing ("check FT4; no tyrosine"):
    # it completes the card's summary after the finding.
    advice: str | None = Field(default=None, max_length=80)
    # Which card the finding goes on, grouped by what the clinician does: "labs" (deficits,
    # results that need action, tests), "adjuncts" (mood and cognition options, and what they
    # need first), "medications" (a medication review). Default: options on "adjuncts", the
    # rest on "labs".
    card: Literal["labs", "adjuncts", "medications"] | None = None
    # The result the card leads with when it is not the first one the rule reads (ferritin,
    # not the CRP checked before it).
    lead: str | None = None
    # A finding that warrants a warning by itself (not only through a safety rule).
    indicator: Literal["info", "warning"] = "info"
    # A line the card shows when this rule fires (once per card), e.g. that mood options are
    # adjuncts, never a replacement for treatment: it goes only where it applies.
    card_note: str | None = None

    @property
    def group(self) -> str:
        return self.card or ("adjuncts" if self.severity == "option" else "labs")

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
    # Findings this order is the answer to (e.g. "no first-line treatment recorded" when an
    # antidepressant is being ordered): said as answered, not repeated as a finding.
    addresses: list[str] = []
    citations: list[str] = Field(min_length=1)


class FollowUp(_Model):
    """The recheck of a supplement the patient already takes (``follow_up.yaml``): when the
    measure is due after the start, the test that rechecks it, and the bands that mean the
    target was reached. A rule like the others: id, version, statement, grade, citations."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")
    version: int = Field(ge=1)
    intervention: str  # a base intervention (not a variant): taking either counts
    title: str
    statement: str  # the rule in plain words, shown on the card
    measure: str
    lab_order: str  # suggested when the recheck is due; must be satisfied by the measure
    recheck_after_days: int = Field(gt=0)
    interval: str  # the interval in words, e.g. "about 3 months"
    # Where the interval comes from: a cited source, or a service default where no source
    # could be checked (the card and the knowledge pages say so).
    interval_source: Literal["cited", "service-default"]
    target_bands: list[str] = Field(min_length=1)
    # Recheck only when the result before the start was in one of these bands (vitamin D:
    # treated deficiency only); empty = always.
    baseline_bands: list[str] = []
    grade: Grade
    citations: list[str] = Field(min_length=1)
