"""The FHIR resources a card's suggestions create, and what every card shares (source label,
override reasons).

Draft MedicationRequests (intent proposal, RxNorm-coded, the knowledge base's dose) and draft
ServiceRequests (LOINC-coded) for clinician review; never orders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cds_service.cards.record import SuggestionAudit
from cds_service.knowledge import KnowledgeBase
from cds_service.knowledge.schema import (
    Intervention,
    LabOrder,
)
from cds_service.protocol.messages import Action, OverrideCoding, Suggestion
from cds_service.protocol.validate import check_resource

SOURCE_LABEL = "Neurotransmitter CDS"


def medication_request(
    kb: KnowledgeBase, intervention: Intervention, patient_id: str, reason: str
) -> dict[str, Any]:
    """A draft MedicationRequest (intent proposal), RxNorm-coded, dose text from the knowledge base."""
    return {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "proposal",
        "subject": {"reference": f"Patient/{patient_id}"},
        "medicationCodeableConcept": {
            "coding": [
                {
                    "system": kb.uri(intervention.ingredient.system),
                    "code": intervention.ingredient.code,
                    "display": intervention.ingredient.display or intervention.name,
                }
            ],
            "text": intervention.name,
        },
        "reasonCode": [{"text": reason}],
        "dosageInstruction": [
            {
                "text": intervention.dose_text,
                # The daily amount the option proposes, so the EHR can check it.
                "maxDosePerPeriod": {
                    "numerator": {
                        "value": intervention.daily_dose.value,
                        "unit": intervention.daily_dose.unit,
                        "system": kb.uri("ucum"),
                        "code": intervention.daily_dose.unit,
                    },
                    "denominator": {
                        "value": 1,
                        "unit": "day",
                        "system": kb.uri("ucum"),
                        "code": "d",
                    },
                },
            }
        ],
        "note": [
            {
                "text": f"Option suggested by decision support (knowledge base {kb.version}); review before ordering."
            }
        ],
    }


def order_test_suggestion(
    kb: KnowledgeBase, order: LabOrder, patient_id: str, label: str, rule_ids: Iterable[str]
) -> tuple[Suggestion, SuggestionAudit]:
    """ "Order this test": a suggestion creating a draft ServiceRequest, with its audit entry
    naming the rules that ask for the test."""
    suggestion = Suggestion(
        label=label,
        actions=[
            Action(
                type="create",
                description=f"Create a draft order for {order.name}",
                resource=service_request(kb, order, patient_id),
            )
        ],
    )
    return suggestion, SuggestionAudit(suggestion.uuid, "create:ServiceRequest", tuple(rule_ids))


def service_request(kb: KnowledgeBase, order: LabOrder, patient_id: str) -> dict[str, Any]:
    """A draft ServiceRequest (intent proposal) for a laboratory test, LOINC-coded."""
    return {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "subject": {"reference": f"Patient/{patient_id}"},
        "code": {
            "coding": [
                {
                    "system": kb.uri(order.code.system),
                    "code": order.code.code,
                    "display": order.code.display or order.name,
                }
            ],
            "text": order.name,
        },
        "reasonCode": [{"text": order.reason}],
    }


def override_reasons(kb: KnowledgeBase, codes: Iterable[str] = ()) -> list[OverrideCoding]:
    """The override reasons a card offers: those its rules name, else the default ones, in the
    manifest's order; each with its own code system (the CDS Hooks vocabulary or ours)."""
    wanted = set(codes)
    return [
        OverrideCoding(
            system=kb.uri(r.system) if r.system else kb.manifest.override_reason_system,
            code=r.code,
            display=r.display,
        )
        for r in kb.manifest.override_reasons
        if (r.code in wanted if wanted else r.default)
    ]


# Resources a clinician's order card may set to stopped (R4; DSTU2 clients get none).
_STOPPABLE_TYPES = frozenset({"MedicationRequest", "MedicationStatement"})


def stop_suggestion(
    resource: Mapping[str, Any], label: str, reason: str, rule_ids: Iterable[str]
) -> tuple[Suggestion, SuggestionAudit] | None:
    """ "Stop the 5-HTP": an ``update`` of the patient's own MedicationStatement or
    MedicationRequest to status ``stopped`` (the whole resource, as CDS Hooks requires for an
    update). None when the resource is not an R4 one of those types that still validates once
    changed: the card then names what to stop without an action."""
    if resource.get("resourceType") not in _STOPPABLE_TYPES or not resource.get("id"):
        return None
    stopped = {**resource, "status": "stopped"}
    if check_resource(stopped, proposal=False):
        return None
    kind = str(resource["resourceType"])
    suggestion = Suggestion(
        label=label,
        actions=[
            Action(
                type="update",
                description=f"Set {kind}/{resource['id']} to stopped ({reason})",
                resource=stopped,
            )
        ],
    )
    return suggestion, SuggestionAudit(suggestion.uuid, f"update:{kind}", tuple(rule_ids))
