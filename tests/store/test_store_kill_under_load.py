"""``cds-service serve --workers 2`` killed with SIGKILL in the middle of feedback load (slow).

Eight clients post feedback batches as fast as they are answered; after a few hundred
acknowledgements master and workers are killed at once (SIGKILL to the process group, as the
OOM killer or a lost node would). Every batch that got a 200 must be in the database. Then the
service starts again on the same database; the clients resend every batch that got no answer
(what an EHR does) and a share of the acknowledged ones (a retry after a lost answer): each is
stored exactly once. On SQLite and PostgreSQL. test_store_sigkill.py covers one sequential
client and one worker; this is the concurrent, multi-worker case.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.servers import serve_process
from tests.store.store_data import AUDIT_KEY, feedback_item, stored_cards

pytestmark = pytest.mark.slow

FEEDBACK = "/cds-services/neurotransmitter-order-sign/feedback"
CLIENTS = 8
KILL_AFTER = 300  # acknowledged batches before the kill


class Ledger:
    """What the clients sent, and which batches were acknowledged."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acknowledged: list[list[str]] = []
        self.unanswered: list[list[str]] = []

    def record(self, batch: list[str], answered: bool) -> None:
        with self.lock:
            (self.acknowledged if answered else self.unanswered).append(batch)

    def acknowledged_count(self) -> int:
        with self.lock:
            return len(self.acknowledged)


def post_until_stopped(url: str, ledger: Ledger, stop: threading.Event, client: int) -> None:
    with httpx.Client(base_url=url, timeout=30) as http:
        n = 0
        while not stop.is_set():
            n += 1
            batch = [f"{client}-{n}-{k}-{uuid.uuid4().hex[:8]}" for k in range(1 + n % 3)]
            try:
                response = http.post(FEEDBACK, json={"feedback": [feedback_item(c) for c in batch]})
            except httpx.TransportError:
                ledger.record(batch, answered=False)
                return  # the server is gone
            # Only a 200 means stored; a 503 would be resent by the EHR like a lost answer.
            ledger.record(batch, answered=response.status_code == 200)


@pytest.fixture
def env(database_url: str) -> Iterator[dict[str, str]]:
    yield {
        "CDS_AUTH": "off",
        "CDS_DATABASE_URL": database_url,
        "CDS_AUDIT_KEY": AUDIT_KEY,
        "CDS_LOG_LEVEL": "WARNING",
    }


def test_every_acknowledged_feedback_survives_sigkill_under_load(
    env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    ledger, stop = Ledger(), threading.Event()
    with serve_process(env, tmp_path, workers=2) as served:
        assert len(served.workers()) == 2
        with ThreadPoolExecutor(CLIENTS) as pool:
            futures = [
                pool.submit(post_until_stopped, served.url, ledger, stop, c) for c in range(CLIENTS)
            ]
            deadline = time.monotonic() + 120
            while ledger.acknowledged_count() < KILL_AFTER:
                assert time.monotonic() < deadline, "the load never reached the kill point"
                assert not any(f.done() for f in futures), [f.exception() for f in futures]
                time.sleep(0.01)
            served.kill()  # mid-load: requests are in flight in both workers
            stop.set()
            for future in futures:
                future.result(timeout=60)

    acknowledged = [card for batch in ledger.acknowledged for card in batch]
    stored = stored_cards(database_url)
    assert len(stored) == len(set(stored)), "an item was stored twice"
    missing = set(acknowledged) - set(stored)
    assert not missing, f"{len(missing)} acknowledged items are not in the database"
    assert len(acknowledged) >= KILL_AFTER

    # Restart on the same database; resend what got no answer, and some acknowledged batches.
    resend = ledger.unanswered + ledger.acknowledged[::10]
    with (
        serve_process(env, tmp_path, workers=2) as served,
        httpx.Client(base_url=served.url, timeout=30) as http,
    ):
        for batch in resend:
            response = http.post(FEEDBACK, json={"feedback": [feedback_item(c) for c in batch]})
            assert response.status_code == 200, response.text
    final = stored_cards(database_url)
    assert len(final) == len(set(final))
    expected = set(acknowledged) | {card for batch in ledger.unanswered for card in batch}
    assert set(final) == expected
    print(
        f"killed after {len(ledger.acknowledged)} acknowledged batches; "
        f"{len(ledger.unanswered)} unanswered, resent; {len(final)} items stored once each"
    )
