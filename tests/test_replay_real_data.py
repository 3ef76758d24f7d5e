"""Replay the public FHIR test data (../shared/testdata) through the service over HTTP.

- every Synthea R4 patient: patient-view with its record as prefetch, then its own medications
  as draft orders for order-select and order-sign, and patient-view again with no prefetch at
  all, the service reading the record from a local FHIR server page by page;
- every SMART STU3 sample patient (its resources are split over several files) and every eCQM
  test patient, the same three hooks;
- every HL7 R4 example resource, inside a Bundle in the prefetch key it belongs to (and every
  example MedicationRequest as a draft order); the example Bundles as one patient's data.

Each answer must be 200 and valid CDS Hooks (``validate.check_response``). The CDS Hooks request
examples are replayed by test_replay_cds_requests.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cds_service.knowledge import KnowledgeBase
from cds_service.protocol.validate import check_response
from tests import realdata
from tests.factories import SERVICE_FOR_HOOK
from tests.helpers import card_rule_ids
from tests.servers import FhirServer

# Slow: left out of the inner loop (`make check`); `make test` runs it. The shared test data
# is beside the project in CI too: tests/test_budget_everywhere.py fails when it is missing.
pytestmark = pytest.mark.slow


def post(client: httpx.Client, request: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/cds-services/{SERVICE_FOR_HOOK[request['hook']]}", json=request)
    assert response.status_code == 200, response.text[:2000]
    body: dict[str, Any] = response.json()
    assert check_response(body) == []
    assert body["extension"]["org.neurotransmitter-cds"]["knowledgeVersion"]
    return body


def replay_three_hooks(client: httpx.Client, patient: realdata.RealPatient) -> int:
    """patient-view, then the patient's medications as drafts (an empty order list when it
    has none); returns how many drafts were sent."""
    post(client, realdata.hook_call("patient-view", patient))
    drafts = realdata.draft_orders(patient)
    for hook in ("order-select", "order-sign"):
        post(client, realdata.hook_call(hook, patient, drafts=drafts))
    return len(drafts)


@pytest.mark.parametrize("name", realdata.synthea_files())
def test_synthea_patient(client: httpx.Client, name: str) -> None:
    patient = realdata.synthea_patient(name)
    assert any(r["resourceType"] == "Patient" for r in patient.resources)
    assert replay_three_hooks(client, patient) > 0


@pytest.fixture(scope="module")
def fhir_server() -> Iterator[FhirServer]:
    with FhirServer() as server:
        yield server


@pytest.fixture
def fhir(fhir_server: FhirServer) -> FhirServer:
    """The module's FHIR server, emptied for each test."""
    fhir_server.state.resources.clear()
    fhir_server.state.requests.clear()
    return fhir_server


@pytest.mark.parametrize("name", realdata.synthea_files())
def test_synthea_patient_read_from_the_fhir_server(
    client: httpx.Client, fhir: FhirServer, name: str
) -> None:
    patient = realdata.synthea_patient(name)
    fhir.state.add(*realdata.as_server_resources(patient))
    fhir.state.page_size = 100
    body = post(
        client,
        realdata.hook_call("patient-view", patient, with_prefetch=False, fhirServer=fhir.base()),
    )
    searched = {r["path"].split("?")[0] for r in fhir.state.requests}
    assert f"/fhir/Patient/{patient.patient_id}" in searched
    assert {"/fhir/Observation", "/fhir/MedicationRequest", "/fhir/Condition"} <= searched
    # Every key was read: nothing is reported as missing.
    notes = body["extension"]["org.neurotransmitter-cds"].get("dataNotes", [])
    assert not [n for n in notes if "could not be obtained" in n], notes


@pytest.mark.parametrize("number", realdata.smart_ids())
def test_smart_stu3_patient(client: httpx.Client, number: str) -> None:
    patient = realdata.smart_patient(number)
    assert patient.patient_id == f"smart-{number}"
    replay_three_hooks(client, patient)


