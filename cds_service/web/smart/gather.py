"""Read the patient's record from the EHR's FHIR server and run the same engine as the hook.

The queries are the patient-view service's own prefetch templates (``hooks/``), resolved by
the service's FHIR client (parallel, paginated, size-limited, with timeouts): the app sees the
data the cards were built from, read with the clinician's token instead of the hook's. The
token is used for these reads and dropped with the request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from cds_service.engine.assess import assess
from cds_service.engine.types import PathwayAssessment
from cds_service.errors import AppRefused, BadRequest, PreconditionFailed
from cds_service.fetch.fhir_client import FhirClient
from cds_service.fetch.prefetch import resolve
from cds_service.fetch.result import PrefetchResult
from cds_service.knowledge import KnowledgeBase
from cds_service.pipeline import Evaluation, evaluate
from cds_service.protocol.messages import HookRequest
from cds_service.protocol.services import ServiceDefinition
from cds_service.snapshot.history import PatientHistory, patient_history

FHIR_UNREADABLE = AppRefused(
    502,
    "The patient's record could not be read",
    "The EHR's FHIR server did not answer or refused the app's requests. Nothing was shown "
    "because the app cannot tell what it did not read. Try again in a moment.",
    reason="fhir-unreadable",
)


@dataclass(frozen=True, slots=True)
class PatientData:
    """What the page is built from; lives only as long as the request."""

    prefetch: PrefetchResult
    evaluation: Evaluation
    assessments: tuple[PathwayAssessment, ...]
    history: PatientHistory


async def read_record(
    fhir: FhirClient,
    service: ServiceDefinition,
    *,
    fhir_server: str,
    token: str | None,
    patient_id: str,
    client_id: str | None,
    total_timeout: float,
) -> PrefetchResult:
    """Every prefetch key of the patient-view service, fetched from ``fhir_server``."""
    authorization = None
    if token is not None:
        authorization = {"access_token": token, "token_type": "Bearer", "subject": client_id}
    try:
        request = HookRequest.model_validate(
            {
                "hook": service.hook,
                "hookInstance": str(uuid.uuid4()),
                "fhirServer": fhir_server,
                "fhirAuthorization": authorization,
                "context": {"patientId": patient_id},
            }
        )
        return await resolve(request, service, fhir, total_timeout=total_timeout)
    except (PreconditionFailed, BadRequest, ValueError) as exc:
        raise FHIR_UNREADABLE from exc


def evaluate_record(
    prefetch: PrefetchResult, kb: KnowledgeBase, *, patient_id: str, now: datetime
) -> PatientData:
    """The hook's evaluation, the pathway assessments and the history: pure, CPU only."""
    request = HookRequest.model_validate(
        {
            "hook": "patient-view",
            "hookInstance": str(uuid.uuid4()),
            "context": {"patientId": patient_id},
        }
    )
    evaluation = evaluate(request, prefetch, kb, now)
    return PatientData(
        prefetch=prefetch,
        evaluation=evaluation,
        assessments=tuple(assess(evaluation.snapshot, kb)),
        history=patient_history(
            kb, patient_id=patient_id, now=now, prefetch_values=prefetch.values.values()
        ),
    )
