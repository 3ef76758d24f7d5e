"""Cost of audit writes: invocations and feedback batches, one at a time and concurrently.

Run: .venv/bin/python benchmarks/store_writes.py [DATABASE_URL] [N]
Default: a fresh SQLite file in a temp dir (WAL, synchronous=FULL, as the service runs it).
For PostgreSQL pass e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/bench (an empty database).
Each invocation has two cards with three suggestions; each feedback batch has two items.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cds_service.store import SQLAuditStore
from tests.store.store_data import card, invocation, overridden, settings


def per_second(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s"


async def measure(url: str, n: int) -> None:
    store = await SQLAuditStore.open(settings(url))
    try:
        calls = [invocation(card(), card(kinds=("a", "b"))) for _ in range(2 * n)]
        start = time.perf_counter()
        for call in calls[:n]:
            await store.record_invocation(call)
        sequential = time.perf_counter() - start
        start = time.perf_counter()
        await asyncio.gather(*(store.record_invocation(call) for call in calls[n:]))
        concurrent = time.perf_counter() - start

        latencies = []
        for i in range(n):
            batch = [overridden(f"seq-{i}-a"), overridden(f"seq-{i}-b")]
            start = time.perf_counter()
            await store.record_feedback("bench", batch)
            latencies.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        await asyncio.gather(
            *(
                store.record_feedback("bench", [overridden(f"con-{i}-a"), overridden(f"con-{i}-b")])
                for i in range(n)
            )
        )
        feedback_concurrent = time.perf_counter() - start
    finally:
        await store.aclose()

    q = statistics.quantiles(latencies, n=100)
    print(f"database: {store.dialect}, n={n}")
    print(f"invocations, one at a time: {per_second(n, sequential)}")
    print(f"invocations, {n} concurrent: {per_second(n, concurrent)}")
    print(
        f"feedback batch latency: p50 {q[49]:.2f} ms, p95 {q[94]:.2f} ms, max {max(latencies):.2f} ms"
    )
    print(f"feedback batches, {n} concurrent: {per_second(n, feedback_concurrent)}")


def main() -> None:
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    if len(sys.argv) > 1:
        asyncio.run(measure(sys.argv[1], n))
        return
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(measure(f"sqlite+aiosqlite:///{folder}/bench.db", n))


if __name__ == "__main__":
    main()
