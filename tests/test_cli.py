"""The ``cds-service`` command line through typer's runner: evaluate, check-knowledge, help."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cds_service.cli.main import app
from cds_service.protocol.validate import check_response
from tests.conftest import SHARED_TESTDATA
from tests.factories import hook_request, medication_request, observation, patient, prefetch_for

ROOT = Path(__file__).parents[1]
EXAMPLES = ROOT / "examples"
B12 = EXAMPLES / "patient-view-b12-deficient.json"
SYNTHEA = SHARED_TESTDATA / "synthea"
# Wide enough that a card summary is never wrapped in the middle.
WIDE = {"COLUMNS": "200"}


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=WIDE, input=input)


def write(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# evaluate: the readable view


def test_evaluate_prints_the_card_as_a_clinician_reads_it() -> None:
    result = invoke("evaluate", str(B12))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "INFO" in out
    assert "B12 168 pg/mL, deficient: consider oral B12 1,000 µg/day" in out  # the summary
    assert "Vitamin B12 deficient" in out  # the finding line of the detail, rendered
    assert "Consider oral B12 1,000 µg/day" in out  # the suggestion
    assert "create MedicationRequest" in out and "draft/proposal" in out
    assert "Source: Neurotransmitter CDS" in out
    assert "1 card (1 info)" in out


def test_evaluate_json_prints_the_raw_valid_response() -> None:
    result = invoke("evaluate", str(B12), "--json")
    assert result.exit_code == 0, result.output
    response = json.loads(result.stdout)
    assert check_response(response) == []
    assert [c["source"]["topic"]["code"] for c in response["cards"]] == ["methylation"]


def test_evaluate_several_files_as_json_keys_each_response_by_file(tmp_path: Path) -> None:
    quiet = write(tmp_path / "quiet.json", hook_request(prefetch=prefetch_for()))
    result = invoke("evaluate", str(B12), str(quiet), "--json")
    assert result.exit_code == 0, result.output
    responses = json.loads(result.stdout)
    assert len(responses[str(B12)]["cards"]) == 1
    assert responses[str(quiet)]["cards"] == []


def test_evaluate_reads_stdin() -> None:
    result = invoke("evaluate", "-", "--json", input=B12.read_text(encoding="utf-8"))
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["cards"]) == 1


def test_example_as_of_date_keeps_examples_reproducible(tmp_path: Path) -> None:
    """A lab 13 months older than --at is stale: no card. The example's own date gives one."""
    request = json.loads(B12.read_text(encoding="utf-8"))
    request["extension"] = {"org.neurotransmitter-cds.example": {"asOf": "2026-11-27"}}
    dated = write(tmp_path / "dated.json", request)
    on_the_day = invoke("evaluate", str(dated), "--json")
    assert len(json.loads(on_the_day.stdout)["cards"]) == 1
    later = invoke("evaluate", str(dated), "--json", "--at", "2027-12-15")
    assert json.loads(later.stdout)["cards"] == []
    shown = invoke("evaluate", str(dated))
    assert "as of 2026-11-27 (the date the example describes)" in shown.stdout


# --------------------------------------------------------------------------------------------
# evaluate: FHIR Bundles of one patient


def test_a_bundle_is_read_as_of_its_timestamp(tmp_path: Path) -> None:
    """A B12 result 400 days before the Bundle was assembled is stale then: no card."""
    lab = observation("2132-9", 150, "pg/mL")
    lab["effectiveDateTime"] = "2025-10-01T08:00:00Z"
    document = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": "2026-11-05T10:00:00Z",
        "entry": [{"resource": r} for r in (patient(), lab)],
    }
    stale = invoke("evaluate", str(write(tmp_path / "b.json", document)))
    assert "as of 2026-11-05 (the Bundle's timestamp)" in stale.stdout
    assert "No cards" in stale.stdout
    document["timestamp"] = "2026-01-05T10:00:00Z"
    fresh = invoke("evaluate", str(write(tmp_path / "b.json", document)), "--json")
    assert len(json.loads(fresh.stdout)["cards"]) == 1


def test_evaluate_builds_a_patient_view_request_from_a_bundle(tmp_path: Path) -> None:
    resources = [patient(), observation("2132-9", 150, "pg/mL")]
    bundle = write(
        tmp_path / "bundle.json",
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for r in resources],
        },
    )
    result = invoke("evaluate", str(bundle), "--json")
    assert result.exit_code == 0, result.output
    response = json.loads(result.stdout)
    assert check_response(response) == []
    assert [c["source"]["topic"]["code"] for c in response["cards"]] == ["methylation"]


def test_order_hooks_on_a_bundle_use_its_draft_orders(tmp_path: Path) -> None:
    draft = medication_request("36437", "sertraline 50 MG Oral Tablet", status="draft")
    active = medication_request("6809", "metformin 500 MG Oral Tablet")
    bundle = write(
        tmp_path / "bundle.json",
        {"resourceType": "Bundle", "entry": [{"resource": r} for r in (patient(), draft, active)]},
    )
    result = invoke("evaluate", str(bundle), "--hook", "order-select")
    assert result.exit_code == 0, result.output
    assert f"draft orders from the Bundle: MedicationRequest/{draft['id']}" in result.stdout
    assert "hook order-select" in result.stdout


