"""The knowledge pages in headless Chromium: the index, a rule, an analyte with its band bar, an
intervention and a card's why page render with no console error under their CSP, the
stylesheet applies, print hides the navigation, and every link on them resolves.

Links to other sites (PubMed, doi.org, loinc.org) are not followed: the tests run offline.
Screenshots are kept in ``test-artifacts/knowledge-*.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from cds_service.cli.offline import prepare, read_json
from cds_service.fetch.result import PrefetchResult
from cds_service.knowledge import KnowledgeBase
from cds_service.pipeline import evaluate
from cds_service.protocol.services import load_services
from cds_service.settings import PROJECT_ROOT
from tests.browser import ARTIFACTS
from tests.html_pages import parse

EXAMPLE = PROJECT_ROOT / "examples" / "patient-view-serotonergic-low-b6-vitamin-d.json"


def why_url(kb: KnowledgeBase, service_url: str) -> str:
    """The why link of the first card of a realistic example, pointing at the test server.

    Evaluated without ``asyncio.run`` (playwright's sync API holds the event loop)."""
    registry = load_services(PROJECT_ROOT / "hooks", kb)
    prepared = prepare(read_json(EXAMPLE), registry)
    values = dict(prepared.request.prefetch or {})
    prefetch = PrefetchResult(values=values, status=dict.fromkeys(values, "prefetched"))
    assert prepared.as_of is not None
    result = evaluate(
        prepared.request, prefetch, kb, prepared.as_of, knowledge_url=f"{service_url}/knowledge"
    )
    card = result.response["cards"][0]
    return next(link["url"] for link in card["links"] if link["type"] == "absolute")


def visit(chromium: Any, url: str, name: str, tmp_path: Path) -> tuple[Any, list[str]]:
    page = chromium.new_page(viewport={"width": 1366, "height": 900})
    problems: list[str] = []
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status == 200, url
    ARTIFACTS.mkdir(exist_ok=True)
    for target in (ARTIFACTS / f"knowledge-{name}.png", tmp_path / f"{name}.png"):
        page.screenshot(path=str(target), full_page=True)
    return page, problems


@pytest.mark.parametrize(
    "name",
    [
        # The index (~240 links followed) and the why page (a long page) take 2-4 s each.
        pytest.param("index", marks=pytest.mark.slow),
        "rule",
        "measure",
        "intervention",
        "safety",
        pytest.param("why", marks=pytest.mark.slow),
    ],
)
def test_page_renders_cleanly_and_every_link_resolves(
    chromium: Any, service_url: str, kb: KnowledgeBase, name: str, tmp_path: Path
) -> None:
    url = {
        "index": f"{service_url}/knowledge",  # the redirect to /knowledge/ included
        "rule": f"{service_url}/knowledge/rules/b12-deficient.html",
        "measure": f"{service_url}/knowledge/measures/ferritin.html",
        "intervention": f"{service_url}/knowledge/interventions/5-htp.html",
        "safety": f"{service_url}/knowledge/safety/C24.ferritin.html",
        "why": why_url(kb, service_url),
    }[name]
    page, problems = visit(chromium, url, name, tmp_path)
    assert page.title().endswith("· Neurotransmitter CDS")
    assert page.locator("h1").count() == 1
    # The stylesheet applied (CSP style-src 'self'): the column is bounded on a wide screen.
    main = page.locator("main").bounding_box()
    assert main is not None and main["width"] <= 1120
    if name in ("rule", "measure", "why"):
        bar = page.locator("svg.bandbar").first
        box = bar.bounding_box()
        assert box is not None and box["height"] > 40 and box["width"] > 300
        assert bar.locator("g.segment").count() >= 3
    if name == "why":
        for rule_id in urlsplit(url).query.split("=", 1)[1].split(","):
            assert page.locator(f'section[id="r-{rule_id}"]').count() == 1

    hrefs = parse(page.content()).links
    internal = sorted(
        {urljoin(page.url, h).split("#")[0] for h in hrefs if not h.startswith("data:")}
    )
    checked = 0
    with httpx.Client(timeout=10) as http:
        for link in internal:
            if not link.startswith(service_url):
                assert urlsplit(link).scheme in ("http", "https"), link
                continue
            assert http.get(link).status_code == 200, (url, link)
            checked += 1
    assert checked >= 5

    page.emulate_media(media="print")
    assert not page.locator(".site-nav ul").is_visible()
    assert problems == [], problems
    page.close()
