"""Every suggestion the knowledge base can produce, built and validated as a FHIR R4 resource.

Part of ``cds-service check-knowledge``: a dose or code that would make an invalid
MedicationRequest or ServiceRequest is found at review, not on a clinician's screen.
"""

from __future__ import annotations

from cds_service.cards.resources import medication_request, service_request
from cds_service.knowledge import KnowledgeBase
from cds_service.protocol.validate import check_resource


def suggestion_problems(kb: KnowledgeBase) -> list[str]:
    problems = []
    for intervention in kb.interventions.values():
        resource = medication_request(kb, intervention, "check", "knowledge check")
        problems += [
            f"interventions.yaml: {intervention.id}: {e}" for e in check_resource(resource)
        ]
    for order in kb.lab_orders.values():
        resource = service_request(kb, order, "check")
        problems += [f"lab_orders.yaml: {order.id}: {e}" for e in check_resource(resource)]
    return problems
