"""A separate process that posts feedback batches to a store (for the concurrency test).

Usage: python -m tests.store.feedback_client DATABASE_URL CLIENT_INDEX SHARED_CARD...
Opens the store, prints "ready", waits for a line on stdin, then posts every shared card's
feedback in batches of five, in an order of its own, plus ten items nobody else sends.
Exits 0 when every batch was acknowledged.
"""

from __future__ import annotations

import asyncio
import sys

from cds_service.store import SQLAuditStore
from tests.store.store_data import overridden, settings

BATCH = 5


async def main(url: str, index: int, shared: list[str]) -> None:
    store = await SQLAuditStore.open(settings(url), migrate_schema=False)
    try:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        # Every client sends the shared items, starting elsewhere and half of them backwards,
        # so that concurrent batches overlap in opposite orders.
        offset = (index * 7) % len(shared)
        order = shared[offset:] + shared[:offset]
        if index % 2:
            order.reverse()
        items = [overridden(c, "not-relevant") for c in order]
        items += [overridden(f"client-{index}-card-{n}", "other") for n in range(10)]
        for start in range(0, len(items), BATCH):
            await store.record_feedback("nts-patient-view", items[start : start + BATCH])
    finally:
        await store.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3:]))
