"""Invocation audits leave the request path through a queue and reach the store in batches.

Written one per request, an audit costs more CPU than the hook call it records (about 2 ms on
SQLite, mostly transaction overhead) and each waits for its own fsync, so under load the
writes fall behind. One writer task per process drains whatever has queued up while the
previous batch was committing and stores it in one transaction (group commit): a few calls
per second give batches of one, a thousand give batches of dozens at ~0.1 ms each.

The queue is bounded: when the store cannot keep up, ``submit`` makes the request wait for
room rather than letting memory grow or dropping records. A failed batch is logged (type of
error only, never its values) and the writer carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from cds_service.audit import InvocationAudit

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

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="audit-writer")

    async def submit(self, invocation: InvocationAudit) -> None:
        """Queue one record; waits only while the queue is full (the store is behind)."""
        await self._queue.put(invocation)

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
            except Exception as exc:
                for _ in batch:
                    self._on_failure()
                logger.error(
                    "audit write failed for %d invocations: %s", len(batch), type(exc).__name__
                )
            finally:
                for _ in batch:
                    queue.task_done()

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
