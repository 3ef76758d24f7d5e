"""Acknowledged feedback survives the writer being killed with SIGKILL."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from store_data import settings

from cds_service.store import SQLAuditStore
from cds_service.store.schema import feedback

WRITER = Path(__file__).with_name("feedback_writer.py")


async def _stored_cards(url: str) -> tuple[set[str], str | None]:
    store = await SQLAuditStore.open(settings(url))
    try:
        async with store.engine.connect() as conn:
            cards = set((await conn.execute(sa.select(feedback.c.card_uuid))).scalars())
            check = None
            if store.dialect == "sqlite":
                check = (await conn.exec_driver_sql("PRAGMA integrity_check")).scalar_one()
        return cards, check
    finally:
        await store.aclose()


def test_acknowledged_feedback_survives_sigkill(database_url: str) -> None:
    acknowledged: list[str] = []
    with subprocess.Popen(
        [sys.executable, str(WRITER), database_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as writer:
        assert writer.stdin is not None and writer.stdout is not None
        try:
            assert writer.stdout.readline().strip() == "ready"
            for n in range(20):
                writer.stdin.write(f"card-{n}\n")
                writer.stdin.flush()
                assert writer.stdout.readline().strip() == f"ack card-{n}"
                acknowledged.append(f"card-{n}")
            # One more item in flight, then kill at once: no chance to flush or close anything.
            writer.stdin.write("card-in-flight\n")
            writer.stdin.flush()
            writer.send_signal(signal.SIGKILL)
            assert writer.wait(timeout=30) == -signal.SIGKILL
        finally:
            if writer.poll() is None:
                writer.kill()
                writer.wait()

    stored, integrity = asyncio.run(_stored_cards(database_url))
    assert set(acknowledged) <= stored
    assert stored - set(acknowledged) <= {"card-in-flight"}
    assert integrity in (None, "ok")
