"""The schema of the knowledge base in ``mappings/``: every file is validated against it at load.

Models forbid unknown fields so a typo in a YAML file fails loudly, naming file and field.
Thresholds are expressed once, as bands on an analyte in its canonical unit; rules refer to
bands by id, so a number never appears twice. Predicates (``when``/``trigger``) are a small
closed language shared by recommendation and safety rules; ``engine/predicates.py`` evaluates it.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Grade = Literal["A", "A/B", "B", "B/C", "C"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------------------------------
# Provenance


class ChangelogEntry(_Model):
    version: str
    date: date
    changes: list[str] = Field(min_length=1)


class OverrideReason(_Model):
    code: str
    display: str


class Manifest(_Model):
    """``mappings/knowledge.yaml``: the knowledge base's identity, version and code systems."""

    name: str
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    released: date
    publisher: str
    funding: str
    intended_use: str
    # Short aliases used in every other file -> canonical code-system URIs.
    code_systems: dict[str, str]
    # Other spellings of the same systems seen in real data (URI -> alias above).
    system_aliases: dict[str, str] = {}
    # Systems whose codes our cards and suggestions are stamped with.
    topic_system: str
    override_reason_system: str
    # Offered on every warning card; the clinician's choice comes back through feedback.
    override_reasons: list[OverrideReason] = Field(min_length=1)
    changelog: list[ChangelogEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _version_in_changelog(self) -> Manifest:
        if self.changelog[0].version != self.version:
            raise ValueError("the first changelog entry must describe the current version")
        return self


class Citation(_Model):
    id: str
    label: str  # short form shown on cards, e.g. "Devalia 2014, Br J Haematol"
    title: str | None = None
    pmid: str | None = Field(default=None, pattern=r"^\d+$")
    doi: str | None = None
    url: str | None = None
    # True when checked against the published source; False = author knowledge, to re-check.
    verified: bool = False

    @model_validator(mode="after")
    def _locatable(self) -> Citation:
        if not (self.pmid or self.doi or self.url):
            raise ValueError("a citation needs a pmid, doi or url")
        return self

    @property
    def link(self) -> str:
        if self.url:
            return self.url
        if self.pmid:
            return f"https://pubmed.ncbi.nlm.nih.gov/{self.pmid}/"
        return f"https://doi.org/{self.doi}"


class Code(_Model):
    system: str  # an alias from Manifest.code_systems
    code: str
    display: str | None = None
    unit: str | None = None  # the UCUM unit this LOINC code is normally reported in
    # The assay method a code implies (e.g. omega-3 index in RBC vs plasma): values of different
    # methods are never compared, and bands may be method-specific.
    method: str | None = None
    # True when the code was checked against a published terminology source (LOINC, RxNav, an
    # HL7 IG); False = author knowledge, to re-check before relying on it. Listed by
    # ``check-knowledge --verbose`` (see knowledge/check.py).
    verified: bool = False


# ---------------------------------------------------------------------------------------------
# Measures: laboratory analytes and questionnaire scores


class Band(_Model):
    """A named interval in the measure's canonical unit; bounds say which side is closed.

    Bands are tried in order and the first that holds wins. A band with ``sex`` applies only to
    patients recorded with that sex, so sex-specific bands come first and a general band (used
    when sex is unknown, chosen to be the conservative one) follows under the same id. A band
    with ``method`` applies only to results of that assay method.
    """

    id: str
    label: str
    sex: Literal["female", "male"] | None = None
    method: str | None = None
    # The cut-off is disputed (e.g. vitamin D 12-20 ng/mL): no rule may suggest a supplement
    # from this band (checked at load); the card says "threshold contested".
    contested: bool = False
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Band:
        if self.gt is not None and self.ge is not None:
            raise ValueError("use gt or ge, not both")
        if self.lt is not None and self.le is not None:
            raise ValueError("use lt or le, not both")
        return self

    @property
    def lower(self) -> tuple[float, bool] | None:
        """(bound, inclusive) or None when unbounded below."""
        if self.ge is not None:
            return (self.ge, True)
        if self.gt is not None:
            return (self.gt, False)
        return None

    @property
    def upper(self) -> tuple[float, bool] | None:
        if self.le is not None:
            return (self.le, True)
        if self.lt is not None:
            return (self.lt, False)
        return None

    def contains(self, value: float) -> bool:
        lower, upper = self.lower, self.upper
        if lower is not None and (value < lower[0] or (value == lower[0] and not lower[1])):
            return False
        return not (
            upper is not None and (value > upper[0] or (value == upper[0] and not upper[1]))
        )

    def applies(self, sex: str | None, method: str | None) -> bool:
        return (self.sex is None or self.sex == sex) and (
            self.method is None or self.method == method
        )

    def describe(self, unit: str) -> str:
        parts = []
        if self.lower is not None:
            parts.append(f"{'≥' if self.lower[1] else '>'} {self.lower[0]:g}")
        if self.upper is not None:
            parts.append(f"{'≤' if self.upper[1] else '<'} {self.upper[0]:g}")
        text = f"{' and '.join(parts)} {unit}" if parts else "any value"
        qualifiers = [q for q in (self.sex, self.method and f"{self.method} method") if q]
        return f"{text} ({', '.join(qualifiers)})" if qualifiers else text


class UnitConversion(_Model):
    """``per_canonical`` units of ``unit`` make one canonical unit (value / per_canonical)."""

    unit: str
    per_canonical: float = Field(gt=0)


class QualitativeBand(_Model):
    """Maps coded or textual results (e.g. hCG "Positive") onto a band id."""

    band: str
    codes: list[Code] = []
    texts: list[str] = []  # case-insensitive exact matches of valueString / coding display


# acute-phase: distorted by inflammation, read with CRP; research-only: no clinical reference
# interval, never drives a suggestion; informational: displayed, never interpreted by a rule;
# method-dependent: values of different assays are not comparable.
Flag = Literal[
    "acute-phase",
    "research-only",
    "informational",
    "method-dependent",
    "fasting",
]

# Flags that forbid a measure from driving a supplement suggestion (checked at load).
NON_ACTIONABLE_FLAGS = frozenset({"research-only", "informational"})


class Measure(_Model):
    id: str
    name: str
    codes: list[Code] = Field(min_length=1)
    # None for purely qualitative results (e.g. a urine pregnancy test).
    canonical_unit: str | None = None
    units: list[UnitConversion] = []
    bands: list[Band] = []
    qualitative: list[QualitativeBand] = []
    stale_after_days: int = Field(gt=0)
    flags: list[Flag] = []
    notes: list[str] = []
    citations: list[str] = []
    # Measures that stand in for this one (CRP for hs-CRP): when one of them has a current
    # value, this one is not reported as missing.
    substitutes: list[str] = []

    @model_validator(mode="after")
    def _units(self) -> Measure:
        units = [u.unit for u in self.units]
        if self.canonical_unit is None:
            if self.units or not self.qualitative:
                raise ValueError("a measure without canonical_unit must be qualitative only")
        elif self.canonical_unit not in units:
            raise ValueError(f"units must include the canonical unit {self.canonical_unit!r}")
        declared = {b.id for b in self.bands}
        keys = {(b.id, b.sex, b.method) for b in self.bands}
        if len(keys) != len(self.bands):
            raise ValueError("band ids must be unique (per sex and method)")
        for band_id in (q.band for q in self.qualitative):
            if self.bands and band_id not in declared:
                raise ValueError(f"qualitative band {band_id!r} is not among the bands")
        return self


class Analyte(Measure):
    kind: Literal["lab"] = "lab"


class Questionnaire(Measure):
    """A score read from an Observation or, failing that, from a QuestionnaireResponse.

    A response is recognised by its ``questionnaire`` canonical (prefix match, version ignored)
    or by carrying one of the items. Its total is the item with ``total_link_ids`` (or the
    total's LOINC code) when present, else the sum of ``items`` when every one is answered;
    a single-item measure (PHQ-9 item 9) lists just that item.
    """

    kind: Literal["score"] = "score"
    panel_codes: list[Code] = []
    questionnaire_urls: list[str] = []
    total_link_ids: list[str] = []
    # LOINC codes of the scored items; a linkId matches as "CODE", "/CODE" or by item.code.
    items: list[str] = []
    item_link_ids: list[str] = []  # extra linkIds of scored items (local questionnaires)
    # Coded answers -> item score (e.g. LOINC LA6568-5 "Not at all" = 0).
    answer_scores: dict[str, float] = {}
    min_score: float = 0
    max_score: float

    @model_validator(mode="after")
    def _score_range(self) -> Questionnaire:
        if self.min_score >= self.max_score:
            raise ValueError("min_score must be below max_score")
        return self


# ---------------------------------------------------------------------------------------------
# Predicates: the closed language of `when` and `trigger` clauses.


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


class SexPredicate(_Model):
    sex: Literal["female", "male", "other", "unknown"]


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
    | SexPredicate
    | UsePredicate
    | AllPredicate
    | AnyPredicate
    | NotPredicate,
    Field(union_mode="left_to_right"),
]
AllPredicate.model_rebuild()
AnyPredicate.model_rebuild()
NotPredicate.model_rebuild()


