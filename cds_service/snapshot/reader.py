"""Raw FHIR JSON -> ``PatientSnapshot``: the facts the engine reasons about, and nothing else.

One pass over the resources; an Observation costs one dictionary look-up per coding unless its
code is one the knowledge base uses. Reading is tolerant (R4, STU3, DSTU2 shapes; missing
``Bundle.type``) and never raises on content: what cannot be used is recorded in ``ignored``
with the reason, so cards can say what was not checked. No I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from operator import itemgetter
from typing import Any

from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import Measure, Questionnaire
from cds_service.knowledge.text import fold_text
from cds_service.knowledge.units import normalise_unit
from cds_service.snapshot.allergies import allergy_fact
from cds_service.snapshot.classify import (
    DrugMatch,
    classify_condition,
    classify_drug,
    dose_qualified_classes,
    washout_days,
)
from cds_service.snapshot.derived import derive_labs
from cds_service.snapshot.doses import DoseEstimate, ordered_doses
from cds_service.snapshot.facts import (
    ACTIVE_CONDITION_STATUSES,
    ACTIVE_MEDICATION_STATUSES,
    COMPARATORS,
    ENDED_MEDICATION_STATUSES,
    FUTURE_TOLERANCE,
    IGNORED_MEDICATION_STATUSES,
    IGNORED_VERIFICATION,
    MEDICATION_ORDER_TYPES,
    USABLE_OBSERVATION_STATUSES,
    AllergyFact,
    ConditionFact,
    DraftOrder,
    Ignored,
    LabFact,
    MedicationFact,
    PatientSnapshot,
)
from cds_service.snapshot.measures import (
    band_match,
    coded_score,
    default_unit,
    measure_of,
    method_of,
    qualitative_band,
    reference_range,
    settle_bands,
)
from cds_service.snapshot.memo import memoised
from cds_service.snapshot.questionnaires import questionnaire_facts
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
    status_code,
)


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
    """Accumulates facts during one pass (``build_snapshot``; the SMART app's history)."""

    def __init__(self, kb: KnowledgeBase, patient_id: str, now: datetime) -> None:
        self.kb = kb
        self.patient_id = patient_id
        self.own_reference = f"Patient/{patient_id}"
        self.now = now
        self.latest_time = now + FUTURE_TOLERANCE  # later results are "dated in the future"
        self.loinc = kb.system_uris.get("loinc")
        self.latest: dict[str, LabFact] = {}
        self.latest_stale: dict[str, LabFact] = {}
        self.baselines: dict[str, LabFact] = {}
        # measure id -> dated results not yet read: only the newest usable one is converted.
        self.candidates: dict[str, list[_Candidate]] = {}
        self.ignored: list[Ignored] = []
        self.birth_date: date | None = None
        self.sex: str | None = None
        self.patient_found = False
        self.med_resources: list[Mapping[str, Any]] = []
        self.medications_by_id: dict[str, Mapping[str, Any]] = {}
        self.conditions: list[ConditionFact] = []
        self.allergies: list[AllergyFact] = []

    def read(self, prefetch_values: Iterable[Any]) -> list[Mapping[str, Any]]:
        """Read every resource once, by type; the QuestionnaireResponses are returned, to be
        scored once the Observations are in (a total Observation takes precedence)."""
        responses: list[Mapping[str, Any]] = []
        measure_codes, system_aliases = self.kb.measure_codes, self.kb.system_aliases
        for resource in iter_resources(prefetch_values):
            rtype = resource["resourceType"]
            if rtype == "Observation":
                matched = measure_of(resource, measure_codes, system_aliases)
                if matched is not None:
                    self.measurement(resource, *matched)
            elif rtype in MEDICATION_ORDER_TYPES or rtype == "MedicationStatement":
                self.medication_source(resource)
            elif rtype == "Medication":
                self.medication_resource(resource)
            elif rtype == "Condition":
                self.condition(resource)
            elif rtype == "Patient":
                self.patient(resource)
            elif rtype == "QuestionnaireResponse":
                responses.append(resource)
            elif rtype == "AllergyIntolerance":
                self.allergy(resource)
        return responses

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

    def settle_labs(self, anchors: Mapping[str, datetime]) -> None:
        """Per measure, read results newest first: the first usable one is the result, the next
        usable one its ``previous`` (for the trend a card shows); for a measure in ``anchors``
        (the start of a supplement it follows up), also the baseline before that start.

        A patient record holds many results per analyte over the years; only these two are
        converted (a usable older result is superseded, not "not checked"). Newer results that
        cannot be used are named in ``ignored``; older ones passed over on the way to the
        previous result are not (they were never the result).
        """
        for measure_id, candidates in self.candidates.items():
            # Stable sort: of two results with the same time, the first in the data wins.
            candidates.sort(key=itemgetter(0), reverse=True)
            fact: LabFact | None = None
            for index, candidate in enumerate(candidates):
                fact = self._read(candidate)
                if fact is not None:
                    previous = self._first_usable(candidates[index + 1 :])
                    if previous is not None:
                        fact = replace(fact, previous=previous)
                    break
            if fact is not None:
                (self.latest_stale if fact.stale else self.latest)[measure_id] = fact
            anchor = anchors.get(measure_id)
            if anchor is not None:
                # The baseline of a supplement taken since ``anchor``: the newest usable result
                # on or before that day (results later that day count as follow-up).
                before = [c for c in candidates if c[0].date() <= anchor.date()]
                baseline = self._first_usable(before)
                if baseline is not None:
                    self.baselines[measure_id] = baseline

    def _read(self, candidate: _Candidate, *, quiet: bool = False) -> LabFact | None:
        effective, carrier, measure, code = candidate
        stale = self.now - effective > timedelta(days=measure.stale_after_days)
        return self._value(
            resource_ref(carrier), carrier, measure, code, effective, stale, quiet=quiet
        )

    def _first_usable(self, candidates: Iterable[_Candidate]) -> LabFact | None:
        for candidate in candidates:
            fact = self._read(candidate, quiet=True)
            if fact is not None:
                return fact
        return None

    def _value(
        self,
        ref: str,
        carrier: Mapping[str, Any],
        measure: Measure,
        code: str,
        effective: datetime,
        stale: bool = False,
        *,
        quiet: bool = False,
    ) -> LabFact | None:
        """The result as a fact in the canonical unit, or None (named in ``ignored`` unless
        ``quiet``) when it cannot be used."""
        rid = ref
        ignored = [] if quiet else self.ignored
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
                ignored.append(Ignored(rid, "value is not a finite number"))
                return None
            if number < 0:
                # Concentrations and questionnaire scores are never negative: a data error.
                ignored.append(Ignored(rid, "value is negative"))
                return None
            if comparator is not None and (
                not isinstance(comparator, str) or comparator not in COMPARATORS
            ):
                ignored.append(Ignored(rid, f"unknown comparator {_shown(comparator)}"))
                return None
            factors = self.kb.unit_factors[measure.id]
            unit = next((u for u in unit_fields if isinstance(u, str) and u.strip()), None)
            if unit is None and any(u is not None and u != "" for u in unit_fields):
                # A unit is there but unreadable (a number, a list...): do not guess one.
                ignored.append(Ignored(rid, "unit is not readable"))
                return None
            if unit is None:
                unit = default_unit(measure, code)
            factor = factors.get(normalise_unit(unit)) if unit else None
            if factor is None:
                ignored.append(
                    Ignored(rid, f"unit {_shown(unit)} not convertible for {measure.name}")
                )
                return None
            # Round away floating-point noise so 147.6 pmol/L is exactly 200 pg/mL at a threshold.
            raw = number / factor
            rounded = float(f"{raw:.10g}")
            value = rounded if math.isfinite(rounded) else raw  # rounding 1.79e308 gives inf
            if not math.isfinite(value):
                ignored.append(Ignored(rid, "value out of range after unit conversion"))
                return None
            if isinstance(measure, Questionnaire) and not (
                measure.min_score <= value <= measure.max_score
            ):
                ignored.append(Ignored(rid, f"score {number:g} outside {measure.name} range"))
                return None
            low, high = reference_range(carrier, factors)
            method = method_of(measure, code)
            matched = band_match(measure, value, comparator, sex=None, method=method)
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
                band=matched.id if matched else None,
                # Method-specific bands share ids (omega-3 index): keep the label that applied.
                band_label=matched.label if matched and method else None,
                reference_low=low,
                reference_high=high,
                method=method,
                stale=stale,
            )
        if measure.qualitative and (
            "valueCodeableConcept" in carrier
            or "valueString" in carrier
            or "valueBoolean" in carrier
        ):
            band, text = qualitative_band(self.kb, measure, carrier)
            if band is None:
                ignored.append(Ignored(rid, f"result {text!r} not recognised"))
                return None
            return LabFact(
                measure_id=measure.id,
                # A coded questionnaire answer keeps its score (PHQ-9 item 9 "several days" = 1).
                value=coded_score(measure, carrier),
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
            ignored.append(Ignored(rid, "value given as text, not as a quantity"))
            return None
        ignored.append(Ignored(rid, "no value"))
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
        names = [concept_text(c) or "" for c in concepts]
        names += [str(c.get("display", "")) for concept in concepts for c in codings(concept)]
        if match.ingredients:  # a drug we do not recognise has no dose we could use
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
            parenteral=bool(match.ingredients) and _parenteral(self.kb, resource, names),
        )

    # -- Allergies -------------------------------------------------------------------------

    def allergy(self, resource: Mapping[str, Any]) -> None:
        if self._other_patient(resource):
            self.ignored.append(Ignored(resource_ref(resource), "a different patient"))
            return
        fact = allergy_fact(self.kb, resource)
        if fact is not None:
            self.allergies.append(fact)

    # -- Conditions ------------------------------------------------------------------------

    def condition(self, resource: Mapping[str, Any]) -> None:
        ref = resource_ref(resource)
        if self._other_patient(resource):
            self.ignored.append(Ignored(ref, "a different patient"))
            return
        verification = status_code(resource.get("verificationStatus"))
        if verification in IGNORED_VERIFICATION:
            return
        classes = classify_condition(self.kb, resource.get("code"))
        if not classes:
            return
        clinical = status_code(resource.get("clinicalStatus"))
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
    allergies_read: bool = True,
) -> PatientSnapshot:
    """Read every prefetched resource once and the draft orders into a ``PatientSnapshot``."""
    reader = _Reader(kb, patient_id, now)
    questionnaire_responses = reader.read(prefetch_values)
    medications = []
    for resource in reader.med_resources:
        fact = reader.medication_fact(resource, draft=False, selected=False)
        if fact.status in IGNORED_MEDICATION_STATUSES or fact.status == "draft":
            continue
        if fact.active or fact.recent:
            medications.append(fact)
    reader.settle_labs(_follow_up_anchors(kb, medications))

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
    latest = settle_bands(kb, reader.latest, reader.sex)
    notes: dict[str, str] = {}
    if kb.derived:
        derived, notes = derive_labs(
            kb, latest, birth_date=reader.birth_date, sex=reader.sex, now=now
        )
        latest.update(derived)
    stale = {
        k: v
        for k, v in settle_bands(kb, reader.latest_stale, reader.sex).items()
        if k not in latest
    }
    baselines = settle_bands(kb, reader.baselines, reader.sex) if reader.baselines else {}
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
        baselines=baselines,
        allergies=tuple(reader.allergies),
        allergies_read=allergies_read,
    )


