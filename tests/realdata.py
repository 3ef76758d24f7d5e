"""The public test data in ../shared/testdata, shaped into CDS Hooks calls.

Each patient's resources become what an EHR would send: ``prefetch`` keyed like our services
(the resources a search would return, referenced Medications included as ``_include`` would),
and the patient's own medication orders as ``draftOrders``. Nothing is changed inside a resource
except, for the order hooks, the status of a copied order (``draft``, as an EHR sends it).
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cds_service.settings import PROJECT_ROOT
from cds_service.snapshot.values import reference_id

TESTDATA = PROJECT_ROOT.parent / "shared" / "testdata"
SYNTHEA = TESTDATA / "synthea"
SMART = TESTDATA / "smart" / "stu3-smart-sample-patients"
HL7 = TESTDATA / "hl7-examples"
ECQM = TESTDATA / "ecqm-tests"

# Where each resource type goes in our services' prefetch (hooks/*.yaml keys).
PREFETCH_KEY = {
    "Observation": "observations",
    "MedicationRequest": "medicationRequests",
    "MedicationOrder": "medicationRequests",
    "Medication": "medicationRequests",  # as `_include=MedicationRequest:medication` returns it
    "MedicationStatement": "medicationStatements",
    "Condition": "conditions",
    "QuestionnaireResponse": "questionnaireResponses",
}
PREFETCH_KEYS = (
    "observations",
    "medicationRequests",
    "medicationStatements",
    "conditions",
    "questionnaireResponses",
)
ORDER_TYPES = ("MedicationRequest", "MedicationOrder")


@dataclass(frozen=True)
class RealPatient:
    label: str
    patient_id: str
    resources: tuple[dict[str, Any], ...]


def _entries(bundle: Any) -> list[dict[str, Any]]:
    if not isinstance(bundle, dict):
        return []
    if bundle.get("resourceType") != "Bundle":
        return [bundle] if isinstance(bundle.get("resourceType"), str) else []
    return [
        e["resource"]
        for e in bundle.get("entry") or []
        if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    ]


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _patient_of(resources: list[dict[str, Any]], fallback: str) -> str:
    for resource in resources:
        if resource.get("resourceType") == "Patient" and isinstance(resource.get("id"), str):
            return str(resource["id"])
    subjects = Counter(
        reference_id(r.get("subject") or r.get("patient"))
        for r in resources
        if reference_id(r.get("subject") or r.get("patient"))
    )
    return subjects.most_common(1)[0][0] if subjects else fallback


@cache
def synthea_patient(name: str) -> RealPatient:
    resources = _entries(_load(SYNTHEA / name))
    return RealPatient(f"synthea/{name}", _patient_of(resources, name), tuple(resources))


def synthea_files() -> list[str]:
    return sorted(p.name for p in SYNTHEA.glob("*.json")) if SYNTHEA.is_dir() else []


_SMART_FILE = re.compile(r"^patient-(\d+)\.fhir-bundle(?:\.\d+)?\.json$")


def smart_ids() -> list[str]:
    """SMART STU3 patients; one patient's resources are split over several files."""
    if not SMART.is_dir():
        return []
    return sorted({m.group(1) for p in SMART.iterdir() if (m := _SMART_FILE.match(p.name))})


@cache
def smart_patient(number: str) -> RealPatient:
    resources: list[dict[str, Any]] = []
    for path in sorted(SMART.glob(f"patient-{number}.fhir-bundle*.json")):
        resources += _entries(_load(path))
    return RealPatient(
        f"smart/{number}", _patient_of(resources, f"smart-{number}"), tuple(resources)
    )


def ecqm_dirs() -> list[str]:
    if not ECQM.is_dir():
        return []
    return sorted(str(p.relative_to(ECQM)) for p in ECQM.glob("*/*") if p.is_dir())


@cache
def ecqm_patient(relative: str) -> RealPatient:
    resources: list[dict[str, Any]] = []
    for path in sorted((ECQM / relative).glob("*.json")):
        resources += _entries(_load(path))
    return RealPatient(f"ecqm/{relative}", _patient_of(resources, "unknown"), tuple(resources))


def hl7_files() -> list[str]:
    return sorted(str(p.relative_to(HL7)) for p in HL7.glob("*/*.json")) if HL7.is_dir() else []


