"""GET /healthz and GET /readyz through the app under uvicorn, without any token.

Readiness depends on the knowledge base, the open HTTP client and, when a store is configured,
``store.ready()``; the store objects here stand in for a database that answers, refuses,
fails or hangs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from cds_service.http import health
from cds_service.http.app import create_app
from cds_service.knowledge import KnowledgeBase
from tests.conftest import make_settings
from tests.servers import serve_app


class FakeStore:
    """The store interface with a ``ready()`` whose behaviour the test chooses."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.calls = 0

    async def ready(self) -> bool:
        self.calls += 1
        if self.behaviour == "raises":
            raise OSError("connection refused to postgresql://cds:hunter2@db/cds")
        if self.behaviour == "hangs":
            await asyncio.sleep(30)
        return self.behaviour == "ok"

    async def aclose(self) -> None:
        pass


@pytest.fixture(scope="module")
def app_url(
    tmp_path_factory: pytest.TempPathFactory, kb: KnowledgeBase
) -> Iterator[tuple[Any, str]]:
    # auth on: the probes must still answer without a token.
    app = create_app(make_settings(tmp_path_factory.mktemp("ready"), auth="jwt"), knowledge=kb)
    with serve_app(app) as url:
        yield app, url


@contextmanager
def store_in(app: Any, store: Any) -> Iterator[None]:
    """Swap the app's store while it runs, then put the original back for shutdown."""
    original = app.state.store
    app.state.store = store
    try:
        yield
    finally:
        app.state.store = original


def test_healthz_and_readyz_need_no_token(app_url: tuple[Any, str], kb: KnowledgeBase) -> None:
    app, url = app_url
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
    with store_in(app, None):
        response = httpx.get(f"{url}/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["knowledge"] == f"ok ({kb.version})"
    assert body["checks"]["database"] == "not configured"
    # Discovery, by contrast, does need a token here.
    assert httpx.get(f"{url}/cds-services").status_code == 401


def test_ready_when_the_database_answers(app_url: tuple[Any, str]) -> None:
    app, url = app_url
    store = FakeStore("ok")
    with store_in(app, store):
        response = httpx.get(f"{url}/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"
    assert store.calls == 1


@pytest.mark.parametrize(
    ("behaviour", "reported"),
    [("refuses", "unreachable"), ("raises", "unreachable"), ("hangs", "timeout")],
)
def test_not_ready_when_the_database_does_not_answer(
    app_url: tuple[Any, str],
    monkeypatch: pytest.MonkeyPatch,
    behaviour: str,
    reported: str,
) -> None:
    app, url = app_url
    monkeypatch.setattr(health, "READY_TIMEOUT_SECONDS", 0.2)
    with store_in(app, FakeStore(behaviour)):
        response = httpx.get(f"{url}/readyz", timeout=10)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"] == reported
    assert "hunter2" not in response.text
    # Liveness is unaffected: restarting the process would not bring the database back.
    assert httpx.get(f"{url}/healthz").status_code == 200


def test_not_ready_before_startup(tmp_path: Path, kb: KnowledgeBase) -> None:
    """Before the lifespan has opened the HTTP client, a worker must not receive traffic."""
    app = create_app(make_settings(tmp_path), knowledge=kb)
    ready, checks = asyncio.run(health.readiness(app))
    assert ready is False
    assert checks["fhir_client"] == "not started"