# ---------------------------------------------------------------------------------------------
# Pathways, interventions, lab orders and recommendation rules


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
    # Generic and common names (lower case) that identify a draft order of this supplement
    # when it carries no code we know (order-select / order-sign guidance).
    names: list[str] = []
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


class SafetyTarget(_Model):
    """What a safety rule applies to: interventions by id or tag, every supplement, or drugs.

    ``medications`` names medication classes or ingredients (medications.yaml): the rule then
    also applies to a draft order or current use of such a drug (e.g. vitamin E, calcium, a
    serotonergic drug ordered while on St John's wort).
    """

    interventions: list[str] = []
    tags: list[str] = []
    all_supplements: bool = False
    medications: list[str] = []

    @model_validator(mode="after")
    def _something(self) -> SafetyTarget:
        if not (self.interventions or self.tags or self.all_supplements or self.medications):
            raise ValueError(
                "a safety target needs interventions, tags, all_supplements or medications"
            )
        return self


class SafetyRule(_Model):
    """A safety rule: When <trigger> holds for the patient, <action> these interventions."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]*$")
    version: int = Field(ge=1)
    title: str
    statement: str
    trigger: Predicate
    applies_to: SafetyTarget
    action: Literal["block", "warn", "info"]
    # A hard block can never be overridden; a soft block may be ordered by the prescriber
    # with a reason (order time), but is still never *suggested* by the service.
    hard: bool = False
    message: str  # what the clinician reads, plain words
    grade: Grade | None = None
    citations: list[str] = Field(min_length=1)
    # Dose-dependent rules apply only above this daily dose (suggestion: the intervention's
    # daily_dose; order: the ordered dose). An unknown dose counts as above: conservative.
    dose: DoseThreshold | None = None
    # Missing data safety needs: offer this lab order instead of the withheld supplement.
    replacement: LabOrderSuggestion | None = None
    # Where the rule applies: to the service's own suggestions, to clinicians' draft orders.
    scope: list[Literal["suggestions", "orders"]] = Field(
        default=["suggestions", "orders"], min_length=1
    )
    # When the trigger holds, the patient gets a critical card of its own (e.g. suicide risk).
    alert: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> SafetyRule:
        if self.hard and self.action != "block":
            raise ValueError("only a block can be hard")
        if self.replacement is not None and self.action != "block":
            raise ValueError("a replacement only makes sense for a block")
        return self


class SafetyPrompt(_Model):
    """A monitoring prompt (INFO): a drug that depletes a nutrient -> consider testing it."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]*$")
    version: int = Field(ge=1)
    title: str
    statement: str
    trigger: Predicate
    message: str
    lab_order: str | None = None  # lab order id offered as a suggestion
    grade: Grade | None = None
    citations: list[str] = Field(min_length=1)


# ---------------------------------------------------------------------------------------------
# Medications and conditions


class MedicationClass(_Model):
    id: str
    name: str
    atc: list[str] = []  # ATC prefixes that imply the class
    # How long a stopped drug of this class still counts (washout), in days.
    washout_days: int = Field(default=14, ge=0)
    citations: list[str] = []


class Ingredient(_Model):
    id: str
    name: str
    rxnorm: list[str] = []  # RxNorm ingredient (IN/PIN/MIN) CUIs
    atc: list[str] = []  # exact ATC codes
    names: list[str] = []  # generic and brand names matched in display/text (lower case)
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


# ---------------------------------------------------------------------------------------------
# Derived measures: values the service computes when the lab sent none (e.g. eGFR)


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
