"""Invocations written in batches: one transaction, every row in place; and the app's writer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence

import pytest
import sqlalchemy as sa

from cds_service.store import SQLAuditStore
from cds_service.store.records import InvocationAudit
from cds_service.store.schema import cards, feedback, invocations, suggestions
from cds_service.store.writer import AuditWriter
from tests.store.store_data import card, invocation, overridden, settings

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SQLAuditStore]:
    store = await SQLAuditStore.open(settings(database_url))
    yield store
    await store.aclose()


async def _rows(store: SQLAuditStore, query: sa.Select) -> list[sa.Row]:
    async with store.engine.connect() as conn:
        return list(await conn.execute(query))


async def test_a_batch_keeps_each_card_with_its_own_invocation(store: SQLAuditStore) -> None:
    first, second, third = card("serotonergic"), card("methylation"), card("cholinergic")
    late = card("inflammation")
    await store.record_feedback("nts-patient-view", [overridden(late.uuid)])
    batch = [invocation(first, second), invocation(), invocation(third, late)]

    await store.record_invocations(batch)

    stored = await _rows(
        store,
        sa.select(invocations.c.hook_instance, cards.c.uuid, cards.c.position)
        .join(cards, cards.c.invocation_id == invocations.c.id)
        .order_by(cards.c.uuid),
    )
    expected = sorted(
        (inv.hook_instance, c.uuid, position)
        for inv in batch
        for position, c in enumerate(inv.cards)
    )
    assert sorted(tuple(r) for r in stored) == expected
    hooks = {r.hook_instance for r in await _rows(store, sa.select(invocations.c.hook_instance))}
    assert hooks == {inv.hook_instance for inv in batch}
    assert len(await _rows(store, sa.select(suggestions))) == 4
    # Feedback that came first is flagged as known once its card is written, batch or not.
    flags = await _rows(store, sa.select(feedback.c.card_known))
    assert [f.card_known for f in flags] == [True]


async def test_a_batch_runs_the_same_statements_whatever_its_size(store: SQLAuditStore) -> None:
    # Each statement is a round trip through the event loop that also serves the hook calls:
    # one per invocation (SQLite's RETURNING in parameter order) and the writer fell behind
    # under load while its queue filled memory. A statement text that varies with the batch
    # (an IN list) is one more prepared statement in the driver's cache per size (PostgreSQL's
    # batched INSERT is one text per row count by design; asyncpg's cache is bounded).
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    sa.event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    await store.record_invocations([invocation(card())])
    single = list(statements)
    statements.clear()
    batch = [invocation(card(), card("methylation")) for _ in range(40)]
    await store.record_invocations(batch)

    assert len(statements) == len(single), statements
    if store.dialect == "sqlite":
        assert statements == single
    stored = await _rows(
        store,
        sa.select(invocations.c.hook_instance, cards.c.uuid).join(
            cards, cards.c.invocation_id == invocations.c.id
        ),
    )
    assert {tuple(r) for r in stored} >= {(i.hook_instance, c.uuid) for i in batch for c in i.cards}


async def test_an_empty_batch_writes_nothing(store: SQLAuditStore) -> None:
    await store.record_invocations([])
    assert await _rows(store, sa.select(invocations)) == []


class _SlowStore:
    """Holds each batch until released, so records submitted meanwhile queue up."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.release = asyncio.Event()
        self.fail_next = False

    async def record_invocations(self, batch: Sequence[InvocationAudit]) -> None:
        await self.release.wait()
        if self.fail_next:
            self.fail_next = False
            raise OSError("disk gone")
        self.batches.append([i.hook_instance for i in batch])


async def _until(condition: Callable[[], bool], deadline: float = 5.0) -> None:
    """Poll a condition the writer task changes, with a deadline."""
    async with asyncio.timeout(deadline):
        while not condition():  # noqa: ASYNC110 - the writer has no event to wait on
            await asyncio.sleep(0.005)


async def test_writer_groups_what_queued_during_a_commit() -> None:
    store = _SlowStore()
    writer = AuditWriter(store, max_batch=3)
    writer.start()
    records = [invocation() for _ in range(5)]
    await writer.submit(records[0])
    await _until(lambda: writer.pending == 0)  # taken by the writer, which waits on the store
    for record in records[1:]:
        await writer.submit(record)
    store.release.set()
    await writer.aclose(grace=5)
    names = [r.hook_instance for r in records]
    assert store.batches == [names[:1], names[1:4], names[4:]]


async def test_writer_logs_a_failed_batch_and_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    store = _SlowStore()
    store.fail_next = True
    failures: list[int] = []
    writer = AuditWriter(store, on_failure=lambda: failures.append(1))
    writer.start()
    first, second = invocation(patient_id="Patient/secret-mrn"), invocation()
    await writer.submit(first)
    with caplog.at_level(logging.ERROR, logger="cds_service.audit"):
        store.release.set()
        await _until(lambda: writer.pending == 0 and any("OSError" in m for m in caplog.messages))
        await writer.submit(second)
        await writer.aclose(grace=5)
    assert store.batches == [[second.hook_instance]]
    assert failures == [1]  # one invocation lost, counted for the metrics
    assert "secret-mrn" not in caplog.text


async def test_closing_writes_what_is_queued(store: SQLAuditStore) -> None:
    writer = AuditWriter(store)
    writer.start()
    records = [invocation(card()) for _ in range(50)]
    for record in records:
        await writer.submit(record)
    await writer.aclose(grace=10)
    stored = await _rows(store, sa.select(invocations.c.hook_instance))
    assert {r.hook_instance for r in stored} == {r.hook_instance for r in records}


async def test_a_full_queue_drops_and_counts_and_never_makes_the_caller_wait(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A hook call must be answered whatever the database does: with the store stuck, records
    # beyond the queue are dropped and counted, and submit returns at once.
    store = _SlowStore()
    failures: list[int] = []
    writer = AuditWriter(store, max_batch=1, max_pending=2, on_failure=lambda: failures.append(1))
    writer.start()
    await writer.submit(invocation())
    await _until(lambda: writer.pending == 0)  # taken by the writer, which waits on the store
    with caplog.at_level(logging.ERROR, logger="cds_service.audit"):
        for _ in range(5):
            await asyncio.wait_for(writer.submit(invocation()), 1)
    assert writer.pending == 2
    assert failures == [1, 1, 1]  # three dropped, each counted
    assert len([m for m in caplog.messages if "audit queue full" in m]) == 1  # logged once
    store.release.set()
    await writer.aclose(grace=5)
    assert len(store.batches) == 3  # the one in flight and the two queued
