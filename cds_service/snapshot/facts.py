"""The facts a ``PatientSnapshot`` holds: typed, immutable, in canonical units.

What the engine reasons about and the cards show; built by ``reader.build_snapshot`` and by
its helpers (derived measures, questionnaire totals). No logic beyond what a fact says of
itself (the patient's age).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from cds_service.snapshot.doses import DoseEstimate

USABLE_OBSERVATION_STATUSES = frozenset({"final", "amended", "corrected"})
ACTIVE_MEDICATION_STATUSES = frozenset({"active", "on-hold", "intended"})
ENDED_MEDICATION_STATUSES = frozenset({"completed", "stopped"})
IGNORED_MEDICATION_STATUSES = frozenset({"entered-in-error", "cancelled", "not-taken", "unknown"})
ACTIVE_CONDITION_STATUSES = frozenset({"active", "recurrence", "relapse"})
IGNORED_VERIFICATION = frozenset({"refuted", "entered-in-error"})
MEDICATION_ORDER_TYPES = frozenset({"MedicationRequest", "MedicationOrder"})
# Every resource type build_snapshot reads; the rest of a record is skipped unread (and
# lean_json leaves it out of the parsed request).
READ_RESOURCE_TYPES = frozenset(
    {
        "Patient",
        "Observation",
        "Condition",
        "Medication",
        "MedicationStatement",
        "QuestionnaireResponse",
        "AllergyIntolerance",
        *MEDICATION_ORDER_TYPES,
    }
)
COMPARATORS = frozenset({"<", "<=", ">", ">="})
# An Observation dated this far after "now" is a data error, not a result.
FUTURE_TOLERANCE = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Derivation:
    """How a value the lab did not send was computed (derived.yaml), for the card to show."""

    derivation_id: str
    label: str  # e.g. "CKD-EPI 2021"
    inputs: tuple[LabFact, ...]
    age: int
    sex: str


@dataclass(frozen=True, slots=True)
class LabFact:
    """The latest usable result for one measure, in the measure's canonical unit."""

    measure_id: str
    value: float | None  # None for qualitative results
    comparator: str | None  # set when the lab reported a bound such as "<5"
    unit: str
    reported: str  # the value as reported, with its unit, for the card's input table
    code: str
    effective: datetime
    resource_id: str
    band: str | None  # None when a bound straddles bands or no band applies
    reference_low: float | None = None
    reference_high: float | None = None
    stale: bool = False
    method: str | None = None  # assay method the code implies (omega-3 index: rbc / plasma)
    derivation: Derivation | None = None  # set when the service computed the value
    # The label of the band that applied, where bands share an id across sexes or methods
    # (e.g. "anaemia (WHO < 13 g/dL, men)"); None: the band's id names one label.
    band_label: str | None = None
    # The next older usable result of the same measure (same canonical unit), for the trend a
    # card shows beside the value; None when there is none. It carries no previous of its own.
    previous: LabFact | None = None


@dataclass(frozen=True, slots=True)
class MedicationFact:
    """A medication the patient takes, took recently, or is being ordered (draft)."""

    ref: str  # "Type/id" of the source resource
    source: str  # MedicationRequest | MedicationStatement | MedicationOrder | draft
    name: str
    status: str | None
    ingredients: tuple[str, ...]
    classes: tuple[str, ...]
    classified: bool
    active: bool
    recent: bool  # stopped, but within its washout window
    last_date: datetime | None
    draft: bool = False
    selected: bool = False
    resource: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # When therapy began (None: unknown), and the daily amount per ingredient when it can be
    # told from the dosage (see doses.py); interventions = supplements among the ingredients.
    start_date: datetime | None = None
    doses: Mapping[str, DoseEstimate] = field(default_factory=dict, compare=False)
    interventions: tuple[str, ...] = ()
    parenteral: bool = False  # given by injection or infusion (route or dose form)


@dataclass(frozen=True, slots=True)
class ConditionFact:
    ref: str
    name: str
    classes: tuple[str, ...]
    active: bool
    onset: datetime | None


@dataclass(frozen=True, slots=True)
class AllergyFact:
    """An active, not refuted allergy or intolerance to something the knowledge base knows:
    an allergen class (fish, cobalt...) or an ingredient (by code or name)."""

    ref: str
    name: str
    allergens: tuple[str, ...]  # allergen class ids (allergies.yaml)
    ingredients: tuple[str, ...]  # ingredient ids (medications.yaml)
    interventions: tuple[str, ...]  # the interventions of those ingredients
    recorded: datetime | None = None


@dataclass(frozen=True, slots=True)
class DraftOrder:
    """A non-medication draft order (ServiceRequest, ProcedureRequest, ...), kept for context."""

    ref: str
    resource_type: str
    name: str
    selected: bool


@dataclass(frozen=True, slots=True)
class Ignored:
    ref: str
    reason: str


@dataclass(frozen=True, slots=True)
class PatientSnapshot:
    patient_id: str
    now: datetime
    birth_date: date | None
    sex: str | None
    labs: Mapping[str, LabFact]  # current (not stale) latest result per measure id
    stale_labs: Mapping[str, LabFact]  # latest stale result where no current one exists
    medications: tuple[MedicationFact, ...]  # current and recent therapy (not drafts)
    drafts: tuple[MedicationFact, ...]  # draft medication orders from context.draftOrders
    other_drafts: tuple[DraftOrder, ...]
    conditions: tuple[ConditionFact, ...]
    ignored: tuple[Ignored, ...]
    patient_found: bool
    # Raw QuestionnaireResponses, for totals when no total-score Observation exists.
    questionnaire_responses: tuple[Mapping[str, Any], ...] = ()
    # Why a measure has no value although related data exist (e.g. "eGFR not derived: sex not
    # recorded"), shown beside the missing input on cards.
    notes: Mapping[str, str] = field(default_factory=dict)
    # Measure id -> the newest usable result on or before the start of a current supplement
    # that the measure follows up (follow_up.yaml): the "before" of a before -> after.
    baselines: Mapping[str, LabFact] = field(default_factory=dict)
    allergies: tuple[AllergyFact, ...] = ()
    # False when the patient's allergies could not be obtained (no prefetch, no FHIR server, or
    # a failed read): cards then say "allergies not checked".
    allergies_read: bool = True

    @property
    def age(self) -> int | None:
        if self.birth_date is None:
            return None
        today = self.now.date()
        born = self.birth_date
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))

    @property
    def unclassified_medications(self) -> tuple[MedicationFact, ...]:
        return tuple(m for m in (*self.medications, *self.drafts) if not m.classified)
