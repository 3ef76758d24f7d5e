"""The knowledge pages over HTTP, the service under uvicorn: every kind of page with its
content, the index reaching every page, every card's "Why" link naming the card's rules, and
what a hostile query gets (escaped, bounded, never a stack trace).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from cds_service.cli.offline import prepare, read_json, run
from cds_service.fetch.result import PrefetchResult
from cds_service.http.app import create_app
from cds_service.knowledge import KnowledgeBase
from cds_service.pipeline import evaluate
from cds_service.protocol.messages import HookRequest
from cds_service.protocol.services import ServiceRegistry, load_services
from cds_service.settings import PROJECT_ROOT
from tests import realdata
from tests.conftest import make_settings
from tests.depth_scenarios import SCENARIOS
from tests.html_pages import is_external, parse, resolve
from tests.servers import serve_app

EXAMPLES = sorted((PROJECT_ROOT / "examples").glob("*.json"))
WHY_LABEL = "Why: rules, thresholds, evidence"


@pytest.fixture(scope="module")
def http(service_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service_url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def registry(kb: KnowledgeBase) -> ServiceRegistry:
    return load_services(PROJECT_ROOT / "hooks", kb)


def text_of(response: httpx.Response) -> str:
    return parse(response.text).text


# -- every kind of page ------------------------------------------------------------------


def test_the_root_redirects_to_the_index(http: httpx.Client) -> None:
    response = http.get("/knowledge")
    assert response.status_code == 308 and response.headers["location"] == "knowledge/"
    followed = http.get("/knowledge", follow_redirects=True)
    assert followed.status_code == 200 and str(followed.url).endswith("/knowledge/")
    assert http.get("/knowledge/index.html").content == followed.content


PAGES = {
    # path: what the page must say (text, after the HTML is read as a browser shows it)
    "rules/b12-deficient.html": [
        "Vitamin B12 deficiency",
        "Recommendation rule b12-deficient version 2 evidence grade A",
        "below 200 pg/mL (148 pmol/L)",  # the statement
        "< 200 pg/mL · < 148 pmol/L",  # the band read, both unit systems
        "Vitamin B12 (cyanocobalamin), oral",  # what it suggests
        "PMID 24942828",
        "metformin (lowers B12 absorption)",  # a likely cause it names
        "0.7.0 (2026-12-06)",  # version history from the changelog
    ],
    "safety/S1.html": [
        "MAOI with serotonergic precursors",
        "The card says Serotonin toxicity risk with an MAOI",
        "hard: never overridden",
        "L-tryptophan",
        "Trigger takes Monoamine oxidase inhibitors",
    ],
    "prompts/P.metformin-b12.html": ["Monitoring prompt", "no current result of Vitamin B12"],
    "follow-up/follow-up.vitamin-b12.html": [
        "Follow-up rule",
        "12 weeks (about 3 months) (84 days after the start)",
        "service default",
    ],
    "order-checks/DL.vitamin-d.html": [
        "Dose limit",
        "Warning above > 4,000 IU/day",
        "warning above > 10,000 IU/day: 25-OH vitamin D deficient",
        "The higher limit above > 10,000 IU/day applies when 25-hydroxyvitamin D, serum",
    ],
    "order-checks/D1.same-supplement.html": ["Duplication rule", "The card says"],
    "measures/ferritin.html": [
        "Ferritin, serum",
        "LOINC 2276-4",
        "1 ng/mL = 2.247 pmol/L",
        "365 days after the result",
        "acute-phase reactant",
        "> 200 ng/mL",
        "> 449 pmol/L",
        "iron-deficiency",  # read by
    ],
    "measures/phq9.html": ["Questionnaire score", "0 to 27", "moderately severe"],
    "interventions/5-htp.html": [
        "5-HTP 50 mg by mouth twice daily",
        "Evidence grade C",
        "50-300 mg/day",
        "S1 block (hard) MAOI with serotonergic precursors Serotonin toxicity risk",
        "serotonin-precursor-option",
        "Research-only markers of its pathways",
    ],
    "interventions/phenylalanine.html": ["Never offered"],
    "interventions/vitamin-b6.html": ["Never above 25 mg/day"],
    "pathways/serotonergic.html": ["Serotonergic pathway", "Research-only markers", "5-HTP"],
    "guidance/antidepressant-cofactors.html": ["Order guidance"],
    "about.html": ["0.7.0", "Funding", "Intended use", "Changelog", "0.1.0"],
    "citations.html": ["devalia-2014", "PMID 24942828", "b12-deficient"],
    "lab-orders.html": ["Methylmalonic acid, serum", "LOINC 13964-2"],
}


@pytest.mark.parametrize("path", sorted(PAGES))
def test_each_kind_of_page(http: httpx.Client, kb: KnowledgeBase, path: str) -> None:
    response = http.get(f"/knowledge/{path}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    text = text_of(response)
    for expected in PAGES[path]:
        assert expected in text, (path, expected)
    # Every page names the knowledge version, its funding and its intended use.
    assert f"v{kb.version}" in text and kb.manifest.funding in text
    assert "hold no patient data" in text


def test_every_page_the_index_links_is_served(http: httpx.Client, kb: KnowledgeBase) -> None:
    index = parse(http.get("/knowledge/").text)
    pages = sorted(
        {resolve("index.html", h)[0] for h in index.links if not is_external(h)}
        - {"static/knowledge.css"}
    )
    assert len(pages) > len(kb.rules) + len(kb.safety_rules) + len(kb.measures)
    for path in pages:
        response = http.get(f"/knowledge/{path}")
        assert response.status_code == 200, path
    css = http.get("/knowledge/static/knowledge.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert b".masthead" in css.content and b".bandbar" in css.content  # base + own rules


def test_headers_no_token_and_revalidation(tmp_path: Path, kb: KnowledgeBase) -> None:
    """With authentication on, the pages still need no token; a held copy gets a 304."""
    settings = make_settings(tmp_path, auth="jwt")
    with serve_app(create_app(settings, knowledge=kb)) as url, httpx.Client(base_url=url) as http:
        assert http.get("/cds-services").status_code == 401
        page = http.get("/knowledge/rules/b12-deficient.html")
        assert page.status_code == 200
        headers = page.headers
        assert headers["cache-control"] == "public, max-age=300"
        assert "default-src 'none'" in headers["content-security-policy"]
        assert "script-src" not in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        head = http.head(page.url)  # link checkers ask with HEAD
        assert head.status_code == 200 and head.headers["etag"] == headers["etag"]
        again = http.get(page.url, headers={"If-None-Match": headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        other = http.get(
            "/knowledge/rules/b6-deficient.html", headers={"If-None-Match": headers["etag"]}
        )
        assert other.status_code == 200


def test_a_missing_page_is_a_short_404(http: httpx.Client) -> None:
    for path in ("/knowledge/rules/no-such-rule.html", "/knowledge/a/b/c", "/knowledge/rules/"):
        response = http.get(path)
        assert response.status_code == 404
        assert "No such knowledge page" in text_of(response)
        assert "Traceback" not in response.text
    # Links on the 404 page still find the stylesheet from its depth.
    assert 'href="../../static/knowledge.css"' in http.get("/knowledge/a/b/c").text


# -- the why page ---------------------------------------------------------------------------


def why_links(response: dict[str, Any]) -> list[str]:
    links = [
        link["url"]
        for card in response["cards"]
        for link in card.get("links", [])
        if link["type"] == "absolute" and link["label"] == WHY_LABEL
    ]
    # Every card that names rules links to them (cards without a rule carry no link).
    assert len(links) == sum(1 for c in response["cards"] if c.get("links")), response["cards"]
    return links


def assert_names_its_rules(url: str, client: httpx.Client | None = None) -> None:
    """The why page answers 200 and shows every id of its ``rules`` parameter, each known."""
    ids = parse_qs(urlsplit(url).query)["rules"][0].split(",")
    response = client.get(url) if client else httpx.get(url, timeout=10)
    assert response.status_code == 200, url
    text = text_of(response)
    for rule_id in ids:
        assert rule_id in text, (rule_id, url)
    assert "Unknown rule id" not in text, url  # the service's own ids are all known


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_cards_why_link_names_its_rules(
    service_url: str, kb: KnowledgeBase, registry: ServiceRegistry, path: Path
) -> None:
    outcome = run(prepare(read_json(path), registry), kb, knowledge_url=f"{service_url}/knowledge")
    for url in why_links(outcome.evaluation.response):
        assert url.startswith(f"{service_url}/knowledge/why?rules=")
        assert_names_its_rules(url)


def test_the_why_link_the_service_builds_resolves(http: httpx.Client, service_url: str) -> None:
    """Over HTTP, the link is built from the request's own base URL."""
    body = read_json(PROJECT_ROOT / "examples" / "patient-view-b12-deficient.json")
    response = http.post("/cds-services/neurotransmitter-patient-view", json=body)
    assert response.status_code == 200
    links = why_links(response.json())
    assert links
    for url in links:
        assert url.startswith(f"{service_url}/knowledge/why?rules=")
        assert_names_its_rules(url, http)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_depth_scenario_cards_why_link_names_its_rules(
    service_url: str, kb: KnowledgeBase, name: str
) -> None:
    request = HookRequest.model_validate(SCENARIOS[name]())
    values = dict(request.prefetch or {})
    prefetch = PrefetchResult(values=values, status=dict.fromkeys(values, "prefetched"))
    result = evaluate(
        request, prefetch, kb, datetime.now(UTC), knowledge_url=f"{service_url}/knowledge"
    )
    for url in why_links(result.response):
        assert_names_its_rules(url)