def test_order_hooks_without_a_draft_check_the_latest_active_prescription(tmp_path: Path) -> None:
    older = medication_request("6809", "metformin 500 MG Oral Tablet", days=300)
    newer = medication_request("36437", "sertraline 50 MG Oral Tablet", days=3)
    bundle = write(
        tmp_path / "bundle.json",
        {"resourceType": "Bundle", "entry": [{"resource": r} for r in (patient(), older, newer)]},
    )
    result = invoke("evaluate", str(bundle), "--hook", "order-sign")
    assert result.exit_code == 0, result.output
    assert f"MedicationRequest/{newer['id']}, as if it were being ordered" in result.stdout


@pytest.mark.parametrize("hook", ["patient-view", "order-sign"])
def test_real_synthea_bundles_evaluate_to_valid_responses(hook: str) -> None:
    bundles = sorted(SYNTHEA.glob("*.json"))[:4]
    assert bundles, f"no Synthea bundles under {SYNTHEA}"
    result = invoke("evaluate", *map(str, bundles), "--hook", hook, "--json")
    # A bundle without any prescription cannot be checked at order time: reported, not crashed.
    responses = json.loads(result.stdout) if result.stdout.strip() else {}
    if len(bundles) == 1:
        responses = {str(bundles[0]): responses}
    for name, response in responses.items():
        assert check_response(response) == [], name
    refused = [line for line in result.stderr.splitlines() if line]
    assert len(responses) + len(refused) == len(bundles)
    assert all("no draft order" in line for line in refused)
    assert result.exit_code == (1 if refused else 0)


# --------------------------------------------------------------------------------------------
# evaluate: invalid input gives one line and a non-zero exit


INVALID = {
    "not-json.json": ("{not json", "not valid JSON"),
    "array.json": ("[1, 2]", "expected a JSON object"),
    "resource.json": (json.dumps(patient()), "a FHIR Patient is not enough"),
    "no-patient.json": (
        json.dumps({"hook": "patient-view", "hookInstance": "x", "context": {}}),
        "context.patientId is required",
    ),
    "no-prefetch.json": (
        json.dumps(hook_request(fhirServer="https://fhir.example.org")),
        "needs the data in prefetch (it never calls fhirServer); missing: patient, observations",
    ),
    "two-patients.json": (
        json.dumps(
            {
                "resourceType": "Bundle",
                "entry": [{"resource": patient("a")}, {"resource": patient("b")}],
            }
        ),
        "the Bundle holds 2 Patient resources",
    ),
    "unknown-hook.json": (
        json.dumps({**hook_request(prefetch=prefetch_for()), "hook": "medication-prescribe"}),
        "no service answers hook 'medication-prescribe'",
    ),
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_input_exits_non_zero_with_one_line(tmp_path: Path, name: str) -> None:
    content, reason = INVALID[name]
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    result = invoke("evaluate", str(path))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {path}: ")
    assert reason in lines[0]
    assert "Traceback" not in result.output


def test_one_bad_file_does_not_hide_the_others(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    result = invoke("evaluate", str(bad), str(B12))
    assert result.exit_code == 1
    assert "Vitamin B12 deficient" in result.stdout
    assert result.stderr.count("error:") == 1


def test_missing_file_and_hook_mismatch_are_refused(tmp_path: Path) -> None:
    result = invoke("evaluate", str(tmp_path / "absent.json"))
    assert result.exit_code == 1
    assert "cannot read the file" in result.stderr
    result = invoke("evaluate", str(B12), "--hook", "order-sign")
    assert result.exit_code == 1
    assert (
        "the file is a patient-view request; --hook applies to FHIR Bundles only" in result.stderr
    )


def test_bad_date_is_a_usage_error() -> None:
    result = invoke("evaluate", str(B12), "--at", "yesterday")
    assert result.exit_code == 2


# --------------------------------------------------------------------------------------------
# help


# check-knowledge itself is tested in tests/test_check_knowledge.py.


@pytest.mark.parametrize(
    "command", [[], ["serve"], ["evaluate"], ["check-knowledge"], ["knowledge", "export"]]
)
def test_help_everywhere_with_examples(command: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert "Usage: " in result.stdout
    assert ("Examples" in result.stdout) or ("Start with: cds-service evaluate" in result.stdout)


def test_public_request_examples_never_crash_evaluate() -> None:
    """Real requests from the spec, CRD, PDDI and sandbox: a valid answer or one line why."""
    files = sorted((SHARED_TESTDATA / "cds-requests").rglob("*.json"))
    assert len(files) > 10
    result = invoke("evaluate", *map(str, files), "--json")
    assert "Traceback" not in result.output
    refused = result.stderr.strip().splitlines()
    assert all(line.startswith("error: ") for line in refused)
    responses = json.loads(result.stdout) if result.stdout.strip() else {}
    for name, response in responses.items():
        assert check_response(response) == [], name
    assert len(responses) + len(refused) == len(files)
