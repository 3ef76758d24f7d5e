"""lean_json: a hook body parsed once, without the entries no rule reads, and nothing else lost.

The contract: ``loads_hook_body(raw)`` raises exactly when ``orjson.loads(raw)`` does, and
otherwise differs from it only by prefetch Bundle entries the snapshot would skip, so the
snapshot built from either is the same. Checked on every real patient in ../shared/testdata
(as an EHR would send it, and as one whole Synthea Bundle) and on hostile bodies from Hypothesis.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.synthetic import reference_now, synthetic_request
from cds_service.http.app import create_app
from cds_service.http.lean_json import LEAN_MIN_BYTES, HookBodyReader
from cds_service.knowledge import KnowledgeBase, load_knowledge
from cds_service.protocol.services import load_services
from cds_service.settings import PROJECT_ROOT
from cds_service.snapshot.facts import READ_RESOURCE_TYPES, PatientSnapshot
from cds_service.snapshot.measures import measure_of
from cds_service.snapshot.reader import build_snapshot
from tests import realdata
from tests.conftest import make_settings
from tests.factories import LOINC, PATIENT_ID, bundle, hook_request, observation, patient
from tests.fuzz_strategies import FUZZ, json_values, mutated
from tests.helpers import run_hook
from tests.servers import serve_app

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
KB = load_knowledge(PROJECT_ROOT / "mappings")  # the strategies draw its codes
KNOWN_CODE = next(code for code, systems in KB.measure_codes.items() if LOINC in systems)
UNREAD_CODE = "8480-6"  # systolic blood pressure: no measure reads it
PATIENT_VIEW_SERVICE = "neurotransmitter-patient-view"


def reader(min_bytes: int = 0) -> HookBodyReader:
    return HookBodyReader(READ_RESOURCE_TYPES, KB.measure_codes, min_bytes=min_bytes)


def lean(raw: bytes, min_bytes: int = 0) -> Any:
    """A fresh reader's answer: the one a worker gives the first body it sees."""
    return reader(min_bytes).loads(raw)


def snapshot(body: dict[str, Any], patient_id: str = PATIENT_ID) -> PatientSnapshot:
    prefetch = body.get("prefetch") or {}
    return build_snapshot(KB, patient_id=patient_id, now=NOW, prefetch_values=prefetch.values())


def entries(body: Any) -> list[Any]:
    """Every prefetch Bundle entry of a parsed body, in order."""
    prefetch = body.get("prefetch") if isinstance(body, dict) else None
    if not isinstance(prefetch, dict):
        return []
    found: list[Any] = []
    for value in prefetch.values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            entry = value.get("entry")
            if isinstance(entry, list):
                found += entry
    return found


def skipped_by_snapshot(entry: Any) -> bool:
    """What may be left out: an entry whose resource build_snapshot would not read."""
    resource = entry.get("resource") if isinstance(entry, dict) else None
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        return False
    if resource["resourceType"] != "Observation":
        return resource["resourceType"] not in READ_RESOURCE_TYPES
    return measure_of(resource, KB.measure_codes, KB.system_aliases) is None


def assert_same_reading(raw: bytes, patient_id: str = PATIENT_ID) -> tuple[Any, Any]:
    """Both parsers agree on validity; what lean leaves out the snapshot never reads."""
    try:
        full = orjson.loads(raw)
    except orjson.JSONDecodeError:
        with pytest.raises(orjson.JSONDecodeError):
            lean(raw)
        return None, None
    pruned = lean(raw)
    kept = [orjson.dumps(e) for e in entries(pruned)]
    left_out = [e for e in entries(full) if orjson.dumps(e) not in kept]
    assert all(skipped_by_snapshot(e) for e in left_out)
    if isinstance(full, dict) and isinstance(full.get("prefetch"), dict):
        assert snapshot(pruned, patient_id) == snapshot(full, patient_id)
        without_entries = {k: v for k, v in full.items() if k != "prefetch"}
        assert {k: v for k, v in pruned.items() if k != "prefetch"} == without_entries
    elif not left_out:
        assert pruned == full
    return full, pruned


