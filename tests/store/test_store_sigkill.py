"""`cds-service serve` killed with SIGKILL right after acknowledging feedback.

Every batch answered 200 must be in the database after the kill, the service must start again
on the same database (SQLite recovers its WAL, migrations find the schema current), and the
same feedback posted again after the restart is still stored once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest

from cds_service.settings import PROJECT_ROOT
from tests.servers import free_port
from tests.store.store_data import AUDIT_KEY, feedback_item, stored_cards

# Left out of the inner loop (`make check`); `make test` runs it.
pytestmark = pytest.mark.slow

SERVICE = "neurotransmitter-patient-view"
FEEDBACK = f"/cds-services/{SERVICE}/feedback"
CDS_SERVICE = str(Path(sys.executable).with_name("cds-service"))


@contextmanager
def running_service(
    database_url: str, workdir: Path
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start `cds-service serve` on a free loopback port; yield the process and its URL."""
    port = free_port()
    env = {
        **os.environ,
        "CDS_DATABASE_URL": database_url,
        "CDS_AUDIT_KEY": AUDIT_KEY,
        "CDS_AUTH": "off",
        "CDS_HOST": "127.0.0.1",
        "CDS_PORT": str(port),
        "CDS_LOG_LEVEL": "WARNING",
        "CDS_HOOKS_DIR": str(PROJECT_ROOT / "hooks"),
        "CDS_MAPPINGS_DIR": str(PROJECT_ROOT / "mappings"),
    }
    log = (workdir / f"serve-{port}.log").open("w")
    process = subprocess.Popen(
        [CDS_SERVICE, "serve"],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (workdir / f"serve-{port}.log").read_text()
            assert time.monotonic() < deadline, "the service did not start"
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        yield process, url
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def test_acknowledged_feedback_survives_sigkill_of_the_service(
    database_url: str, tmp_path: Path
) -> None:
    prefix = uuid.uuid4().hex[:8]
    acknowledged: list[str] = []
    with running_service(database_url, tmp_path) as (process, url):
        with httpx.Client(base_url=url, timeout=30) as http:
            for n in range(30):
                batch = [feedback_item(f"{prefix}-{n}-a"), feedback_item(f"{prefix}-{n}-b")]
                response = http.post(FEEDBACK, json={"feedback": batch})
                assert response.status_code == 200, response.text
                acknowledged += [b["card"] for b in batch]

        # A last batch in flight while the process dies: it may or may not be stored.
        def in_flight() -> None:
            with suppress(httpx.TransportError):
                httpx.post(
                    url + FEEDBACK,
                    json={"feedback": [feedback_item(f"{prefix}-last")]},
                    timeout=5,
                )

        sender = threading.Thread(target=in_flight)
        sender.start()
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
        sender.join(timeout=30)

    stored = stored_cards(database_url)
    assert set(acknowledged) <= set(stored)
    assert set(stored) - set(acknowledged) <= {f"{prefix}-last"}
    assert len(stored) == len(set(stored))

    # The service starts again on the same database and stays idempotent.
    with running_service(database_url, tmp_path) as (_, url):
        replay = {"feedback": [feedback_item(card) for card in acknowledged[:10]]}
        assert httpx.post(url + FEEDBACK, json=replay, timeout=30).status_code == 200
    assert sorted(stored_cards(database_url)) == sorted(stored)
