"""The SMART app in headless Chromium: EHR launch, redirects, the page, no console error.

The browser is the ``chromium`` fixture of conftest.py (tests/browser.py: Debian's chromium
through playwright, never ``playwright install``). A screenshot of the page is kept in
``test-artifacts/`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cds_service.http.app import create_app
from cds_service.knowledge import KnowledgeBase
from tests.browser import ARTIFACTS
from tests.conftest import make_settings
from tests.servers import serve_app
from tests.smart_ehr import CLIENT_ID, DEMO_PATIENT, MockEhr, demo_patient, mock_ehr


@pytest.fixture(scope="module")
def ehr() -> Iterator[MockEhr]:
    with mock_ehr() as server:
        server.state.add(*demo_patient())
        yield server


@pytest.fixture(scope="module")
def service(
    ehr: MockEhr, kb: KnowledgeBase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    settings = make_settings(
        tmp_path_factory.mktemp("smart-browser"),
        smart_client_id=CLIENT_ID,
        smart_iss_allowed=[ehr.fhir_base],
    )
    with serve_app(create_app(settings, knowledge=kb)) as url:
        yield url


def test_launch_redirect_and_page_in_chromium(
    chromium: Any, ehr: MockEhr, service: str, tmp_path: Path
) -> None:
    page = chromium.new_page(viewport={"width": 1360, "height": 900})
    problems: list[str] = []
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    visited: list[str] = []
    page.on("framenavigated", lambda frame: visited.append(frame.url.split("?")[0]))

    response = page.goto(ehr.launch_url(service, DEMO_PATIENT), wait_until="load")
    assert response is not None and response.status == 200
    # The browser went launch -> the EHR's authorize endpoint -> the callback.
    assert page.url.startswith(f"{service}/app/callback?")
    assert page.title().startswith("Trends and reasoning")

    measures = page.locator("section.measure")
    assert measures.count() >= 5
    for index in range(measures.count()):
        section = measures.nth(index)
        chart = section.locator("svg.chart")
        assert chart.count() == 1, section.inner_text()[:200]
        assert chart.locator(".band").count() >= 1
        assert chart.locator(".points, .bound").count() >= 1
        assert chart.bounding_box()["height"] > 100  # type: ignore[index]
        assert section.locator("table.results tbody tr").count() >= 1
    b12 = page.locator("section#m-vitamin-b12")
    assert b12.locator("table.results tbody tr").count() == 6
    assert "pmol/L" in b12.locator("h3").inner_text()
    assert b12.locator(".therapy-start").count() >= 1
    # The served stylesheet applied (the CSP allows 'self' only): the grid puts the table
    # beside the chart.
    plot, tables = b12.locator("figure.plot"), b12.locator("div.tables")
    assert tables.bounding_box()["x"] > plot.bounding_box()["x"] + 300  # type: ignore[index]
    assert page.locator("table.pathways tbody tr").count() >= 5

    assert problems == [], problems
    ARTIFACTS.mkdir(exist_ok=True)
    for target in (ARTIFACTS / "smart-app.png", tmp_path / "smart-app.png"):
        page.screenshot(path=str(target), full_page=True)
    assert (ARTIFACTS / "smart-app.png").stat().st_size > 50_000
    page.close()


def test_a_refusal_page_renders_without_console_errors(chromium: Any, service: str) -> None:
    page = chromium.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    response = page.goto(f"{service}/app/launch?iss=https://evil.example/fhir&launch=x")
    assert response is not None and response.status == 403
    assert "not registered" in page.locator("h1").inner_text()
    # A 403 document is itself reported on the console ("Failed to load resource"): nothing else.
    assert all("403" in p for p in problems), problems
    page.close()