@cache
def hl7_example(relative: str) -> RealPatient:
    """One HL7 example file: a resource, or a Bundle whose entries are one patient's data."""
    document = _load(HL7 / relative)
    resources = _entries(document)
    return RealPatient(f"hl7/{relative}", _patient_of(resources, "example"), tuple(resources))


def prefetch(patient: RealPatient) -> dict[str, Any]:
    """Every prefetch key, as searchset Bundles; ``patient`` is the Patient or null."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    extra: list[dict[str, Any]] = []
    found: dict[str, Any] | None = None
    for resource in patient.resources:
        rtype = resource.get("resourceType")
        if rtype == "Patient" and resource.get("id") == patient.patient_id:
            found = resource
        elif rtype in PREFETCH_KEY:
            grouped[PREFETCH_KEY[rtype]].append(resource)
        else:
            extra.append(resource)
    result: dict[str, Any] = {"patient": found}
    for key in PREFETCH_KEYS:
        result[key] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(grouped[key]),
            "entry": [{"resource": r} for r in grouped[key]],
        }
    if any(r.get("resourceType") == "AllergyIntolerance" for r in extra):
        # A key our services do not ask for: clients send such extras, the service keeps them.
        result["allergies"] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": r} for r in extra if r["resourceType"] == "AllergyIntolerance"],
        }
    return result


def draft_orders(patient: RealPatient, limit: int = 25) -> list[dict[str, Any]]:
    """The patient's own medications, one per distinct drug, re-issued as draft orders.

    Orders (MedicationRequest, MedicationOrder) are copied with status ``draft``; a drug known
    only from a dispense or a statement becomes a draft MedicationRequest for the same drug.
    """
    drafts: list[dict[str, Any]] = []
    seen: set[str] = set()
    for resource in patient.resources:
        rtype = resource.get("resourceType")
        if rtype not in (*ORDER_TYPES, "MedicationDispense", "MedicationStatement"):
            continue
        medication = {
            key: resource[key]
            for key in ("medicationCodeableConcept", "medicationReference")
            if key in resource
        }
        drug = json.dumps(medication, sort_keys=True)
        if not medication or drug in seen:
            continue
        seen.add(drug)
        if rtype in ORDER_TYPES:
            draft = copy.deepcopy(resource)
        else:
            draft = {
                "resourceType": "MedicationRequest",
                "intent": "order",
                "subject": {"reference": f"Patient/{patient.patient_id}"},
                **copy.deepcopy(medication),
            }
        draft["status"] = "draft"
        draft["id"] = str(draft.get("id") or f"draft-{len(drafts) + 1}")
        drafts.append(draft)
        if len(drafts) == limit:
            break
    return drafts


def hook_call(
    hook: str,
    patient: RealPatient,
    *,
    drafts: list[dict[str, Any]] | None = None,
    with_prefetch: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    context: dict[str, Any] = {"userId": "Practitioner/replay", "patientId": patient.patient_id}
    if hook in ("order-select", "order-sign"):
        orders = drafts or []
        # Medications the drafts reference travel with them, as an EHR's draft Bundle has them.
        referenced = [r for r in patient.resources if r.get("resourceType") == "Medication"]
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for r in (*orders, *referenced)],
        }
        if hook == "order-select":
            context["selections"] = [
                f"{d['resourceType']}/{d['id']}" for d in orders[:1] if isinstance(d.get("id"), str)
            ]
    request: dict[str, Any] = {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": context,
    }
    if with_prefetch:
        request["prefetch"] = prefetch(patient)
    request.update(extra)
    return request


def as_server_resources(patient: RealPatient) -> list[dict[str, Any]]:
    """The patient's resources as a FHIR server stores them: ``urn:uuid:`` references resolved
    to ``Type/id`` (the server did that when it processed the transaction Bundle)."""
    by_uuid = {
        str(r.get("id")): f"{r.get('resourceType')}/{r.get('id')}" for r in patient.resources
    }
    text = json.dumps(list(patient.resources))

    def resolve(match: re.Match[str]) -> str:
        return f'"reference": "{by_uuid.get(match.group(1), "urn:uuid:" + match.group(1))}"'

    resolved: list[dict[str, Any]] = json.loads(
        re.sub(r'"reference": "urn:uuid:([0-9a-f-]+)"', resolve, text)
    )
    return resolved