# ---------------------------------------------------------------------------------------------


def _follow_up_anchors(
    kb: KnowledgeBase, medications: Iterable[MedicationFact]
) -> dict[str, datetime]:
    """Measure id -> the earliest start of a current supplement that follow_up.yaml rechecks
    with it: the day before which the measure's baseline is read."""
    anchors: dict[str, datetime] = {}
    if not kb.follow_ups:
        return anchors
    for fact in medications:
        if not fact.active or fact.start_date is None:
            continue
        for intervention_id in fact.interventions:
            for recheck in kb.follow_ups.get(kb.base_intervention(intervention_id), ()):
                known = anchors.get(recheck.measure)
                if known is None or fact.start_date < known:
                    anchors[recheck.measure] = fact.start_date
    return anchors


def _shown(value: Any) -> str:
    """A value for an ``Ignored`` reason: a string's repr, cut short; else just its JSON type."""
    if value is None or isinstance(value, str):
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."
    return f"<{type(value).__name__}>"


# A dated result not yet read: (effective, Observation, measure, code).
_Candidate = tuple[datetime, Mapping[str, Any], Measure, str]


def _period_time(period: Any) -> datetime | None:
    if not isinstance(period, MAPPING):
        return None
    return parse_datetime(period.get("end")) or parse_datetime(period.get("start"))


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


def _parenteral(kb: KnowledgeBase, resource: Mapping[str, Any], names: list[str]) -> bool:
    """Given by injection or infusion: a parenteral route code or word on a dosage, or a dose
    form word in the drug's name ("Injectable Solution")."""
    routes: list[str] = []
    for dosage in as_list(resource.get("dosageInstruction")) + as_list(resource.get("dosage")):
        if not isinstance(dosage, MAPPING):
            continue
        route = dosage.get("route")
        for coding in codings(route):
            if str(coding.get("code")) in kb.parenteral_routes:
                return True
            routes.append(str(coding.get("display", "")))
        routes.append(concept_text(route) or "")
    if any(routes) and _parenteral_words(kb, routes):
        return True
    return memoised(kb, "parenteral-form", names, lambda: _parenteral_words(kb, names))


def _parenteral_words(kb: KnowledgeBase, texts: list[str]) -> bool:
    folded = " ".join(fold_text(t) for t in texts if t)
    return any(word in folded for word in kb.parenteral_words)
