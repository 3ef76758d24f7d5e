"""A process that stores one feedback item per stdin line and prints "ack CARD" once committed.

Usage: python feedback_writer.py DATABASE_URL. The durability test kills it with SIGKILL.
"""

from __future__ import annotations

import asyncio
import sys

from store_data import overridden, settings

from cds_service.store import SQLAuditStore


async def main(url: str) -> None:
    store = await SQLAuditStore.open(settings(url))
    print("ready", flush=True)
    while line := await asyncio.to_thread(sys.stdin.readline):
        card = line.strip()
        await store.record_feedback("nts-patient-view", [overridden(card)])
        print(f"ack {card}", flush=True)
    await store.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
