"""Several client processes acknowledging overlapping feedback batches at the same time."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
import sqlalchemy as sa

from cds_service.settings import PROJECT_ROOT
from cds_service.store import SQLAuditStore
from cds_service.store.schema import feedback
from tests.store.store_data import card, invocation, settings

# Left out of the inner loop (`make check`); `make test` runs it.
pytestmark = pytest.mark.slow

CLIENT = "tests.store.feedback_client"
CLIENTS = 4
SHARED = 30


async def _show_cards(url: str, count: int) -> list[str]:
    store = await SQLAuditStore.open(settings(url))
    try:
        shown = [card() for _ in range(count)]
        await store.record_invocation(invocation(*shown))
        return [c.uuid for c in shown]
    finally:
        await store.aclose()


async def _stored(url: str) -> list[tuple[str, bool]]:
    store = await SQLAuditStore.open(settings(url), migrate_schema=False)
    try:
        async with store.engine.connect() as conn:
            result = await conn.execute(sa.select(feedback.c.card_uuid, feedback.c.card_known))
            return [(uuid, known) for uuid, known in result]
    finally:
        await store.aclose()


def _run_clients(url: str, shared: list[str]) -> None:
    clients = [
        subprocess.Popen(
            [sys.executable, "-m", CLIENT, url, str(index), *shared],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=PROJECT_ROOT,
        )
        for index in range(CLIENTS)
    ]
    try:
        for client in clients:
            assert client.stdout is not None
            assert client.stdout.readline().strip() == "ready"
        for client in clients:  # release them together
            assert client.stdin is not None
            client.stdin.write("go\n")
            client.stdin.flush()
        results = [client.communicate(timeout=120) for client in clients]
    finally:
        for client in clients:
            if client.poll() is None:
                client.kill()
                client.wait()
    for client, (_, err) in zip(clients, results, strict=True):
        assert client.returncode == 0, err


def test_concurrent_clients_store_each_item_once(database_url: str) -> None:
    # Half the shared cards were shown by this service, half are unknown to it.
    known = asyncio.run(_show_cards(database_url, SHARED // 2))
    unknown = [f"unknown-{n}" for n in range(SHARED - len(known))]

    _run_clients(database_url, known + unknown)

    stored = asyncio.run(_stored(database_url))
    assert len(stored) == SHARED + CLIENTS * 10
    assert len({uuid for uuid, _ in stored}) == len(stored)
    flags = dict(stored)
    assert all(flags[uuid] for uuid in known)
    assert not any(flags[uuid] for uuid in unknown)
