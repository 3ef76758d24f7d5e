"""Builders for FHIR resources and CDS Hooks requests used across the tests.

Dates are relative to the real clock so the data never goes stale.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

_ids = itertools.count(1)
PATIENT_ID = "pat-1"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"


def days_ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def patient(
    patient_id: str = PATIENT_ID, *, age: int | None = 45, gender: str = "female"
) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Patient", "id": patient_id, "gender": gender}
    if age is not None:
        today = date.today()
        resource["birthDate"] = (
            today.replace(year=today.year - age).isoformat()
            if not (today.month == 2 and today.day == 29)
            else f"{today.year - age}-02-28"
        )
    return resource


def observation(
    code: str,
    value: float | None,
    unit: str | None,
    *,
    days: float = 10,
    status: str = "final",
    comparator: str | None = None,
    patient_id: str = PATIENT_ID,
    system: str = LOINC,
    **extra: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"obs-{next(_ids)}",
        "status": status,
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": days_ago(days),
    }
    if value is not None:
        quantity: dict[str, Any] = {"value": value}
        if unit is not None:
            quantity.update(unit=unit, system="http://unitsofmeasure.org", code=unit)
        if comparator:
            quantity["comparator"] = comparator
        resource["valueQuantity"] = quantity
    resource.update(extra)
    return resource


def medication_request(
    rxnorm: str | None,
    display: str,
    *,
    status: str = "active",
    days: float = 30,
    patient_id: str = PATIENT_ID,
    resource_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": display}
    if rxnorm:
        concept["coding"] = [{"system": RXNORM, "code": rxnorm, "display": display}]
    resource = {
        "resourceType": "MedicationRequest",
        "id": resource_id or f"mr-{next(_ids)}",
        "status": status,
        "intent": "order",
        "subject": {"reference": f"Patient/{patient_id}"},
        "medicationCodeableConcept": concept,
        "authoredOn": days_ago(days),
    }
    resource.update(extra)
    return resource


def condition(
    code: str,
    display: str,
    *,
    system: str = SNOMED,
    clinical: str = "active",
    verification: str = "confirmed",
    patient_id: str = PATIENT_ID,
) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": f"cond-{next(_ids)}",
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": clinical,
                }
            ]
        },
        "verificationStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "code": verification,
                }
            ]
        },
        "code": {"coding": [{"system": system, "code": code, "display": display}], "text": display},
        "subject": {"reference": f"Patient/{patient_id}"},
    }


def bundle(*resources: dict[str, Any], with_type: bool = True) -> dict[str, Any]:
    result: dict[str, Any] = {
        "resourceType": "Bundle",
        "entry": [{"resource": r} for r in resources],
    }
    if with_type:
        result["type"] = "searchset"
    return result


def prefetch_for(
    *resources: dict[str, Any], patient_resource: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A complete prefetch (every key of our services) holding these resources."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for resource in resources:
        by_type.setdefault(resource["resourceType"], []).append(resource)
    return {
        "patient": patient_resource if patient_resource is not None else patient(),
        "observations": bundle(*by_type.get("Observation", [])),
        "medicationRequests": bundle(
            *by_type.get("MedicationRequest", []), *by_type.get("MedicationOrder", [])
        ),
        "medicationStatements": bundle(*by_type.get("MedicationStatement", [])),
        "conditions": bundle(*by_type.get("Condition", [])),
        "questionnaireResponses": bundle(*by_type.get("QuestionnaireResponse", [])),
    }


def hook_request(
    hook: str = "patient-view",
    *,
    prefetch: dict[str, Any] | None = None,
    draft_orders: list[dict[str, Any]] | None = None,
    selections: list[str] | None = None,
    patient_id: str = PATIENT_ID,
    **extra: Any,
) -> dict[str, Any]:
    context: dict[str, Any] = {"userId": "Practitioner/prac-1", "patientId": patient_id}
    if hook in ("order-select", "order-sign"):
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "entry": [{"resource": r} for r in draft_orders or []],
        }
    if hook == "order-select":
        context["selections"] = (
            selections
            if selections is not None
            else [f"{r['resourceType']}/{r['id']}" for r in draft_orders or []]
        )
    request: dict[str, Any] = {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context}
    if prefetch is not None:
        request["prefetch"] = prefetch
    request.update(extra)
    return request


SERVICE_FOR_HOOK = {
    "patient-view": "neurotransmitter-patient-view",
    "order-select": "neurotransmitter-order-select",
    "order-sign": "neurotransmitter-order-sign",
}


# --- Medication statements and draft orders (safety tests) -----------------------------------


def medication_statement(
    display: str,
    rxnorm: str | None = None,
    *,
    status: str = "active",
    days: float = 30,
    patient_id: str = PATIENT_ID,
    **extra: Any,
) -> dict[str, Any]:
    """An R4 MedicationStatement (supplements are usually recorded this way)."""
    concept: dict[str, Any] = {"text": display}
    if rxnorm:
        concept["coding"] = [{"system": RXNORM, "code": rxnorm, "display": display}]
    resource = {
        "resourceType": "MedicationStatement",
        "id": f"ms-{next(_ids)}",
        "status": status,
        "subject": {"reference": f"Patient/{patient_id}"},
        "medicationCodeableConcept": concept,
        "effectivePeriod": {"start": days_ago(days)},
    }
    resource.update(extra)
    return resource


def daily_dosage(value: float, unit: str, per_day: float = 1) -> list[dict[str, Any]]:
    """R4 dosageInstruction: ``value unit`` ``per_day`` times a day."""
    return [
        {
            "timing": {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}},
            "doseAndRate": [{"doseQuantity": {"value": value, "unit": unit}}],
        }
    ]


def draft_order(
    display: str,
    rxnorm: str | None = None,
    *,
    resource_id: str | None = None,
    dstu2: bool = False,
    dose: tuple[float, str] | None = None,
    patient_id: str = PATIENT_ID,
) -> dict[str, Any]:
    """A draft medication order as the sandbox sends it: R4 MedicationRequest or DSTU2 MedicationOrder."""
    concept: dict[str, Any] = {"text": display}
    if rxnorm:
        concept["coding"] = [{"system": RXNORM, "code": rxnorm, "display": display}]
    resource: dict[str, Any] = {
        "resourceType": "MedicationOrder" if dstu2 else "MedicationRequest",
        "id": resource_id or f"draft-{next(_ids)}",
        "status": "draft",
        "medicationCodeableConcept": concept,
    }
    if dstu2:
        resource["patient"] = {"reference": f"Patient/{patient_id}"}
        if dose:
            resource["dosageInstruction"] = [
                {
                    "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                    "doseQuantity": {"value": dose[0], "unit": dose[1]},
                }
            ]
    else:
        resource["intent"] = "order"
        resource["subject"] = {"reference": f"Patient/{patient_id}"}
        if dose:
            resource["dosageInstruction"] = daily_dosage(*dose)
    return resource
