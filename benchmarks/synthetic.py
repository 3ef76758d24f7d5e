"""Deterministic synthetic patients and hook requests for the benchmarks.

The relevant codes (LOINC analytes and scores, RxNorm ingredients and products, SNOMED CT
condition codes) come from the loaded knowledge base, so the benchmark exercises whatever the
knowledge base reads today; the irrelevant ones below are common codes the knowledge base does
not use (any that it does use are filtered out at run time). A seed and a reference time fix
every byte: the same ``(n_observations, seed, now)`` always gives the same request body.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import Measure
from cds_service.knowledge.units import normalise_unit
from cds_service.protocol.services import ServiceDefinition

SEED = 20240607
PATIENT_ID = "bench-patient"
RELEVANT_SHARE = 0.3  # of Observations: the rest are vitals and labs the service does not read
MEDICATIONS = 20
CONDITIONS = 20
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"

# (LOINC, display, unit, low, high): what an EHR sends in bulk that no rule reads.
OTHER_OBSERVATIONS = (
    ("8480-6", "Systolic blood pressure", "mm[Hg]", 95, 165),
    ("8462-4", "Diastolic blood pressure", "mm[Hg]", 55, 100),
    ("8867-4", "Heart rate", "/min", 50, 110),
    ("9279-1", "Respiratory rate", "/min", 11, 22),
    ("8310-5", "Body temperature", "Cel", 36.0, 38.2),
    ("29463-7", "Body weight", "kg", 45, 120),
    ("8302-2", "Body height", "cm", 150, 195),
    ("39156-5", "Body mass index", "kg/m2", 18, 38),
    ("59408-5", "Oxygen saturation by pulse oximetry", "%", 90, 100),
    ("2339-0", "Glucose [Mass/volume] in Blood", "mg/dL", 65, 180),
    ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", 130, 280),
    ("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "mg/dL", 50, 300),
    ("2085-9", "HDL Cholesterol", "mg/dL", 30, 90),
    ("18262-6", "LDL Cholesterol (direct)", "mg/dL", 60, 190),
    ("6690-2", "Leukocytes [#/volume] in Blood", "10*3/uL", 3.5, 12),
    ("789-8", "Erythrocytes [#/volume] in Blood", "10*6/uL", 3.8, 5.9),
    ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 10, 17),
    ("777-3", "Platelets [#/volume] in Blood", "10*3/uL", 140, 420),
    ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 132, 146),
    ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 3.3, 5.3),
    ("1742-6", "Alanine aminotransferase [Enzymatic activity/volume]", "U/L", 8, 60),
    ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 4.8, 9.5),
)
# (RxNorm, display): common drugs outside the knowledge base.
OTHER_DRUGS = (
    ("197361", "amlodipine 5 MG Oral Tablet"),
    ("314076", "lisinopril 10 MG Oral Tablet"),
    ("860975", "metformin hydrochloride 500 MG Oral Tablet"),
    ("617312", "atorvastatin 10 MG Oral Tablet"),
    ("310965", "ibuprofen 200 MG Oral Tablet"),
    ("198211", "simvastatin 40 MG Oral Tablet"),
    ("866924", "metoprolol tartrate 25 MG Oral Tablet"),
    ("308136", "amoxicillin 500 MG Oral Capsule"),
    ("197884", "lisinopril 40 MG Oral Tablet"),
    ("310798", "hydrochlorothiazide 25 MG Oral Tablet"),
    ("313782", "acetaminophen 325 MG Oral Tablet"),
    ("745679", "albuterol 0.09 MG/ACTUAT Metered Dose Inhaler"),
)
# (SNOMED CT, display): common conditions outside the knowledge base.
OTHER_CONDITIONS = (
    ("38341003", "Hypertensive disorder"),
    ("44054006", "Diabetes mellitus type 2"),
    ("55822004", "Hyperlipidemia"),
    ("195662009", "Acute viral pharyngitis"),
    ("10509002", "Acute bronchitis"),
    ("40055000", "Chronic sinusitis"),
    ("162864005", "Body mass index 30+ - obesity"),
    ("444814009", "Viral sinusitis"),
    ("239873007", "Osteoarthritis of knee"),
    ("15777000", "Prediabetes"),
    ("72892002", "Normal pregnancy"),
    ("233604007", "Pneumonia"),
)


def reference_now() -> datetime:
    """Today at noon UTC: data stay current whichever day the benchmark runs."""
    today = datetime.now(UTC).date()
    return datetime(today.year, today.month, today.day, 12, tzinfo=UTC)


class _Patient:
    """Builds one patient's resources from one random stream (order of calls matters)."""

    def __init__(self, kb: KnowledgeBase, seed: int, now: datetime) -> None:
        self.kb = kb
        self.rng = random.Random(seed)
        self.now = now
        self.loinc_alias = next(a for a, uri in kb.system_uris.items() if uri == LOINC)
        self.measures = [
            m
            for m in sorted(kb.measures.values(), key=lambda m: m.id)
            if any(c.system == self.loinc_alias for c in m.codes)
        ]
        known_loinc = {code for code, by_system in kb.measure_codes.items() if LOINC in by_system}
        self.others = [o for o in OTHER_OBSERVATIONS if o[0] not in known_loinc]
        self._n = 0

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}-{self._n}"

    def _when(self, max_days: float = 3 * 365) -> str:
        moment = self.now - timedelta(days=self.rng.uniform(0.5, max_days))
        return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")

    def _observation(
        self, code: str, display: str, value: dict[str, Any], category: str
    ) -> dict[str, Any]:
        effective = self._when()
        return {
            "resourceType": "Observation",
            "id": self._id("obs"),
            "meta": {"lastUpdated": effective},
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": category,
                        }
                    ]
                }
            ],
            "code": {
                "coding": [{"system": LOINC, "code": code, "display": display}],
                "text": display,
            },
            "subject": {"reference": f"Patient/{PATIENT_ID}"},
            "encounter": {"reference": f"Encounter/enc-{self.rng.randrange(1, 60)}"},
            "effectiveDateTime": effective,
            "issued": effective,
            **value,
        }

    def _quantity(self, value: float, unit: str) -> dict[str, Any]:
        return {
            "valueQuantity": {"value": round(value, 2), "unit": unit, "system": UCUM, "code": unit}
        }

    def relevant_observation(self, measure: Measure) -> dict[str, Any]:
        codes = [c for c in measure.codes if c.system == self.loinc_alias]
        code = codes[self.rng.randrange(len(codes))]
        display = code.display or measure.name
        if measure.canonical_unit is None or (measure.qualitative and not measure.bands):
            choice = measure.qualitative[self.rng.randrange(len(measure.qualitative))]
            text = choice.texts[0] if choice.texts else choice.band
            return self._observation(
                code.code, display, {"valueCodeableConcept": {"text": text}}, "laboratory"
            )
        unit = code.unit or measure.canonical_unit or ""
        factor = self.kb.unit_factors[measure.id].get(normalise_unit(unit))
        if factor is None:
            unit, factor = measure.canonical_unit or "", 1.0
        low, high = _span(measure)
        value = self.rng.uniform(low, high) * factor
        category = "survey" if getattr(measure, "kind", "lab") == "score" else "laboratory"
        if category == "survey":
            value = float(round(value))
        return self._observation(code.code, display, self._quantity(value, unit), category)

    def other_observation(self) -> dict[str, Any]:
        code, display, unit, low, high = self.others[self.rng.randrange(len(self.others))]
        category = (
            "vital-signs"
            if unit in ("mm[Hg]", "/min", "Cel", "kg", "cm", "kg/m2", "%")
            else "laboratory"
        )
        return self._observation(
            code, display, self._quantity(self.rng.uniform(low, high), unit), category
        )

    def observations(self, count: int, share: float = RELEVANT_SHARE) -> list[dict[str, Any]]:
        relevant = round(count * share) if self.measures else 0
        # Round-robin over the measures: several values per analyte, spread over three years.
        items = [
            self.relevant_observation(self.measures[i % len(self.measures)])
            for i in range(relevant)
        ]
        items += [self.other_observation() for _ in range(count - relevant)]
        self.rng.shuffle(items)
        return items

    def medication_requests(self, count: int) -> list[dict[str, Any]]:
        relevant = _relevant_drugs(self.kb)
        chosen = relevant[: count // 3]
        chosen += [OTHER_DRUGS[i % len(OTHER_DRUGS)] for i in range(count - len(chosen))]
        requests = []
        for index, (code, display) in enumerate(chosen):
            requests.append(
                {
                    "resourceType": "MedicationRequest",
                    "id": self._id("medreq"),
                    "status": "stopped" if index % 5 == 4 else "active",
                    "intent": "order",
                    "medicationCodeableConcept": {
                        "coding": [{"system": RXNORM, "code": code, "display": display}],
                        "text": display,
                    },
                    "subject": {"reference": f"Patient/{PATIENT_ID}"},
                    "authoredOn": self._when(400),
                    "dosageInstruction": [{"text": "1 tablet by mouth daily"}],
                }
            )
        return requests

    def conditions(self, count: int) -> list[dict[str, Any]]:
        relevant = _relevant_conditions(self.kb)
        chosen = relevant[: count // 4]
        chosen += [OTHER_CONDITIONS[i % len(OTHER_CONDITIONS)] for i in range(count - len(chosen))]
        return [
            {
                "resourceType": "Condition",
                "id": self._id("cond"),
                "clinicalStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                            "code": "resolved" if index % 4 == 3 else "active",
                        }
                    ]
                },
                "verificationStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                            "code": "confirmed",
                        }
                    ]
                },
                "code": {
                    "coding": [{"system": SNOMED, "code": code, "display": display}],
                    "text": display,
                },
                "subject": {"reference": f"Patient/{PATIENT_ID}"},
                "onsetDateTime": self._when(3650),
            }
            for index, (code, display) in enumerate(chosen)
        ]

    def patient(self) -> dict[str, Any]:
        born = self.now.date().replace(year=self.now.year - 45, day=1)
        return {
            "resourceType": "Patient",
            "id": PATIENT_ID,
            "gender": "female",
            "birthDate": born.isoformat(),
            "name": [{"family": "Benchmark", "given": ["Synthetic"]}],
        }

    def draft_orders(self) -> dict[str, Any]:
        """Two draft MedicationRequests: a knowledge-base ingredient (if any) and a common drug."""
        drugs = [*_relevant_drugs(self.kb)[-1:], OTHER_DRUGS[0]]
        entries = []
        for code, display in drugs:
            entries.append(
                {
                    "resource": {
                        "resourceType": "MedicationRequest",
                        "id": self._id("draft"),
                        "status": "draft",
                        "intent": "order",
                        "subject": {"reference": f"Patient/{PATIENT_ID}"},
                        "medicationCodeableConcept": {
                            "coding": [{"system": RXNORM, "code": code, "display": display}],
                            "text": display,
                        },
                        "dosageInstruction": [{"text": "1 capsule by mouth daily"}],
                    }
                }
            )
        return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _span(measure: Measure) -> tuple[float, float]:
    """A value range (canonical unit) that covers every band, so results land in all of them."""
    bounds = [
        bound
        for band in measure.bands
        for bound in (band.gt, band.ge, band.lt, band.le)
        if bound is not None
    ]
    minimum = getattr(measure, "min_score", None)
    maximum = getattr(measure, "max_score", None)
    if minimum is not None and maximum is not None:
        return float(minimum), float(maximum)
    if not bounds:
        return 1.0, 100.0
    return min(bounds) * 0.5, max(bounds) * 1.5