# -- real data --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", realdata.synthea_files())
def test_synthea_patients_read_the_same_with_less_parsed(name: str) -> None:
    """A whole Synthea record under one key (encounters, claims and all) and the sorted
    prefetch an EHR sends: the same snapshot; the record loses its unread resources."""
    real = realdata.synthea_patient(name)
    whole = (realdata.SYNTHEA / name).read_bytes()
    raw = orjson.dumps(
        {
            "hook": "patient-view",
            "hookInstance": "lean",
            "context": {"patientId": real.patient_id},
            "prefetch": {"record": orjson.loads(whole)},
        }
    )
    full, pruned = assert_same_reading(raw, real.patient_id)
    assert 0 < len(entries(pruned)) < len(entries(full))
    assert {e["resource"]["resourceType"] for e in entries(pruned)} <= READ_RESOURCE_TYPES
    sorted_call = orjson.dumps(realdata.hook_call("patient-view", real))
    assert_same_reading(sorted_call, real.patient_id)


@pytest.mark.parametrize("number", realdata.smart_ids())
def test_smart_patients_read_the_same(number: str) -> None:
    real = realdata.smart_patient(number)
    assert_same_reading(orjson.dumps(realdata.hook_call("patient-view", real)), real.patient_id)


def test_the_real_data_is_there() -> None:
    assert len(realdata.synthea_files()) >= 10 and len(realdata.smart_ids()) >= 10


# -- what is left out, and what is not --------------------------------------------------------


def _call(*resources: dict[str, Any]) -> dict[str, Any]:
    return hook_request(prefetch={"patient": patient(), "observations": bundle(*resources)})


def _unread(count: int) -> list[dict[str, Any]]:
    return [observation(UNREAD_CODE, 120, "mm[Hg]", id=f"unread-{n}") for n in range(count)]


def test_unread_observations_and_types_are_left_out_everything_else_kept() -> None:
    read = observation(KNOWN_CODE, 300, "pg/mL", id="read")
    both = observation(KNOWN_CODE, 300, "pg/mL", id="both")
    both["code"]["coding"].insert(0, {"system": LOINC, "code": UNREAD_CODE})
    unread = observation(UNREAD_CODE, 120, "mm[Hg]", id="unread")
    odd_coding = observation(UNREAD_CODE, 120, "mm[Hg]", id="odd")
    odd_coding["code"]["coding"].append("not a coding")  # malformed: the reader decides
    encounter = {"resourceType": "Encounter", "id": "enc"}
    no_type = {"id": "no-type"}
    body = _call(read, both, unread, odd_coding, encounter, no_type, *_unread(20))
    pruned = lean(orjson.dumps(body))
    assert [e["resource"].get("id") for e in entries(pruned)] == ["read", "both", "odd", "no-type"]
    assert pruned["prefetch"]["patient"] == body["prefetch"]["patient"]
    assert {k: v for k, v in pruned.items() if k != "prefetch"} == {
        k: v for k, v in body.items() if k != "prefetch"
    }


def test_a_body_mostly_read_is_parsed_whole_by_orjson() -> None:
    """What a spec-abiding EHR sends (our Observation query is filtered by code): nothing
    worth leaving out, and simdjson converts what is kept more slowly than orjson does."""
    read = [observation(KNOWN_CODE, 300, "pg/mL", id=f"read-{n}") for n in range(30)]
    raw = orjson.dumps(_call(*read, *_unread(10)))
    assert lean(raw) == orjson.loads(raw)
    assert len(entries(lean(orjson.dumps(_call(*read, *_unread(60)))))) == 30


def test_the_share_is_sampled_across_the_whole_body_not_its_start() -> None:
    read = [observation(KNOWN_CODE, 300, "pg/mL", id=f"read-{n}") for n in range(64)]
    assert len(entries(lean(orjson.dumps(_call(*read, *_unread(1000)))))) == 64
    assert len(entries(lean(orjson.dumps(_call(*_unread(64), *read * 16))))) == 64 * 17


