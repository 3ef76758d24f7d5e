"""Raw FHIR JSON -> every usable result per measure over time, and therapy start and stop dates.

The snapshot keeps the newest result per measure, which is what the rules read; the SMART app
(issue 18) plots the course. This reads the same resources with the same tolerant rules
(``reader._Reader``: status, subject, date, unit conversion, bands), so a plotted point is
exactly a value the engine would have used had it been the newest. No I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any

from cds_service.knowledge import KnowledgeBase
from cds_service.snapshot.facts import (
    ENDED_MEDICATION_STATUSES,
    IGNORED_MEDICATION_STATUSES,
    LabFact,
)
from cds_service.snapshot.measures import settle_bands
from cds_service.snapshot.questionnaires import questionnaire_facts
from cds_service.snapshot.reader import _Reader
from cds_service.snapshot.values import resource_ref

# Results of one measure at the same instant from an Observation and a QuestionnaireResponse
# are the same score: the Observation is kept.
_SAME_TIME = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class TherapySpan:
    """A recognised medication or supplement, with when it began and (if it did) ended."""

    name: str
    ref: str
    start: datetime | None
    stop: datetime | None  # set only when the resource says the therapy ended
    active: bool
    classes: tuple[str, ...]
    interventions: tuple[str, ...]  # supplements this service can suggest


@dataclass(frozen=True, slots=True)
class PatientHistory:
    sex: str | None
    series: Mapping[str, tuple[LabFact, ...]]  # measure id -> results, oldest first
    therapies: tuple[TherapySpan, ...]  # recognised drugs and supplements, by start date


def patient_history(
    kb: KnowledgeBase,
    *,
    patient_id: str,
    now: datetime,
    prefetch_values: Iterable[Any],
) -> PatientHistory:
    """Every usable result of every measure the knowledge base knows, and the therapy spans."""
    reader = _Reader(kb, patient_id, now)
    responses = reader.read(prefetch_values)

    series: dict[str, list[LabFact]] = {}
    for measure_id, candidates in reader.candidates.items():
        candidates.sort(key=itemgetter(0))
        for effective, carrier, measure, code in candidates:
            stale = now - effective > timedelta(days=measure.stale_after_days)
            fact = reader._value(resource_ref(carrier), carrier, measure, code, effective, stale)
            if fact is not None:
                series.setdefault(measure_id, []).append(fact)
    for response in responses:
        current, stale_scores, _ = questionnaire_facts(
            kb, [response], patient_id=patient_id, now=now
        )
        for fact in (*current.values(), *stale_scores.values()):
            known = series.setdefault(fact.measure_id, [])
            if not any(abs(f.effective - fact.effective) < _SAME_TIME for f in known):
                known.append(fact)

    settled: dict[str, tuple[LabFact, ...]] = {}
    for measure_id, facts in series.items():
        facts.sort(key=lambda f: f.effective)
        settled[measure_id] = tuple(
            settle_bands(kb, {measure_id: fact}, reader.sex)[measure_id] for fact in facts
        )

    therapies = []
    for resource in reader.med_resources:
        drug = reader.medication_fact(resource, draft=False, selected=False)
        if not drug.classified or drug.status in IGNORED_MEDICATION_STATUSES:
            continue
        if drug.status == "draft":
            continue
        ended = drug.status in ENDED_MEDICATION_STATUSES
        therapies.append(
            TherapySpan(
                name=drug.name,
                ref=drug.ref,
                start=drug.start_date,
                stop=drug.last_date if ended else None,
                active=drug.active,
                classes=drug.classes,
                interventions=drug.interventions,
            )
        )
    therapies.sort(key=lambda t: (t.start is None, t.start or now, t.name))
    return PatientHistory(sex=reader.sex, series=settled, therapies=tuple(therapies))