def public_patients() -> list[realdata.RealPatient]:
    """Every Synthea, SMART and eCQM test patient of ../shared/testdata (CI has it: a missing
    folder fails the test below rather than skipping it)."""
    return [
        *(realdata.synthea_patient(n) for n in realdata.synthea_files()),
        *(realdata.smart_patient(n) for n in realdata.smart_ids()),
        *(realdata.ecqm_patient(d) for d in realdata.ecqm_dirs()),
    ]


def test_why_links_of_every_public_test_patient_name_their_rules(
    service_url: str, kb: KnowledgeBase, registry: ServiceRegistry
) -> None:
    patients = public_patients()
    assert len(patients) >= 40
    checked = 0
    with httpx.Client(timeout=10) as client:
        for patient in patients:
            for hook in ("patient-view", "order-sign"):
                drafts = realdata.draft_orders(patient) if hook == "order-sign" else None
                if hook == "order-sign" and not drafts:
                    continue
                request = realdata.hook_call(hook, patient, drafts=drafts)
                outcome = run(
                    prepare(request, registry), kb, knowledge_url=f"{service_url}/knowledge"
                )
                for url in why_links(outcome.evaluation.response):
                    assert_names_its_rules(url, client)
                    checked += 1
    assert checked >= 30, checked  # the data do produce cards to follow (35 in 0.7.0)


HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "b12-deficient,<b>bold</b>",
    "'; DROP TABLE audit; --",
    "../../etc/passwd",
    "%00%ff",
    "\u202ernoitcnuf",
    "x" * 20_000,
    ",".join(f"r{i}" for i in range(500)),
    "{{7*7}}",
]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_why_queries_are_escaped_and_bounded(http: httpx.Client, value: str) -> None:
    response = http.get("/knowledge/why", params={"rules": value})
    assert response.status_code in (200, 404)
    body = response.text
    assert "<script>alert" not in body and "<img src=x" not in body and "<b>bold" not in body
    assert "Traceback" not in body
    assert len(response.content) < 200_000
    assert "Unknown rule id" in body or "not a rule id" in body
    if value == "{{7*7}}":  # shown as written: the query is data, never a template
        assert "{{7*7}}" in text_of(response)


def test_undecodable_query_bytes_are_not_an_error(http: httpx.Client) -> None:
    response = http.get("/knowledge/why?rules=%ff%fe%00,b12-deficient")
    assert response.status_code == 200 and "Vitamin B12 deficiency" in response.text


def test_why_page_status_follows_what_is_known(http: httpx.Client) -> None:
    mixed = http.get("/knowledge/why?rules=b12-deficient,no-such-rule")
    assert mixed.status_code == 200
    assert "Vitamin B12 deficiency" in mixed.text and "Unknown rule id" in mixed.text
    assert http.get("/knowledge/why?rules=no-such-rule").status_code == 404
    assert http.get("/knowledge/why").status_code == 400
    assert http.get("/knowledge/why?rules=").status_code == 400
    repeated = http.get("/knowledge/why?rules=b12-deficient&rules=S1")
    assert repeated.status_code == 200 and "MAOI with serotonergic precursors" in repeated.text
    ids = ["b12-deficient", *(f"r{i}" for i in range(80))]
    many = http.get("/knowledge/why", params={"rules": ",".join(ids)})
    assert "31 more ids were not shown (at most 50 a page)" in text_of(many)