def test_once_a_sample_says_mostly_read_it_looks_again_only_every_so_often() -> None:
    read = [observation(KNOWN_CODE, 300, "pg/mL", id=f"read-{n}") for n in range(30)]
    mostly_read = orjson.dumps(_call(*read, *_unread(10)))
    mostly_unread = orjson.dumps(_call(*read, *_unread(100)))
    worker = reader()
    assert worker.loads(mostly_unread) != orjson.loads(mostly_unread)  # pruned
    assert worker.loads(mostly_read) == orjson.loads(mostly_read)  # looked: not worth it
    for _ in range(worker.recheck_every - 1):  # not looked at: orjson, whole
        assert worker.loads(mostly_unread) == orjson.loads(mostly_unread)
    assert len(entries(worker.loads(mostly_unread))) == 30  # looked again: pruned
    assert worker.pays


def test_a_reader_reuses_its_parser_and_nothing_it_returned_depends_on_it() -> None:
    worker = reader()
    first_raw = orjson.dumps(_call(*_unread(5), observation(KNOWN_CODE, 300, "pg/mL")))
    first = worker.loads(first_raw)
    kept = orjson.dumps(first)
    second = worker.loads(orjson.dumps(_call(*_unread(7))))
    assert entries(second) == [] and len(entries(first)) == 1
    assert orjson.dumps(first) == kept  # still plain Python objects, whole
    with pytest.raises(orjson.JSONDecodeError):
        worker.loads(first_raw[:-1])
    assert worker.loads(first_raw) == first


def test_draft_orders_and_bundles_outside_prefetch_are_never_pruned() -> None:
    unread = observation(UNREAD_CODE, 120, "mm[Hg]", id="unread")
    body = _call(unread)
    body["context"]["extraBundle"] = bundle(unread)
    body["elsewhere"] = bundle({"resourceType": "Claim", "id": "c"})
    pruned = lean(orjson.dumps(body))
    assert entries(pruned) == []
    assert pruned["context"] == body["context"] and pruned["elsewhere"] == body["elsewhere"]


def test_small_bodies_are_parsed_whole_by_orjson() -> None:
    raw = orjson.dumps(_call(observation(UNREAD_CODE, 120, "mm[Hg]", id="unread")))
    assert len(raw) < LEAN_MIN_BYTES
    assert lean(raw, min_bytes=LEAN_MIN_BYTES) == orjson.loads(raw)
    assert entries(lean(raw)) == []


@pytest.mark.parametrize(
    "raw",
    [
        b"\xef\xbb\xbf" + orjson.dumps(_call()),  # byte-order mark: simdjson accepts, orjson not
        b'{"prefetch": {"a": 18446744073709551616}}',  # beyond 64 bits: orjson gives a float
        b'{"prefetch": {"a": -9223372036854775809}}',
        b'{"prefetch": {"a": 18446744073709551615}}',
        b'{"a": 1e400}',
        b'{"a": NaN}',
        b'{"a": "\\ud800"}',
        b'{"a": "\xff"}',
        b'{"a": 1} trailing',
        b"[" * 1100 + b"]" * 1100,
        b"[" * 500 + b"]" * 500,
        b"",
        b"  ",
        b'"just a string"',
        b"null",
        b'{"prefetch": null}',
        b'{"prefetch": [1, 2]}',
        b'{"prefetch": {"o": {"resourceType": "Bundle", "entry": {"resource": {}}}}}',
        b'{"a": 1, "a": 2, "prefetch": {}, "prefetch": {"x": null}}',
        b'{"prefetch": {"o": 1, "o": {"resourceType": "Bundle", "entry": []}}}',
        b'{"prefetch": {"o": {"resourceType": "Bundle", "entry": [], "entry": [{"a": 1}]}}}',
        b'{"\\u0000": false, "": null, "prefetch": {"\\u0000x": 1, "": 2}}',
    ],
)
def test_edge_bodies_parse_or_fail_exactly_as_orjson(raw: bytes) -> None:
    try:
        expected = orjson.loads(raw)
    except orjson.JSONDecodeError:
        with pytest.raises(orjson.JSONDecodeError):
            lean(raw)
    else:
        assert lean(raw) == expected


def test_inside_an_entry_a_repeated_name_counts_at_its_first_occurrence() -> None:
    """The documented limit (lean_json): whether an entry is read is decided on the first of
    a repeated name; orjson would keep the last. Malformed FHIR, and rare enough to accept."""
    raw = orjson.dumps(_call()).replace(
        b'"entry":[]',
        b'"entry":[{"resource":{"resourceType":"Observation","code":{"coding":[{"code":"%s"}]},'
        b'"code":{"coding":[{"system":"%s","code":"%s"}]}}}]'
        % (UNREAD_CODE.encode(), LOINC.encode(), KNOWN_CODE.encode()),
        1,
    )
    assert len(entries(orjson.loads(raw))) == 1
    assert entries(lean(raw)) == []


