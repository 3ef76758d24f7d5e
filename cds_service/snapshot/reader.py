"""Raw FHIR JSON -> ``PatientSnapshot``: the facts the engine reasons about, and nothing else.

One pass over the resources; an Observation costs one dictionary look-up per coding unless its
code is one the knowledge base uses. Reading is tolerant (R4, STU3, DSTU2 shapes; missing
``Bundle.type``) and never raises on content: what cannot be used is recorded in ``ignored``
with the reason, so cards can say what was not checked. No I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from operator import itemgetter
from typing import Any

from cds_service.knowledge import KnowledgeBase, normalise_unit
from cds_service.knowledge.schema import Measure, Questionnaire
from cds_service.snapshot.classify import (
    DrugMatch,
    classify_condition,
    classify_drug,
    dose_qualified_classes,
    washout_days,
)
from cds_service.snapshot.doses import DoseEstimate, ordered_doses
from cds_service.snapshot.values import (
    MAPPING,
    as_list,
    codings,
    concept_text,
    finite_number,
    parse_date,
    parse_datetime,
    reference_id,
    resource_ref,
)

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


@dataclass(frozen=True, slots=True)
class ConditionFact:
    ref: str
    name: str
    classes: tuple[str, ...]
    active: bool
    onset: datetime | None


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


def iter_resources(values: Iterable[Any]) -> Iterator[Mapping[str, Any]]:
    """Resources from prefetch values: a resource, a Bundle's entries, or nothing for null."""
    for value in values:
        if not isinstance(value, MAPPING):
            continue
        if value.get("resourceType") == "Bundle":
            for entry in as_list(value.get("entry")):
                if isinstance(entry, MAPPING):
                    resource = entry.get("resource")
                    if isinstance(resource, MAPPING) and isinstance(
                        resource.get("resourceType"), str
                    ):
                        yield resource
        elif isinstance(value.get("resourceType"), str):
            yield value


