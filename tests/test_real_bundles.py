"""Real public FHIR data through the whole pipeline: Synthea R4 transaction bundles, the HL7 R4
examples and the SMART STU3 sample patients (see ../shared/testdata/SOURCES.md).

Every hook is run for every patient, every response must be valid CDS Hooks 2.0 with valid
FHIR R4 suggestions (``run_hook`` validates), and no resource may crash the reader. The clock
is set to just after each patient's last record so their labs count as current and the rules
actually run on them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cds_service.knowledge import KnowledgeBase
from cds_service.snapshot.reader import build_snapshot, iter_resources
from cds_service.snapshot.values import parse_datetime
from tests.conftest import SHARED_TESTDATA
from tests.factories import hook_request, supplement_order
from tests.helpers import run_hook

SYNTHEA = sorted((SHARED_TESTDATA / "synthea").glob("*.json"))
SMART_DIR = SHARED_TESTDATA / "smart" / "stu3-smart-sample-patients"
HL7 = SHARED_TESTDATA / "hl7-examples"


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _last_date(resources: list[dict[str, Any]]) -> datetime:
    dates = [
        d
        for r in resources
        for d in (
            parse_datetime(r.get("effectiveDateTime")),
            parse_datetime(r.get("authoredOn")),
            parse_datetime(r.get("issued")),
        )
        if d is not None
    ]
    return max(dates, default=datetime.now(UTC)) + timedelta(days=1)


def _run_all_hooks(
    kb: KnowledgeBase, patient_id: str, resources: list[dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    prefetch = {
        "patient": None,
        "observations": {"resourceType": "Bundle", "entry": [{"resource": r} for r in resources]},
    }
    for resource in resources:
        if resource["resourceType"] == "Patient" and resource.get("id") == patient_id:
            prefetch["patient"] = resource
    drafts = [
        supplement_order("2418", "Cholecalciferol 2000 UNT Oral Capsule", resource_id="d3"),
        supplement_order("36437", "Sertraline 50 MG Oral Tablet", resource_id="ssri"),
    ]
    responses = []
    for hook in ("patient-view", "order-select", "order-sign"):
        request = hook_request(
            hook,
            prefetch={k: v for k, v in prefetch.items() if v is not None},
            draft_orders=drafts,
            patient_id=patient_id,
        )
        responses.append(run_hook(kb, request, now=now).response)
    return responses


@pytest.mark.parametrize("path", SYNTHEA, ids=lambda p: p.stem.split("_")[0])
def test_synthea_bundle(kb: KnowledgeBase, path: Path) -> None:
    bundle = _load(path)
    resources = list(iter_resources([bundle]))
    [patient] = [r for r in resources if r["resourceType"] == "Patient"]
    now = _last_date(resources)
    snapshot = build_snapshot(kb, patient_id=patient["id"], now=now, prefetch_values=[bundle])
    assert snapshot.patient_found
    # Synthea's eGFR (33914-3) and liver enzymes are read where the bundle has them.
    codes = {
        c.get("code")
        for r in resources
        if r["resourceType"] == "Observation"
        for c in r["code"].get("coding", [])
    }
    if "33914-3" in codes:
        assert "egfr" in snapshot.labs or "egfr" in snapshot.stale_labs
    if "1742-6" in codes:
        assert "alt" in snapshot.labs or "alt" in snapshot.stale_labs
    for response in _run_all_hooks(kb, patient["id"], resources, now):
        assert response["extension"]["org.neurotransmitter-cds"]["knowledgeVersion"] == kb.version


def _smart_patients() -> dict[str, list[Path]]:
    groups: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(SMART_DIR.glob("patient-*.json")):
        groups[path.name.split(".")[0].removeprefix("patient-")].append(path)
    return dict(groups)


SMART = _smart_patients() if SMART_DIR.exists() else {}


@pytest.mark.parametrize("patient_key", sorted(SMART))
def test_smart_stu3_patient(kb: KnowledgeBase, patient_key: str) -> None:
    bundles = [_load(p) for p in SMART[patient_key]]
    resources = list(iter_resources(bundles))
    patient_id = f"smart-{patient_key}"
    now = _last_date(resources)
    snapshot = build_snapshot(kb, patient_id=patient_id, now=now, prefetch_values=bundles)
    ignored = {i.ref: i.reason for i in snapshot.ignored}
    known = {code.code: m.id for m in kb.measures.values() for code in m.codes}
    for resource in resources:
        if resource["resourceType"] != "Observation":
            continue
        for coding in resource["code"].get("coding", []):
            measure = known.get(coding.get("code"))
            if measure is None:
                continue
            # Read, or set aside with a reason (many SMART labs have status "unknown").
            ref = f"Observation/{resource['id']}"
            used = measure in snapshot.labs or measure in snapshot.stale_labs
            assert used or ref in ignored, (ref, measure)
    _run_all_hooks(kb, patient_id, resources, now)


def test_smart_vitamin_d_results_with_status_unknown_are_set_aside(kb: KnowledgeBase) -> None:
    """patient 8888801 has four 25-OH vitamin D3 results, all with status "unknown": they are
    not used (only final, amended or corrected results are) and each is named as ignored; the
    same results marked final are read, the latest (45 ng/mL, 2016) as adequate."""
    bundles = [_load(p) for p in SMART["8888801"]]
    resources = list(iter_resources(bundles))
    now = _last_date(resources)
    snapshot = build_snapshot(kb, patient_id="smart-8888801", now=now, prefetch_values=bundles)
    vitamin_d = [
        r
        for r in resources
        if r["resourceType"] == "Observation"
        and any(c.get("code") == "1989-3" for c in r["code"]["coding"])
    ]
    assert len(vitamin_d) == 4
    assert "vitamin-d-25oh" not in snapshot.labs
    reasons = {i.ref: i.reason for i in snapshot.ignored}
    for r in vitamin_d:
        assert reasons[f"Observation/{r['id']}"] == "status 'unknown' is not final"
    final = [{**r, "status": "final"} for r in vitamin_d]
    snapshot = build_snapshot(kb, patient_id="smart-8888801", now=now, prefetch_values=final)
    fact = snapshot.labs["vitamin-d-25oh"]
    assert (fact.value, fact.band, fact.code) == (45, "adequate", "1989-3")


HL7_FILES = sorted(HL7.glob("*/*.json")) if HL7.exists() else []


def test_hl7_examples_each_file_alone_never_crashes_the_reader(kb: KnowledgeBase) -> None:
    now = datetime.now(UTC)
    read = 0
    for path in HL7_FILES:
        resource = _load(path)
        subject = resource.get("subject") or resource.get("patient") or {}
        reference = (
            subject.get("reference", "Patient/example")
            if isinstance(subject, dict)
            else "Patient/example"
        )
        patient_id = str(reference).rsplit("/", 1)[-1]
        snapshot = build_snapshot(kb, patient_id=patient_id, now=now, prefetch_values=[resource])
        read += 1
        assert snapshot.patient_id == patient_id
    assert read == len(HL7_FILES)


def test_hl7_examples_together_through_every_hook(kb: KnowledgeBase) -> None:
    resources = []
    for path in HL7_FILES:
        resources += list(iter_resources([_load(path)]))
    responses = _run_all_hooks(kb, "example", resources, datetime.now(UTC))
    assert len(responses) == 3
