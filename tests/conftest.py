"""Shared fixtures: the knowledge base, settings for tests, and the service under uvicorn."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cds_service.http.app import create_app
from cds_service.knowledge import KnowledgeBase, load_knowledge
from cds_service.settings import PROJECT_ROOT, Settings
from tests import safety_net
from tests.browser import CHROMIUM, CHROMIUM_ARGS, browser_missing
from tests.log_guard import no_secrets_in_logs  # noqa: F401  (autouse: every test)
from tests.servers import FhirServer, serve_app

# Every evaluation in the suite (in-process or under uvicorn) is re-checked for suggestions the
# safety rules forbid; see tests/safety_net.py and the autouse fixture below.
safety_net.install()

SHARED_TESTDATA = PROJECT_ROOT.parent / "shared" / "testdata"


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for a test app: auth off unless a test turns it on, responses re-validated."""
    values: dict[str, Any] = {
        "auth": "off",
        "validate_responses": True,
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'cds.db'}",
        "fhir_connect_timeout": 1.0,
        "fhir_read_timeout": 1.0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_knowledge(PROJECT_ROOT / "mappings")


@pytest.fixture(scope="module")
def service_url(tmp_path_factory: pytest.TempPathFactory, kb: KnowledgeBase) -> Iterator[str]:
    """The service with default test settings, one server per test module."""
    app = create_app(make_settings(tmp_path_factory.mktemp("svc")), knowledge=kb)
    with serve_app(app) as url:
        yield url


@pytest.fixture
def client(service_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service_url, timeout=10) as http:
        yield http


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Headless Chromium (tests/browser.py); a missing browser fails under CI=true."""
    missing = browser_missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run in CI: {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def fhir_server() -> Iterator[FhirServer]:
    with FhirServer() as server:
        yield server


@pytest.fixture(autouse=True)
def no_blocked_suggestions() -> Iterator[None]:
    """Fail any test during which a response suggested an option blocked for its patient, or
    recorded an audit that does not match its cards."""
    safety_net.take()
    yield
    violations = safety_net.take()
    assert not violations, f"blocked options suggested or audits mismatched: {violations}"