def _relevant_drugs(kb: KnowledgeBase) -> list[tuple[str, str]]:
    drugs = [(p.rxnorm, p.display) for p in sorted(kb.products.values(), key=lambda p: p.rxnorm)]
    for ingredient in sorted(kb.ingredients.values(), key=lambda i: i.id):
        drugs += [(code, ingredient.name) for code in ingredient.rxnorm]
    return drugs


def _relevant_conditions(kb: KnowledgeBase) -> list[tuple[str, str]]:
    return [
        (code, condition.name)
        for condition in sorted(kb.condition_classes.values(), key=lambda c: c.id)
        for code in condition.snomed
    ]


def _searchset(resources: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    entries = [
        {
            "fullUrl": f"urn:uuid:{r['resourceType']}-{r['id']}",
            "resource": r,
            "search": {"mode": "match"},
        }
        for r in resources
    ]
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}


def prefetch_for(
    service: ServiceDefinition, resources: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """Sort resources into the service's prefetch keys by the type each template queries."""
    by_type: dict[str, list[Mapping[str, Any]]] = {}
    for resource in resources:
        by_type.setdefault(resource["resourceType"], []).append(resource)
    prefetch: dict[str, Any] = {}
    for key, spec in service.prefetch.items():
        query = spec.query
        resource_type = query.split("?", 1)[0].split("/", 1)[0]
        if "?" not in query:  # a read, e.g. Patient/{{context.patientId}}
            found = by_type.get(resource_type, [])
            prefetch[key] = dict(found[0]) if found else None
        else:
            prefetch[key] = _searchset(by_type.get(resource_type, []))
    return prefetch


def hook_request(
    service: ServiceDefinition,
    patient_id: str,
    prefetch: dict[str, Any] | None,
    *,
    seed: int,
    draft_orders: dict[str, Any] | None = None,
    fhir_server: str | None = None,
) -> dict[str, Any]:
    """A CDS Hooks request for ``service``; ``prefetch=None`` leaves every key to be fetched."""
    context: dict[str, Any] = {"userId": "Practitioner/bench", "patientId": patient_id}
    if service.hook in ("order-select", "order-sign"):
        context["draftOrders"] = draft_orders or {"resourceType": "Bundle", "entry": []}
        if service.hook == "order-select":
            context["selections"] = [
                f"MedicationRequest/{e['resource']['id']}" for e in context["draftOrders"]["entry"]
            ]
    body: dict[str, Any] = {
        "hook": service.hook,
        "hookInstance": str(uuid.UUID(int=random.Random(seed).getrandbits(128), version=4)),
        "context": context,
    }
    if fhir_server is not None:
        body["fhirServer"] = fhir_server
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def synthetic_request(
    kb: KnowledgeBase,
    service: ServiceDefinition,
    observations: int,
    *,
    seed: int = SEED,
    now: datetime | None = None,
    relevant_share: float = RELEVANT_SHARE,
) -> bytes:
    """The request body for a synthetic patient with ``observations`` Observations.

    ``relevant_share=1.0`` is what an EHR running our code-filtered Observation query sends.
    """
    builder = _Patient(kb, seed + observations, now or reference_now())
    resources = [
        builder.patient(),
        *builder.observations(observations, relevant_share),
        *builder.medication_requests(MEDICATIONS),
        *builder.conditions(CONDITIONS),
    ]
    draft = builder.draft_orders()
    body = hook_request(
        service, PATIENT_ID, prefetch_for(service, resources), seed=seed, draft_orders=draft
    )
    return orjson.dumps(body)


def synthea_request(
    kb: KnowledgeBase, service: ServiceDefinition, bundle: Mapping[str, Any], *, whole: bool = False
) -> bytes:
    """A request whose prefetch is a Synthea patient bundle.

    ``whole=False`` sorts the bundle's resources into the service's prefetch keys, as an EHR
    answering the templates would; ``whole=True`` sends the entire transaction Bundle (claims,
    encounters and all) under the observations key: the worst case for a tolerant reader.
    """
    resources = [
        e["resource"] for e in bundle.get("entry", []) if isinstance(e.get("resource"), Mapping)
    ]
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    if whole:
        prefetch = prefetch_for(service, [patient])
        observations_key = next(
            k for k, s in service.prefetch.items() if s.query.startswith("Observation?")
        )
        prefetch[observations_key] = bundle
    else:
        prefetch = prefetch_for(service, resources)
    builder = _Patient(kb, SEED, reference_now())
    draft = builder.draft_orders()
    for entry in draft["entry"]:
        entry["resource"]["subject"] = {"reference": f"Patient/{patient['id']}"}
    body = hook_request(service, patient["id"], prefetch, seed=SEED, draft_orders=draft)
    return orjson.dumps(body)
