"""GET /readyz against a real PostgreSQL 15 that stops accepting connections, then recovers.

The database is made unreachable the way an outage looks to the service: new connections are
refused and the pooled ones are cut. Readiness must turn 503 (the load balancer stops sending
calls to this replica) while liveness stays 200 (restarting would not help), and come back.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from cds_service.http.app import create_app
from cds_service.knowledge import KnowledgeBase
from tests.conftest import make_settings
from tests.servers import serve_app
from tests.store.conftest import PostgresCluster


def _wait_for(url: str, status: int, deadline_s: float = 15) -> httpx.Response:
    deadline = time.monotonic() + deadline_s
    while True:
        response = httpx.get(url, timeout=10)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


def test_readiness_follows_the_database(
    postgres_cluster: PostgresCluster, tmp_path: Path, kb: KnowledgeBase
) -> None:
    url = postgres_cluster.new_database()
    name = url.rsplit("/", 1)[1]
    settings = make_settings(tmp_path, database_url=url, audit_key="k" * 32)
    with serve_app(create_app(settings, knowledge=kb)) as base:
        ready = httpx.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["database"] == "ok"

        postgres_cluster.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        postgres_cluster.execute(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        )
        try:
            down = _wait_for(f"{base}/readyz", 503)
            assert down.status_code == 503
            assert down.json()["checks"]["database"] in ("unreachable", "timeout")
            assert "postgres" not in down.text  # no URL, user or server message
            assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
        finally:
            postgres_cluster.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        assert _wait_for(f"{base}/readyz", 200).status_code == 200
