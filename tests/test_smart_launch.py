"""The SMART companion app over HTTP: the full EHR launch against a mock EHR, and every refusal.

The service runs under uvicorn on 127.0.0.1 with the app on; ``tests/smart_ehr.py`` plays the
EHR (SMART authorization server and FHIR server) on another port. The browser is httpx here
(redirects followed by hand, cookies kept); ``test_smart_browser.py`` does it in Chromium.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from cds_service.http.app import create_app
from cds_service.knowledge import KnowledgeBase
from cds_service.observability.logs import JsonFormatter
from cds_service.protocol.validate import check_response
from cds_service.store.engine import create_engine
from cds_service.store.report import build_report
from cds_service.store.report_text import render_text
from cds_service.web.smart import DevTarget
from tests.conftest import SHARED_TESTDATA, make_settings
from tests.servers import serve_app
from tests.smart_ehr import (
    CLIENT_ID,
    CLIENT_SECRET,
    DEMO_PATIENT,
    MockEhr,
    demo_patient,
    mock_ehr,
    query_of,
)

SYNTHEA = SHARED_TESTDATA / "synthea"
# Creatinine and eGFR nine times, metformin, carbamazepine: a real record with a course.
SYNTHEA_PATIENT_FILE = "Dirk_Kuhlman_1e503533-b8c2-42cb-a6d5-bbd7d70d07ad.json"
EMPTY_PATIENT = "nobody-has-data"


@pytest.fixture(scope="module")
def ehr() -> Iterator[MockEhr]:
    with mock_ehr() as server:
        server.state.add(*demo_patient())
        server.state.add({"resourceType": "Patient", "id": EMPTY_PATIENT, "gender": "male"})
        yield server


@pytest.fixture(autouse=True)
def reset_ehr(ehr: MockEhr) -> None:
    state = ehr.state
    state.token_error = state.fhir_down = state.v1_only = False
    state.require_token = True
    state.client_secret = None
    state.requests.clear()
    state.authorize_params.clear()
    state.token_forms.clear()
    state.token_auth.clear()


@pytest.fixture(scope="module")
def synthea_patient(ehr: MockEhr) -> str:
    return ehr.state.load_bundle(SYNTHEA / SYNTHEA_PATIENT_FILE)


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("smart-app")


@pytest.fixture(scope="module")
def service(ehr: MockEhr, kb: KnowledgeBase, app_dir: Path) -> Iterator[str]:
    settings = make_settings(
        app_dir,
        smart_client_id=CLIENT_ID,
        smart_iss_allowed=[ehr.fhir_base],
        smart_frame_ancestors="'self' https://ehr.example.org",
        smart_state_key="k" * 40,
    )
    with serve_app(create_app(settings, knowledge=kb)) as url:
        yield url


@contextmanager
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=20, follow_redirects=False) as client:
        yield client


def launch(
    client: httpx.Client, ehr: MockEhr, service: str, patient: str, app_context: str | None = None
) -> tuple[httpx.Response, str]:
    """EHR launch -> authorize -> callback; (the callback's response, the callback URL)."""
    start = client.get(ehr.launch_url(service, patient, app_context))
    assert start.status_code == 302, start.text
    authorize = client.get(start.headers["location"])
    assert authorize.status_code == 302, authorize.text
    callback = authorize.headers["location"]
    return client.get(callback), callback


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Every log record of the servers at DEBUG, as production would write it.

    Records of the test's own thread are left out: that is the browser (httpx) following the
    EHR's redirect, whose Location header rightly holds the code.
    """
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.DEBUG)
    handler.addFilter(lambda record: record.threadName != threading.current_thread().name)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def assert_page_headers(
    response: httpx.Response, ancestors: str = "'self' https://ehr.example.org"
) -> None:
    assert response.headers["cache-control"] == "no-store"
    csp = response.headers["content-security-policy"]
    assert "script-src" not in csp and "unsafe-inline" not in csp
    assert "default-src 'none'" in csp and "style-src 'self'" in csp
    assert csp.endswith(f"frame-ancestors {ancestors}")
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["content-type"].startswith("text/html")


def assert_clear_refusal(
    response: httpx.Response, status: int, words: str, ancestors: str | None = None
) -> None:
    assert response.status_code == status, response.text[:500]
    assert_page_headers(response, *([ancestors] if ancestors else []))
    assert words in response.text
    for leak in ("Traceback", 'File "', "Exception", "httpx", "OperationOutcome"):
        assert leak not in response.text


# -- the full launch ---------------------------------------------------------------------------


def test_full_launch_shows_the_course_of_every_measure(ehr: MockEhr, service: str) -> None:
    with browser() as client, captured_logs() as logs:
        page, callback = launch(client, ehr, service, DEMO_PATIENT)
        html = page.text
    assert page.status_code == 200, html[:1000]
    assert_page_headers(page)

    # The launch followed SMART App Launch 2.x.
    params = ehr.state.authorize_params[-1]
    assert params["aud"] == ehr.fhir_base
    assert params["code_challenge_method"] == "S256"
    assert params["redirect_uri"] == f"{service}/app/callback"
    scopes = params["scope"].split()
    assert {"launch", "openid", "fhirUser", "patient/Observation.rs", "patient/Patient.rs"} <= set(
        scopes
    )
    form = ehr.state.token_forms[-1]
    assert form["grant_type"] == "authorization_code" and form["client_id"] == CLIENT_ID
    assert 43 <= len(form["code_verifier"]) <= 128
    # Every FHIR read went through the service's client with the bearer token (the mock
    # answers 401 otherwise), all in the patient's compartment.
    reads = [p for p in ehr.state.requests if p.startswith("/fhir/") and "well-known" not in p]
    assert {"/fhir/Observation", "/fhir/MedicationRequest", f"/fhir/Patient/{DEMO_PATIENT}"} <= set(
        reads
    )

    # A chart per measure, with every result, bands shaded and labelled in the result's unit.
    assert charts(html) == html.count('class="measure"') >= 5
    b12 = section(html, "vitamin-b12")
    assert b12.count("<tr") - 1 >= 6 + 1  # six results (and the band table)
    assert "(pmol/L)" in b12 and "Bands (knowledge base, in pmol/L)" in b12
    # 200 pg/mL is the deficient bound: 147.6 pmol/L in the results' unit.
    assert "below 148" in b12
    assert 'class="band band-deficient"' in b12 and 'class="points"' in b12
    assert "style=" not in b12  # no inline style: the CSP would refuse it
    # Supplement start and antidepressant start/stop are marked.
    assert "therapy therapy-start" in b12
    assert "therapy therapy-stop" in section(html, "phq9") or "therapy-stop" in html
    assert "Questionnaire scores" in html and "PHQ-9" in section(html, "phq9")
    # The pathway overview and the reasoning of every card are there.
    assert "Status of each pathway, as the cards say" in html
    assert "Reasoning of every card" in html and "Rules behind this card" in html
    # Nothing of the patient, the token or the code in the logs.
    name = "Quetzalcoatl-Demo"
    code = query_of(callback)["code"]
    text = logs.getvalue()
    for secret in (name, DEMO_PATIENT, code, *ehr.state.tokens):
        assert secret not in text


def charts(html: str) -> int:
    return len(re.findall(r'<svg [^>]*class="chart"', html))


def section(html: str, measure_id: str) -> str:
    match = re.search(
        rf'<section class="measure" id="m-{re.escape(measure_id)}".*?</section>', html, re.S
    )
    assert match, f"no chart for {measure_id}"
    return match.group(0)


def test_a_synthea_record_is_plotted(ehr: MockEhr, service: str, synthea_patient: str) -> None:
    with browser() as client:
        page, _ = launch(client, ehr, service, synthea_patient)
    assert page.status_code == 200, page.text[:500]
    html = page.text
    egfr = section(html, "egfr")
    assert charts(egfr) == 1
    assert (
        re.search(r"every result \((\d+)\)", egfr)
        and int(
            re.search(r"every result \((\d+)\)", egfr).group(1)  # type: ignore[union-attr]
        )
        >= 9
    )
    assert "metformin" in html.lower()


def test_card_links_launch_the_app_and_the_page_opens_at_the_card(
    ehr: MockEhr, service: str
) -> None:
    body = {
        "hook": "patient-view",
        "hookInstance": "3f1c8f4e-6d0a-4a8e-9a53-5a6f1f0d1c11",
        "fhirServer": ehr.fhir_base,
        "context": {"patientId": DEMO_PATIENT, "userId": "Practitioner/1"},
    }
    ehr.state.require_token = False  # the hook call itself reads without a token here
    response = httpx.post(f"{service}/cds-services/neurotransmitter-patient-view", json=body)
    ehr.state.require_token = True
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert cards and not check_response(response.json())
    for card in cards:
        smart = [link for link in card["links"] if link["type"] == "smart"]
        assert len(smart) == 1
        assert smart[0]["url"] == f"{service}/app/launch"
        context = orjson.loads(smart[0]["appContext"])
        assert set(context) == {"card", "rules"} and context["card"] == card["uuid"]
        assert DEMO_PATIENT not in smart[0]["appContext"]
    clicked = cards[-1]
    app_context = next(link for link in clicked["links"] if link["type"] == "smart")["appContext"]
    with browser() as client:
        page, _ = launch(client, ehr, service, DEMO_PATIENT, app_context)
    assert page.status_code == 200
    opened = re.search(r'<section id="opened".*?</article>', page.text, re.S)
    assert opened, "the page does not open at the card clicked"
    assert "The card you opened" in opened.group(0)
    rule_ids = orjson.loads(app_context)["rules"]
    assert any(f"<code>{rule}</code>" in opened.group(0) for rule in rule_ids)


def test_the_app_opening_is_audited_per_rule_without_patient_data(
    ehr: MockEhr, service: str, app_dir: Path, kb: KnowledgeBase
) -> None:
    rule = next(r.id for r in kb.rules)
    context = orjson.dumps({"card": "card-uuid-1", "rules": [rule, "no-such-rule"]}).decode()
    with browser() as client:
        page, _ = launch(client, ehr, service, DEMO_PATIENT, context)
    assert page.status_code == 200

    async def report() -> Any:
        engine = create_engine(f"sqlite+aiosqlite:///{app_dir / 'cds.db'}")
        try:
            return await build_report(engine)
        finally:
            await engine.dispose()

    result = asyncio.run(report())
    opened = {r.rule: r.opens for r in result.reasoning_opened}
    assert opened.get(rule, 0) >= 1 and "no-such-rule" not in opened
    assert result.app_launches >= 1
    assert "Trends and reasoning opened (SMART app)" in render_text(result)
    # Nothing of the patient on disk: the database (and its WAL) hold no id, name or date.
    for path in app_dir.iterdir():
        if path.is_file():
            data = path.read_bytes()
            for secret in (DEMO_PATIENT, "Quetzalcoatl", "Ysolde"):
                assert secret.encode() not in data, f"{secret} in {path.name}"


def test_a_confidential_client_authenticates_with_basic(
    ehr: MockEhr, kb: KnowledgeBase, tmp_path: Path
) -> None:
    ehr.state.client_secret = CLIENT_SECRET
    settings = make_settings(
        tmp_path,
        smart_client_id=CLIENT_ID,
        smart_client_secret=CLIENT_SECRET,
        smart_iss_allowed=[ehr.fhir_base + "/"],  # a trailing slash is the same server
    )
    with serve_app(create_app(settings, knowledge=kb)) as url, browser() as client:
        page, _ = launch(client, ehr, url, DEMO_PATIENT)
    assert page.status_code == 200, page.text[:500]
    assert ehr.state.token_auth[-1] is not None and "client_id" not in ehr.state.token_forms[-1]


def test_a_server_with_smart_v1_scopes_only(ehr: MockEhr, service: str) -> None:
    ehr.state.v1_only = True
    with browser() as client:
        page, _ = launch(client, ehr, service, DEMO_PATIENT)
    assert page.status_code == 200, page.text[:500]
    assert "patient/Observation.read" in ehr.state.authorize_params[-1]["scope"]


def test_a_patient_with_no_data_is_an_empty_state(ehr: MockEhr, service: str) -> None:
    with browser() as client:
        page, _ = launch(client, ehr, service, EMPTY_PATIENT)
    assert page.status_code == 200
    assert "Nothing to plot yet" in page.text
    assert charts(page.text) == 0


# -- refusals --------------------------------------------------------------------------------


def test_an_unknown_iss_is_refused_before_any_request(ehr: MockEhr, service: str) -> None:
    attacker = f"{ehr.url}/attacker-fhir"
    with browser() as client:
        response = client.get(f"{service}/app/launch", params={"iss": attacker, "launch": "x"})
    assert_clear_refusal(response, 403, "not registered")
    assert ehr.state.requests == []


def test_a_launch_without_parameters_is_refused(service: str) -> None:
    with browser() as client:
        assert_clear_refusal(client.get(f"{service}/app/launch"), 400, "Open the app from the EHR")


def test_a_wrong_state_is_refused(ehr: MockEhr, service: str) -> None:
    with browser() as client:
        start = client.get(ehr.launch_url(service, DEMO_PATIENT))
        callback = client.get(start.headers["location"]).headers["location"]
        forged = re.sub(r"state=[^&]+", "state=forged-state-value", callback)
        response = client.get(forged)
    assert_clear_refusal(response, 400, "not valid any more")
    assert "/auth/token" not in ehr.state.requests


def test_a_replayed_callback_is_refused(ehr: MockEhr, service: str) -> None:
    with browser() as client:
        start = client.get(ehr.launch_url(service, DEMO_PATIENT))
        cookies = dict(start.cookies)
        callback = client.get(start.headers["location"]).headers["location"]
        assert client.get(callback).status_code == 200
        # The browser dropped the cookie: the launch is over.
        assert_clear_refusal(client.get(callback), 400, "not valid any more")
    # An attacker who kept the cookie cannot use the state twice either.
    with browser() as attacker:
        attacker.cookies.update(cookies)
        assert_clear_refusal(attacker.get(callback), 400, "already used")
    assert ehr.state.requests.count("/auth/token") == 1


def test_a_token_error_is_a_clear_page(ehr: MockEhr, service: str) -> None:
    ehr.state.token_error = True
    with browser() as client:
        page, _ = launch(client, ehr, service, DEMO_PATIENT)
    assert_clear_refusal(page, 502, "did not grant access")
    assert "invalid_grant" in page.text


def test_an_authorization_refused_by_the_clinician(ehr: MockEhr, service: str) -> None:
    with browser() as client:
        start = client.get(ehr.launch_url(service, DEMO_PATIENT))
        state = query_of(start.headers["location"])["state"]
        response = client.get(
            f"{service}/app/callback", params={"state": state, "error": "access_denied"}
        )
    assert_clear_refusal(response, 403, "access_denied")


def test_a_fhir_server_down_is_a_clear_page(ehr: MockEhr, service: str) -> None:
    with browser() as client:
        start = client.get(ehr.launch_url(service, DEMO_PATIENT))
        callback = client.get(start.headers["location"]).headers["location"]
        ehr.state.fhir_down = True
        response = client.get(callback)
    assert_clear_refusal(response, 502, "could not be read")


def test_an_unreachable_ehr_is_a_clear_page(kb: KnowledgeBase, tmp_path: Path) -> None:
    gone = "http://127.0.0.1:9/fhir"  # discard port: nothing listens
    settings = make_settings(tmp_path, smart_client_id=CLIENT_ID, smart_iss_allowed=[gone])
    with serve_app(create_app(settings, knowledge=kb)) as url, browser() as client:
        response = client.get(f"{url}/app/launch", params={"iss": gone, "launch": "abc"})
    assert_clear_refusal(response, 502, "SMART configuration could not be read", "'self'")


# -- off, and dev mode -----------------------------------------------------------------------


def test_without_a_client_id_the_app_is_off(
    ehr: MockEhr, kb: KnowledgeBase, tmp_path: Path
) -> None:
    with serve_app(create_app(make_settings(tmp_path), knowledge=kb)) as url:
        assert httpx.get(f"{url}/app/launch?iss=x&launch=y").status_code == 404
        assert httpx.get(f"{url}/app/callback").status_code == 404
        ehr.state.require_token = False
        response = httpx.post(
            f"{url}/cds-services/neurotransmitter-patient-view",
            json={
                "hook": "patient-view",
                "hookInstance": "b5d1b7a8-1e0f-4a4e-8f6a-2b9d7f1c0e21",
                "fhirServer": ehr.fhir_base,
                "context": {"patientId": DEMO_PATIENT},
            },
        )
    cards = response.json()["cards"]
    assert cards and all(
        "links" not in c or all(link["type"] != "smart" for link in c["links"]) for c in cards
    )


def test_dev_mode_reads_an_open_server_without_a_launch(
    ehr: MockEhr, kb: KnowledgeBase, tmp_path: Path
) -> None:
    ehr.state.require_token = False
    app = create_app(
        make_settings(tmp_path), knowledge=kb, smart_dev=DevTarget(ehr.fhir_base, DEMO_PATIENT)
    )
    with serve_app(app) as url:
        page = httpx.get(f"{url}/app/dev", timeout=20)
        assert httpx.get(f"{url}/app/launch").status_code == 404  # no launch in dev mode
        css = httpx.get(f"{url}/app/static/smart.css")
    assert page.status_code == 200 and "Development mode" in page.text
    assert charts(page.text) >= 1
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
