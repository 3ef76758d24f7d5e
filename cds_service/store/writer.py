"""Invocation audits leave the request path through a queue and reach the store in batches.

Written one per request, an audit costs more CPU than the hook call it records (about 2 ms on
SQLite, mostly transaction overhead) and each waits for its own fsync, so under load the
writes fall behind. One writer task per process drains whatever has queued up while the
previous batch was committing and stores it in one transaction (group commit): a few calls
per second give batches of one, a thousand give batches of dozens at ~0.1 ms each.

The queue is bounded (memory cannot grow without limit), and ``submit`` never waits: a hook
call must be answered whatever the database does. When the queue is full (the database is
down or silent and every batch waits out its timeout) the record is dropped and counted like a
failed write (``on_failure``); the first drop is logged, and again after the writer has
recovered. A failed batch is logged (type of error only, never its values) and the writer
carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from cds_service.store.records import InvocationAudit

logger = logging.getLogger("cds_service.audit")


class BatchStore(Protocol):
    async def record_invocations(self, batch: Sequence[InvocationAudit]) -> None: ...


class AuditWriter:
    """Queue + one writer task; ``start`` in the lifespan, ``aclose`` on the way out."""

    def __init__(
        self,
        store: BatchStore,
        *,
        max_batch: int = 200,
        max_pending: int = 10_000,
        on_failure: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._on_failure = on_failure  # called once per invocation that was not written
        self._max_batch = max_batch
        self._queue: asyncio.Queue[InvocationAudit] = asyncio.Queue(max_pending)
        self._task: asyncio.Task[None] | None = None
        self._dropping = False  # a drop was logged and no batch has been written since

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="audit-writer")

    async def submit(self, invocation: InvocationAudit) -> None:
        """Queue one record; when the queue is full, drop it and count it (never wait)."""
        try:
            self._queue.put_nowait(invocation)
        except asyncio.QueueFull:
            self._on_failure()
            if not self._dropping:
                self._dropping = True
                logger.error(
                    "audit queue full (%d records): the database is not keeping up; "
                    "records are dropped and counted until it does",
                    self._queue.maxsize,
                )

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def _run(self) -> None:
        queue = self._queue
        while True:
            batch = [await queue.get()]
            while len(batch) < self._max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                await self._store.record_invocations(batch)
                self._dropping = False
            except Exception as exc:
                for _ in batch:
                    self._on_failure()
                logger.error(
                    "audit write failed for %d invocations: %s", len(batch), type(exc).__name__
                )
            finally:
                for _ in batch:
                    queue.task_done()
                del batch  # not held while idle: up to max_batch records with all their cards

    async def aclose(self, grace: float = 5.0) -> None:
        """Write what is queued (for up to ``grace`` seconds), then stop the writer."""
        if self._task is None:
            return
        try:
            async with asyncio.timeout(grace):
                await self._queue.join()
        except TimeoutError:
            logger.error("audit writer stopped with %d invocations unwritten", self.pending)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
