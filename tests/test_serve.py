"""``cds-service serve --workers 2`` as a real process: metrics summed over workers, JSON logs.

This is the deployment shape of docs/operations.md (several workers, one port), so it runs the
installed console script, not the app in a thread.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port
from tests.test_metrics import delta, scrape

# Left out of the inner loop (`make check`); `make test` runs it.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "examples" / "patient-view-b12-deficient.json"
PV = "/cds-services/neurotransmitter-patient-view"
CALLS = 24


def test_two_workers_share_metrics_and_log_json(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    # A previous run's file: serve must clear it, or its counts would be added to ours.
    (metrics_dir / "counter_999999.db").write_bytes(b"stale")
    port = free_port()
    env = {
        **os.environ,
        "CDS_AUTH": "off",
        "CDS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cds.db'}",
        "CDS_LOG_LEVEL": "INFO",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "PYTHONUNBUFFERED": "1",
    }
    script = Path(sys.executable).parent / "cds-service"
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [str(script), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process)
        with httpx.Client(base_url=base, timeout=10) as http:
            before = scrape(http)

        def call(_: int) -> int:
            # A fresh connection each time, so both workers take calls.
            with httpx.Client(base_url=base, timeout=10) as one:
                return one.post(PV, content=EXAMPLE.read_bytes(), headers=JSON).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(call, range(CALLS)))
        assert statuses == [200] * CALLS
        with httpx.Client(base_url=base, timeout=10) as http:
            after = scrape(http)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()

    labels = {"service": "neurotransmitter-patient-view", "hook": "patient-view"}
    assert delta(before, after, "cds_hook_requests_total", **labels, status="200") == CALLS
    assert delta(before, after, "cds_hook_request_duration_seconds_count", **labels) == CALLS
    assert not (metrics_dir / "counter_999999.db").exists()

    records = [
        json.loads(line)
        for line in (tmp_path / "serve.log").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]  # every line is JSON, uvicorn's own included
    calls = [r for r in records if r.get("message") == "hook call"]
    assert len(calls) == CALLS
    assert all(r["status"] == 200 and r["cards"] == 1 for r in calls)
    started = [r for r in records if str(r.get("message", "")).startswith("Started server process")]
    assert len(started) == 2


def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"cds-service serve exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("cds-service serve did not become ready in 30 s")


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ({"CDS_AUTH": "bogus"}, "CDS_AUTH"),
        ({"CDS_PORT": "eighty"}, "CDS_PORT"),
        ({"CDS_TRUSTED_CLIENTS": "/nonexistent/clients.yaml"}, "CDS_TRUSTED_CLIENTS"),
        ({"CDS_DATABASE_URL": "mysql://user:hunter2-secret@db/cds"}, "CDS_DATABASE_URL"),
        (
            {"CDS_DATABASE_URL": "postgresql+asyncpg://user:hunter2-secret@127.0.0.1:9/cds"},
            "CDS_AUDIT_KEY",
        ),
        ({"CDS_AUDIT_KEY": "hunter2-secret"}, "CDS_AUDIT_KEY"),
        ({"CDS_MAPPINGS_DIR": "/nonexistent-mappings"}, "knowledge.yaml"),
    ],
)
def test_a_bad_setting_stops_serve_with_one_line_naming_it(
    tmp_path: Path, setting: dict[str, str], named: str
) -> None:
    """Before uvicorn starts: exit 2, one line on stderr, no traceback, no secret echoed."""
    env = {
        **os.environ,
        "CDS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cds.db'}",
        **setting,
    }
    if "CDS_AUDIT_KEY" not in setting:
        env.pop("CDS_AUDIT_KEY", None)  # the PostgreSQL case is about a missing key
    script = Path(sys.executable).parent / "cds-service"
    finished = subprocess.run(
        [str(script), "serve", "--host", "127.0.0.1", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 2, finished.stderr
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1, finished.stderr
    assert lines[0].startswith("cds-service: cannot start: ")
    assert named in lines[0]
    assert "Traceback" not in finished.stderr and "hunter2" not in finished.stderr
    assert "Started server process" not in finished.stdout + finished.stderr