@pytest.mark.parametrize("relative", realdata.ecqm_dirs())
def test_ecqm_test_patient(client: httpx.Client, relative: str) -> None:
    replay_three_hooks(client, realdata.ecqm_patient(relative))


@pytest.mark.parametrize("relative", realdata.hl7_files())
def test_hl7_example(client: httpx.Client, relative: str) -> None:
    example = realdata.hl7_example(relative)
    post(client, realdata.hook_call("patient-view", example))
    orders = [r for r in example.resources if r["resourceType"] in realdata.ORDER_TYPES]
    if orders or relative.startswith("Bundle/"):
        # Orders as an EHR sends them (not re-issued as drafts): the service must cope.
        post(client, realdata.hook_call("order-sign", example, drafts=orders))
        post(client, realdata.hook_call("order-select", example, drafts=orders))


def test_the_test_data_is_all_there() -> None:
    # Parametrised tests over an empty list would pass silently: count what was found.
    assert len(realdata.synthea_files()) == 20
    assert len(realdata.smart_ids()) == 14
    assert len(realdata.hl7_files()) >= 180
    assert len(realdata.ecqm_dirs()) >= 8


def _replayed_patients() -> list[str]:
    """Every public test patient with medications of its own (labels for realdata.patient_by)."""
    labels = [f"synthea/{n}" for n in realdata.synthea_files()]
    labels += [f"smart/{n}" for n in realdata.smart_ids()]
    labels += [f"ecqm/{d}" for d in realdata.ecqm_dirs()]
    labels += [
        f"hl7/{r}"
        for r in realdata.hl7_files()
        if any(x["resourceType"] in realdata.ORDER_TYPES for x in realdata.hl7_example(r).resources)
    ]
    return labels


def _patient(label: str) -> realdata.RealPatient:
    kind, _, name = label.partition("/")
    if kind == "synthea":
        return realdata.synthea_patient(name)
    if kind == "smart":
        return realdata.smart_patient(name)
    if kind == "ecqm":
        return realdata.ecqm_patient(name)
    return realdata.hl7_example(name)


@pytest.mark.parametrize("label", _replayed_patients())
def test_own_medications_as_drafts_alert_only_when_a_rule_names_why(
    client: httpx.Client, kb: KnowledgeBase, label: str
) -> None:
    """Issue 16's nuisance replay: a patient's own medications re-issued as draft orders get no
    card above info unless a rule names why: every finding above info names a rule the knowledge
    base has and what it met (a product, a result, a condition, an allergy, the age or the
    dose), the draft is never its own duplicate, and the card budget holds."""
    patient = _patient(label)
    drafts = realdata.draft_orders(patient) or [
        r for r in patient.resources if r["resourceType"] in realdata.ORDER_TYPES
    ]
    known = {r.id for r in kb.safety_rules} | {r.id for r in kb.dose_limits}
    known |= {r.id for r in kb.duplication}
    body = post(client, realdata.hook_call("order-sign", patient, drafts=drafts))
    cards = body["cards"]
    assert len(cards) <= 3
    for card in cards:
        assert len(card["summary"]) < 140 and len(card.get("detail", "")) <= 1200
        if card["indicator"] == "info":
            continue
        rules = card_rule_ids([card])
        assert rules and rules <= known, (card["summary"], rules)
        detail = card["detail"]
        order = detail.split("(", 1)[1].split(")", 1)[0] if detail.startswith("**Order**") else ""
        for line in detail.splitlines():
            if not line.startswith(("- **Warning**", "- **Critical**")):
                continue
            assert line.count("`") >= 2, line  # names its rule
            met = ("With:" in line) or ("Dose:" in line) or ("**Inputs**" in detail)
            assert met, line
            if "`D1.same-supplement`" in line:
                assert f"({order}," not in line.split("With:", 1)[1], line  # not itself
