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
        "allergies": bundle(*by_type.get("AllergyIntolerance", [])),
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


# -- Knowledge-base helpers (issue 3) -------------------------------------------------------


def coded_observation(
    code: str,
    answer_code: str,
    answer_system: str = LOINC,
    *,
    display: str | None = None,
    days: float = 10,
    patient_id: str = PATIENT_ID,
) -> dict[str, Any]:
    """An Observation whose value is a coded answer (e.g. PHQ-9 item 9, a urine hCG)."""
    resource = observation(code, None, None, days=days, patient_id=patient_id)
    coding: dict[str, Any] = {"system": answer_system, "code": answer_code}
    if display:
        coding["display"] = display
    resource["valueCodeableConcept"] = {"coding": [coding]}
    return resource


PHQ_ANSWERS = {0: "LA6568-5", 1: "LA6569-3", 2: "LA6570-1", 3: "LA6571-9"}
PHQ9_ITEMS = [
    "44250-9",
    "44255-8",
    "44259-0",
    "44254-1",
    "44251-7",
    "44258-2",
    "44252-5",
    "44253-3",
    "44260-8",
]


def questionnaire_response(
    answers: dict[str, int | None],
    *,
    questionnaire: str | None = "http://loinc.org/q/44249-1",
    status: str = "completed",
    days: float = 5,
    coded: bool = True,
    link_prefix: str = "/",
    total: int | None = None,
    total_link_id: str = "/44261-6",
    patient_id: str = PATIENT_ID,
) -> dict[str, Any]:
    """A QuestionnaireResponse answering LOINC items (linkId "/CODE"), coded or as integers."""
    items: list[dict[str, Any]] = []
    for link_id, score in answers.items():
        item: dict[str, Any] = {"linkId": f"{link_prefix}{link_id}"}
        if score is not None:
            if coded:
                item["answer"] = [{"valueCoding": {"system": LOINC, "code": PHQ_ANSWERS[score]}}]
            else:
                item["answer"] = [{"valueInteger": score}]
        items.append(item)
    if total is not None:
        items.append({"linkId": total_link_id, "answer": [{"valueInteger": total}]})
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": f"qr-{next(_ids)}",
        "status": status,
        "subject": {"reference": f"Patient/{patient_id}"},
        "authored": days_ago(days),
        "item": [{"linkId": "/44249-1", "item": items}],
    }
    if questionnaire:
        resource["questionnaire"] = questionnaire
    return resource


def phq9_answers(scores: list[int | None]) -> dict[str, int | None]:
    return dict(zip(PHQ9_ITEMS, scores, strict=True))


def supplement_order(
    rxnorm: str | None, display: str, *, system: str = RXNORM, resource_id: str | None = None
) -> dict[str, Any]:
    """A draft MedicationRequest for a supplement (order-select / order-sign)."""
    concept: dict[str, Any] = {"text": display}
    if rxnorm:
        concept["coding"] = [{"system": system, "code": rxnorm, "display": display}]
    return {
        "resourceType": "MedicationRequest",
        "id": resource_id or f"draft-{next(_ids)}",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "medicationCodeableConcept": concept,
    }


def allergy(
    code: str | None,
    display: str,
    *,
    system: str = SNOMED,
    clinical: str | None = "active",
    verification: str | None = "confirmed",
    dstu2: bool = False,
    patient_id: str = PATIENT_ID,
) -> dict[str, Any]:
    """An AllergyIntolerance: R4 (clinical and verification status as CodeableConcepts), or
    DSTU2 (one ``status`` code and the allergen in ``substance``)."""
    concept: dict[str, Any] = {"text": display}
    if code:
        concept["coding"] = [{"system": system, "code": code, "display": display}]
    resource: dict[str, Any] = {
        "resourceType": "AllergyIntolerance",
        "id": f"allergy-{next(_ids)}",
        "patient": {"reference": f"Patient/{patient_id}"},
    }
    if dstu2:
        resource["substance"] = concept
        resource["status"] = (
            verification
            if verification in ("refuted", "entered-in-error")
            else (clinical or "confirmed")
        )
        return resource
    resource["code"] = concept
    if clinical is not None:
        resource["clinicalStatus"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                    "code": clinical,
                }
            ]
        }
    if verification is not None:
        resource["verificationStatus"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                    "code": verification,
                }
            ]
        }
    return resource