class _Reader:
    """Accumulates facts during one pass; ``build_snapshot`` is its only user."""

    def __init__(self, kb: KnowledgeBase, patient_id: str, now: datetime) -> None:
        self.kb = kb
        self.patient_id = patient_id
        self.own_reference = f"Patient/{patient_id}"
        self.now = now
        self.latest_time = now + FUTURE_TOLERANCE  # later results are "dated in the future"
        self.loinc = kb.system_uris.get("loinc")
        self.latest: dict[str, LabFact] = {}
        self.latest_stale: dict[str, LabFact] = {}
        # measure id -> dated results not yet read: only the newest usable one is converted.
        self.candidates: dict[str, list[_Candidate]] = {}
        self.ignored: list[Ignored] = []
        self.birth_date: date | None = None
        self.sex: str | None = None
        self.patient_found = False
        self.med_resources: list[Mapping[str, Any]] = []
        self.medications_by_id: dict[str, Mapping[str, Any]] = {}
        self.conditions: list[ConditionFact] = []

    # -- subject ---------------------------------------------------------------------------

    def _other_patient(self, resource: Mapping[str, Any]) -> bool:
        subject = resource.get("subject") or resource.get("patient")
        if subject is None:
            return False
        if type(subject) is dict and subject.get("reference") == self.own_reference:
            return False  # the common case, without parsing the reference
        return reference_id(subject) not in (None, self.patient_id)

    # -- Patient ---------------------------------------------------------------------------

    def patient(self, resource: Mapping[str, Any]) -> None:
        rid = resource.get("id")
        if isinstance(rid, str) and rid != self.patient_id:
            self.ignored.append(Ignored(resource_ref(resource), "a different patient"))
            return
        self.patient_found = True
        self.birth_date = parse_date(resource.get("birthDate"))
        gender = resource.get("gender")
        self.sex = gender if isinstance(gender, str) else None

    # -- Observation -----------------------------------------------------------------------

    def measurement(self, resource: Mapping[str, Any], measure: Measure, code: str) -> None:
        # Most results are older ones superseded by a newer result: "Type/id" is built only
        # for the one read (settle_labs) or one named as not used.
        status = resource.get("status")
        if not isinstance(status, str) or status not in USABLE_OBSERVATION_STATUSES:
            self._ignore(resource, f"status {_shown(status)} is not final")
            return
        if self._other_patient(resource):
            self._ignore(resource, "a different patient")
            return
        effective = (
            parse_datetime(resource.get("effectiveDateTime"))
            or _period_time(resource.get("effectivePeriod"))
            or parse_datetime(resource.get("effectiveInstant"))
            or parse_datetime(resource.get("issued"))
        )
        if effective is None:
            self._ignore(resource, "no date")
            return
        if effective > self.latest_time:
            self._ignore(resource, "dated in the future")
            return
        # A plain tuple: a NamedTuple's constructor is a Python call, once per result read.
        candidate = (effective, resource, measure, code)
        pending = self.candidates.get(measure.id)
        if pending is None:
            self.candidates[measure.id] = [candidate]
        else:
            pending.append(candidate)

    def _ignore(self, resource: Mapping[str, Any], reason: str) -> None:
        self.ignored.append(Ignored(resource_ref(resource), reason))

    def settle_labs(self) -> None:
        """Per measure, read results newest first and keep the first usable one.

        A patient record holds many results per analyte over the years; only the latest is
        used, so older ones are never converted (a usable older result is superseded, not
        "not checked"). Newer results that cannot be used are named in ``ignored``.
        """
        for measure_id, candidates in self.candidates.items():
            # Stable sort: of two results with the same time, the first in the data wins.
            candidates.sort(key=itemgetter(0), reverse=True)
            for candidate in candidates:
                effective, carrier, measure, code = candidate
                ref = resource_ref(carrier)
                stale = self.now - effective > timedelta(days=measure.stale_after_days)
                fact = self._value(ref, carrier, measure, code, effective, stale)
                if fact is None:
                    continue
                (self.latest_stale if stale else self.latest)[measure_id] = fact
                break

    def _value(
        self,
        ref: str,
        carrier: Mapping[str, Any],
        measure: Measure,
        code: str,
        effective: datetime,
        stale: bool = False,
    ) -> LabFact | None:
        rid = ref
        if "valueQuantity" in carrier or "valueInteger" in carrier or "valueDecimal" in carrier:
            quantity = carrier.get("valueQuantity")
            unit_fields: tuple[Any, ...] = ()
            if isinstance(quantity, MAPPING):
                number = finite_number(quantity.get("value"))
                unit_fields = (quantity.get("code"), quantity.get("unit"))  # UCUM code first
                comparator = quantity.get("comparator")
            else:
                number = finite_number(carrier.get("valueInteger", carrier.get("valueDecimal")))
                comparator = None
            if number is None:
                self.ignored.append(Ignored(rid, "value is not a finite number"))
                return None
            if number < 0:
                # Concentrations and questionnaire scores are never negative: a data error.
                self.ignored.append(Ignored(rid, "value is negative"))
                return None
            if comparator is not None and (
                not isinstance(comparator, str) or comparator not in COMPARATORS
            ):
                self.ignored.append(Ignored(rid, f"unknown comparator {_shown(comparator)}"))
                return None
            factors = self.kb.unit_factors[measure.id]
            unit = next((u for u in unit_fields if isinstance(u, str) and u.strip()), None)
            if unit is None and any(u is not None and u != "" for u in unit_fields):
                # A unit is there but unreadable (a number, a list...): do not guess one.
                self.ignored.append(Ignored(rid, "unit is not readable"))
                return None
            if unit is None:
                unit = _default_unit(measure, code)
            factor = factors.get(normalise_unit(unit)) if unit else None
            if factor is None:
                self.ignored.append(
                    Ignored(rid, f"unit {_shown(unit)} not convertible for {measure.name}")
                )
                return None
            # Round away floating-point noise so 147.6 pmol/L is exactly 200 pg/mL at a threshold.
            raw = number / factor
            rounded = float(f"{raw:.10g}")
            value = rounded if math.isfinite(rounded) else raw  # rounding 1.79e308 gives inf
            if not math.isfinite(value):
                self.ignored.append(Ignored(rid, "value out of range after unit conversion"))
                return None
            if isinstance(measure, Questionnaire) and not (
                measure.min_score <= value <= measure.max_score
            ):
                self.ignored.append(Ignored(rid, f"score {number:g} outside {measure.name} range"))
                return None
            low, high = _reference_range(carrier, factors)
            method = _method(measure, code)
            return LabFact(
                measure_id=measure.id,
                value=value,
                comparator=comparator,
                unit=measure.canonical_unit or "",
                reported=f"{comparator or ''}{number:g} {unit}",
                code=code,
                effective=effective,
                resource_id=rid,
                # Sex-specific bands are settled once the Patient has been read (build_snapshot).
                band=band_for(measure, value, comparator, sex=None, method=method),
                reference_low=low,
                reference_high=high,
                method=method,
                stale=stale,
            )
        if measure.qualitative and ("valueCodeableConcept" in carrier or "valueString" in carrier):
            band, text = _qualitative_band(self.kb, measure, carrier)
            if band is None:
                self.ignored.append(Ignored(rid, f"result {text!r} not recognised"))
                return None
            return LabFact(
                measure_id=measure.id,
                value=None,
                comparator=None,
                unit="",
                reported=text,
                code=code,
                effective=effective,
                resource_id=rid,
                band=band,
                stale=stale,
            )
        if "valueString" in carrier:
            # A quantity written as text ("<5", "12 ng/mL") has no reliable unit: not used.
            self.ignored.append(Ignored(rid, "value given as text, not as a quantity"))
            return None
        self.ignored.append(Ignored(rid, "no value"))
        return None

    # -- Medications -----------------------------------------------------------------------

    def medication_source(self, resource: Mapping[str, Any]) -> None:
        if self._other_patient(resource):
            self.ignored.append(Ignored(resource_ref(resource), "a different patient"))
            return
        self.med_resources.append(resource)

    def medication_resource(self, resource: Mapping[str, Any]) -> None:
        rid = resource.get("id")
        if isinstance(rid, str):
            self.medications_by_id[rid] = resource

    def medication_of(self, resource: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The contained or referenced Medication resource of an order or statement."""
        reference = resource.get("medicationReference")
        if reference is None or not isinstance(reference, MAPPING):
            return None
        target = reference.get("reference")
        if isinstance(target, str) and target.startswith("#"):
            for contained in as_list(resource.get("contained")):
                if isinstance(contained, MAPPING) and contained.get("id") == target[1:]:
                    return contained
            return None
        rid = reference_id(reference)
        return self.medications_by_id.get(rid) if rid else None

    def drug_concepts(self, resource: Mapping[str, Any]) -> list[Any]:
        """medication[x] as CodeableConcepts, following contained or referenced Medications."""
        concepts: list[Any] = []
        concept = resource.get("medicationCodeableConcept")
        if concept is not None:
            concepts.append(concept)
        reference = resource.get("medicationReference")
        if reference is not None and isinstance(reference, MAPPING):
            medication = self.medication_of(resource)
            if medication is not None:
                concepts.append(medication.get("code"))
                for ingredient in as_list(medication.get("ingredient")):
                    if isinstance(ingredient, MAPPING):
                        concepts.append(ingredient.get("itemCodeableConcept"))
            display = reference.get("display")
            if isinstance(display, str):
                concepts.append({"text": display})
        return [c for c in concepts if c]

    def medication_fact(
        self, resource: Mapping[str, Any], *, draft: bool, selected: bool
    ) -> MedicationFact:
        concepts = self.drug_concepts(resource)
        match: DrugMatch = classify_drug(self.kb, concepts)
        status = resource.get("status")
        status = status if isinstance(status, str) else None
        if resource.get("taken") in ("n", "not-taken"):  # STU3 MedicationStatement.taken
            status = "not-taken"
        start, last = _medication_dates(resource)
        doses: dict[str, DoseEstimate] = {}
        if match.ingredients:  # a drug we do not recognise has no dose we could use
            names = [concept_text(c) or "" for c in concepts]
            names += [str(c.get("display", "")) for concept in concepts for c in codings(concept)]
            doses = ordered_doses(
                self.kb,
                resource,
                match.ingredients,
                product_codes=[
                    str(c.get("code")) for concept in concepts for c in codings(concept)
                ],
                names=[n for n in names if n],
                medication=self.medication_of(resource),
            )
        active = draft or status in ACTIVE_MEDICATION_STATUSES
        recent = False
        if not active and status in ENDED_MEDICATION_STATUSES and last is not None:
            recent = self.now - last <= timedelta(days=washout_days(self.kb, match))
        return MedicationFact(
            ref=resource_ref(resource),
            source=str(resource.get("resourceType")),
            name=match.name or "unnamed medication",
            status=status,
            ingredients=match.ingredients,
            classes=dose_qualified_classes(self.kb, match, doses),
            classified=match.classified,
            active=active,
            recent=recent,
            last_date=last,
            draft=draft,
            selected=selected,
            resource=resource,
            start_date=start,
            doses=doses,
            interventions=tuple(
                dict.fromkeys(
                    self.kb.ingredient_interventions[i]
                    for i in match.ingredients
                    if i in self.kb.ingredient_interventions
                )
            ),
        )

    # -- Conditions ------------------------------------------------------------------------

    def condition(self, resource: Mapping[str, Any]) -> None:
        ref = resource_ref(resource)
        if self._other_patient(resource):
            self.ignored.append(Ignored(ref, "a different patient"))
            return
        verification = _status_code(resource.get("verificationStatus"))
        if verification in IGNORED_VERIFICATION:
            return
        classes = classify_condition(self.kb, resource.get("code"))
        if not classes:
            return
        clinical = _status_code(resource.get("clinicalStatus"))
        ended = resource.get("abatementDateTime") or resource.get("abatementPeriod")
        active = (clinical in ACTIVE_CONDITION_STATUSES) if clinical else not ended
        lifelong = [c for c in classes if self.kb.condition_classes[c].counts_when_resolved]
        if not active and lifelong:
            active, classes = True, tuple(lifelong)
        self.conditions.append(
            ConditionFact(
                ref=ref,
                name=concept_text(resource.get("code")) or "condition",
                classes=classes,
                active=active,
                onset=parse_datetime(resource.get("onsetDateTime")),
            )
        )


def build_snapshot(
    kb: KnowledgeBase,
    *,
    patient_id: str,
    now: datetime,
    prefetch_values: Iterable[Any],
    draft_orders: Mapping[str, Any] | None = None,
    selections: Iterable[str] | None = None,
) -> PatientSnapshot:
    """Read every prefetched resource once and the draft orders into a ``PatientSnapshot``."""
    reader = _Reader(kb, patient_id, now)
    questionnaire_responses: list[Mapping[str, Any]] = []
    measure_codes, system_aliases = kb.measure_codes, kb.system_aliases
    for resource in iter_resources(prefetch_values):
        rtype = resource["resourceType"]
        if rtype == "Observation":
            matched = measure_of(resource, measure_codes, system_aliases)
            if matched is not None:
                reader.measurement(resource, *matched)
        elif rtype in MEDICATION_ORDER_TYPES or rtype == "MedicationStatement":
            reader.medication_source(resource)
        elif rtype == "Medication":
            reader.medication_resource(resource)
        elif rtype == "Condition":
            reader.condition(resource)
        elif rtype == "Patient":
            reader.patient(resource)
        elif rtype == "QuestionnaireResponse":
            questionnaire_responses.append(resource)
    reader.settle_labs()

    medications = []
    for resource in reader.med_resources:
        fact = reader.medication_fact(resource, draft=False, selected=False)
        if fact.status in IGNORED_MEDICATION_STATUSES or fact.status == "draft":
            continue
        if fact.active or fact.recent:
            medications.append(fact)

    # No selections (patient-view, order-sign, or a client omitting them): every draft counts.
    selected = {s for s in selections if isinstance(s, str)} if selections is not None else None
    drafts: list[MedicationFact] = []
    other_drafts: list[DraftOrder] = []
    for resource in iter_resources([draft_orders] if draft_orders else []):
        ref = resource_ref(resource)
        is_selected = selected is None or ref in selected
        if resource["resourceType"] in MEDICATION_ORDER_TYPES:
            drafts.append(reader.medication_fact(resource, draft=True, selected=is_selected))
        elif resource["resourceType"] == "Medication":
            reader.medication_resource(resource)
        else:
            name = concept_text(resource.get("code")) or resource["resourceType"]
            other_drafts.append(DraftOrder(ref, resource["resourceType"], name, is_selected))

    if questionnaire_responses:
        from cds_service.snapshot.questionnaires import questionnaire_facts

        current, stale_scores, ignored = questionnaire_facts(
            kb, questionnaire_responses, patient_id=patient_id, now=now
        )
        reader.ignored.extend(ignored)
        for measure_id, score in current.items():
            reader.latest.setdefault(measure_id, score)  # a total Observation takes precedence
        for measure_id, score in stale_scores.items():
            previous = reader.latest_stale.get(measure_id)
            if previous is None or score.effective > previous.effective:
                reader.latest_stale[measure_id] = score
    latest = _settle_bands(kb, reader.latest, reader.sex)
    notes: dict[str, str] = {}
    if kb.derived:
        from cds_service.snapshot.derived import derive_labs

        derived, notes = derive_labs(
            kb, latest, birth_date=reader.birth_date, sex=reader.sex, now=now
        )
        latest.update(derived)
    stale = {
        k: v
        for k, v in _settle_bands(kb, reader.latest_stale, reader.sex).items()
        if k not in latest
    }
    return PatientSnapshot(
        patient_id=patient_id,
        now=now,
        birth_date=reader.birth_date,
        sex=reader.sex,
        labs=latest,
        stale_labs=stale,
        medications=tuple(medications),
        drafts=tuple(drafts),
        other_drafts=tuple(other_drafts),
        conditions=tuple(reader.conditions),
        ignored=tuple(reader.ignored),
        patient_found=reader.patient_found,
        questionnaire_responses=tuple(questionnaire_responses),
        notes=notes,
    )


# ---------------------------------------------------------------------------------------------


def _shown(value: Any) -> str:
    """A value for an ``Ignored`` reason: a string's repr, cut short; else just its JSON type."""
    if value is None or isinstance(value, str):
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."
    return f"<{type(value).__name__}>"


def measure_of(
    resource: Mapping[str, Any],
    measure_codes: Mapping[str, Mapping[str, Measure]],
    system_aliases: Mapping[str, str],
) -> tuple[Measure, str] | None:
    """The measure an Observation reports, and the code that says so; None for most of a record.

    One dictionary look-up per coding: an Observation no measure reads (vitals, panels, other
    labs) costs no more. lean_json leaves out, before parsing, Observations whose codings are
    all well-formed with codes not in ``measure_codes``: this finds no measure for any of them.
    """
    code = resource.get("code")
    if not isinstance(code, MAPPING):
        return None
    coding = code.get("coding")
    for item in coding if type(coding) is list else as_list(coding):
        if not isinstance(item, MAPPING):
            continue
        value = item.get("code")
        if not isinstance(value, str):  # lists and objects are unhashable: never looked up
            continue
        by_system = measure_codes.get(value)
        if by_system is None:
            continue
        uri = item.get("system")
        system = system_aliases.get(uri) if isinstance(uri, str) else None
        measure = by_system.get(system) if system else None
        if measure is not None:
            return measure, value
    return None


# A dated result not yet read: (effective, Observation, measure, code).
_Candidate = tuple[datetime, Mapping[str, Any], Measure, str]


def _period_time(period: Any) -> datetime | None:
    if not isinstance(period, MAPPING):
        return None
    return parse_datetime(period.get("end")) or parse_datetime(period.get("start"))


def _default_unit(measure: Measure, code: str) -> str | None:
    for known in measure.codes:
        if known.code == code and known.unit:
            return known.unit
    return None


def _method(measure: Measure, code: str) -> str | None:
    for known in measure.codes:
        if known.code == code:
            return known.method
    return None


def _settle_bands(
    kb: KnowledgeBase, facts: dict[str, LabFact], sex: str | None
) -> dict[str, LabFact]:
    """Re-band the few facts whose measure has sex-specific bands, now that sex is known."""
    from dataclasses import replace

    settled = dict(facts)
    for measure_id, fact in facts.items():
        measure = kb.measures[measure_id]
        if fact.value is not None and sex is not None and any(b.sex for b in measure.bands):
            band = band_for(measure, fact.value, fact.comparator, sex=sex, method=fact.method)
            settled[measure_id] = replace(fact, band=band)
    return settled


def band_for(
    measure: Measure,
    value: float,
    comparator: str | None,
    *,
    sex: str | None = None,
    method: str | None = None,
) -> str | None:
    """The band holding the value; for a bound ("<5") only a band holding the whole interval.

    Bands are tried in order; those for another sex or assay method are skipped, so with an
    unknown sex the general (conservative) band applies.
    """
    bands = [b for b in measure.bands if b.applies(sex, method) and (b.lower or b.upper)]
    if comparator is None:
        for band in bands:
            if band.contains(value):
                return band.id
        return None
    below = comparator in ("<", "<=")
    for band in bands:
        lower, upper = band.lower, band.upper
        if below:
            # (-inf, value) must fit: band unbounded below and reaching the bound.
            if lower is None and (
                upper is None
                or value < upper[0]
                or (value == upper[0] and (upper[1] or comparator == "<"))
            ):
                return band.id
        elif upper is None and (
            lower is None
            or value > lower[0]
            or (value == lower[0] and (lower[1] or comparator == ">"))
        ):
            return band.id
    return None


def _reference_range(
    carrier: Mapping[str, Any], factors: Mapping[str, float]
) -> tuple[float | None, float | None]:
    for item in as_list(carrier.get("referenceRange")):
        if not isinstance(item, MAPPING):
            continue
        bounds: list[float | None] = []
        for key in ("low", "high"):
            quantity = item.get(key)
            value = finite_number(quantity.get("value")) if isinstance(quantity, MAPPING) else None
            unit = (
                (quantity.get("code") or quantity.get("unit"))
                if isinstance(quantity, MAPPING)
                else None
            )
            factor = factors.get(normalise_unit(unit)) if isinstance(unit, str) else None
            bound = float(f"{value / factor:.10g}") if value is not None and factor else None
            bounds.append(bound if bound is not None and math.isfinite(bound) else None)
        if bounds[0] is not None or bounds[1] is not None:
            return bounds[0], bounds[1]
    return None, None


def _qualitative_band(
    kb: KnowledgeBase, measure: Measure, carrier: Mapping[str, Any]
) -> tuple[str | None, str]:
    concept = carrier.get("valueCodeableConcept")
    texts = []
    if isinstance(carrier.get("valueString"), str):
        texts.append(carrier["valueString"])
    text = concept_text(concept) if concept is not None else None
    if text:
        texts.append(text)
    coded = {
        (kb.system_aliases.get(c["system"]), c["code"])
        for c in codings(concept)
        if isinstance(c.get("system"), str) and isinstance(c.get("code"), str)
    }
    folded = {t.strip().lower() for t in texts}
    for qualitative in measure.qualitative:
        for code in qualitative.codes:
            if (kb.system_uris[code.system], code.code) in coded:
                return qualitative.band, texts[0] if texts else code.code
        if folded & {t.lower() for t in qualitative.texts}:
            return qualitative.band, texts[0]
    return None, texts[0] if texts else "coded result"


def _status_code(status: Any) -> str | None:
    """clinicalStatus/verificationStatus: an R4 CodeableConcept or a DSTU2/STU3 code string."""
    if isinstance(status, str):
        return status
    for coding in codings(status):
        code = coding.get("code")
        if isinstance(code, str):
            return code
    return None


def _medication_dates(resource: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    """(start, last) of a medication resource, reading each date once.

    start: when therapy began, the earliest start the resource states. last: when the drug was
    last known taken or ordered, the end of its latest period (its start when open-ended),
    else when it was authored or asserted.
    """
    starts: list[datetime | None] = []
    lasts: list[datetime | None] = []
    periods = [resource.get("effectivePeriod"), _get(resource, "dispenseRequest", "validityPeriod")]
    for dosage in as_list(resource.get("dosageInstruction")) + as_list(resource.get("dosage")):
        periods.append(_get(dosage, "timing", "repeat", "boundsPeriod"))
    for period in periods:
        if period is not None and isinstance(period, MAPPING):
            begun = parse_datetime(period.get("start"))
            starts.append(begun)
            lasts.append(parse_datetime(period.get("end")) or begun)
    for field_name in ("effectiveDateTime", "authoredOn", "dateWritten"):  # dateWritten: DSTU2
        value = parse_datetime(resource.get(field_name))
        starts.append(value)
        lasts.append(value)
    lasts += [
        parse_datetime(resource.get("dateAsserted")),
        parse_datetime(resource.get("dateEnded")),
    ]
    begun_dates = [d for d in starts if d is not None]
    last_dates = [d for d in lasts if d is not None]
    return (
        min(begun_dates) if begun_dates else None,
        max(last_dates) if last_dates else None,
    )


def _get(mapping: Any, *path: str) -> Any:
    current: Any = mapping
    for key in path:
        if current is None or not isinstance(current, MAPPING):
            return None
        current = current.get(key)
    return current