# -- hostile bodies ---------------------------------------------------------------------------

_entry_resources = st.one_of(
    st.sampled_from(
        [
            observation(KNOWN_CODE, 300, "pg/mL", id="known"),
            observation(UNREAD_CODE, 120, "mm[Hg]", id="unread"),
            {"resourceType": "Encounter", "id": "e"},
            {"resourceType": "Condition", "id": "c", "code": {"text": "x"}},
        ]
    ).flatmap(lambda r: st.one_of(st.just(r), mutated(r, protect=frozenset({"resourceType"})))),
    json_values(6),
)
_entries_strategy = st.lists(
    st.one_of(st.builds(lambda r: {"resource": r}, _entry_resources), json_values(4)),
    max_size=8,
)


@FUZZ
@given(entry=_entries_strategy, extra=json_values(6), key=st.text(max_size=8))
def test_hostile_prefetch_reads_the_same(entry: list[Any], extra: Any, key: str) -> None:
    body = {
        "hook": "patient-view",
        "hookInstance": "fuzz",
        "context": {"patientId": PATIENT_ID},
        "prefetch": {"observations": {"resourceType": "Bundle", "entry": entry}, key: extra},
    }
    # Python's json writes NaN, infinities and big integers, which orjson refuses or reads
    # differently: exactly the bodies where the two parsers could disagree.
    assert_same_reading(json.dumps(body).encode())


@FUZZ
@given(value=json_values(16))
def test_any_json_document_reads_the_same(value: Any) -> None:
    assert_same_reading(json.dumps(value).encode())


@FUZZ
@given(raw=st.binary(max_size=64), cut=st.integers(min_value=0, max_value=400))
def test_broken_bytes_fail_as_orjson_fails(raw: bytes, cut: int) -> None:
    whole = orjson.dumps(_call(observation(KNOWN_CODE, 300, "pg/mL")))
    assert_same_reading(raw)
    assert_same_reading(whole[:cut] + raw + whole[cut:])


# -- through the service ----------------------------------------------------------------------


def _without_uuids(value: Any) -> Any:
    """The response without uuids, nor the links (their URL names the server that answered)."""
    if isinstance(value, dict):
        return {k: _without_uuids(v) for k, v in value.items() if k not in ("uuid", "links")}
    if isinstance(value, list):
        return [_without_uuids(v) for v in value]
    return value


def test_a_large_record_gets_the_cards_the_whole_parse_gives(
    tmp_path: Path, kb: KnowledgeBase
) -> None:
    """Under uvicorn: a 1,000-Observation record, 70% of it unread (the lean path), answers
    with the very cards the pipeline gives the same request parsed whole."""
    now = reference_now()
    service = load_services(PROJECT_ROOT / "hooks", kb).services[PATIENT_VIEW_SERVICE]
    raw = synthetic_request(kb, service, 1000, now=now)
    assert len(raw) > LEAN_MIN_BYTES and len(entries(lean(raw))) < len(entries(orjson.loads(raw)))
    expected = run_hook(kb, orjson.loads(raw), now=now).response
    app = create_app(make_settings(tmp_path), knowledge=kb, clock=lambda: now)
    with serve_app(app) as url:
        response = httpx.post(
            f"{url}/cds-services/{PATIENT_VIEW_SERVICE}",
            content=raw,
            headers={"content-type": "application/json"},
            timeout=30,
        )
    assert response.status_code == 200
    assert expected["cards"]
    assert _without_uuids(response.json()) == _without_uuids(expected)


def test_a_large_body_that_is_not_json_is_a_400(client: httpx.Client) -> None:
    body = orjson.dumps(_call(*[observation(UNREAD_CODE, 120, "mm[Hg]")] * 2000))
    assert len(body) > LEAN_MIN_BYTES
    response = client.post(
        "/cds-services/neurotransmitter-patient-view",
        content=body[:-1],
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.text
