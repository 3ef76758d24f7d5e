"""HTTP benchmarks: throughput and latency against the floor, memory over many requests, and
the parallel FHIR fallback. Servers run as subprocesses; load comes from ``loadgen`` in its own
process; this process only orchestrates (and hosts the slow FHIR server for the fallback run).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson

from benchmarks.servers import CLOCK_TICKS, Server
from cds_service.settings import PROJECT_ROOT


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy (all processes, all cores), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


def load(
    server: Server,
    path: str,
    bodies: Sequence[Path],
    *,
    concurrency: int,
    duration: float,
    requests: int,
) -> dict[str, Any]:
    """One bounded closed-loop run of ``loadgen``; adds each worker's share of the CPU time."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.loadgen",
        "--port",
        str(server.port),
        "--path",
        path,
        "--concurrency",
        str(concurrency),
        "--duration",
        str(duration),
        "--requests",
        str(requests),
    ]
    for body in bodies:
        command += ["--body", str(body)]
    cpu_before = server.cpu_seconds()
    busy_before = machine_busy_seconds()
    finished = subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, check=False, timeout=duration + 120
    )
    if finished.returncode != 0:
        raise RuntimeError(f"loadgen failed: {finished.stderr.decode(errors='replace')[-2000:]}")
    summary: dict[str, Any] = orjson.loads(finished.stdout.splitlines()[-1])
    cpu_after = server.cpu_seconds()
    busy = machine_busy_seconds() - busy_before
    summary["server_cpu_s"] = [
        round(cpu_after.get(pid, 0.0) - before, 2) for pid, before in sorted(cpu_before.items())
    ]
    # Whatever else ran on the machine meanwhile (other processes, the kernel's share of
    # loopback networking): large values mean the run was disturbed.
    summary["other_cpu_s"] = round(
        max(0.0, busy - sum(summary["server_cpu_s"]) - summary["client_cpu_s"]), 2
    )
    return summary


def warm_up(server: Server, path: str, bodies: Sequence[Path], requests: int = 300) -> None:
    load(server, path, bodies, concurrency=8, duration=30, requests=requests)


def memory_growth(
    server: Server,
    path: str,
    bodies: Sequence[Path],
    *,
    total: int,
    steps: int,
    concurrency: int = 8,
) -> dict[str, Any]:
    """RSS per worker after warm-up, then after each of ``steps`` equal batches of requests."""
    samples = [{"requests": 0, "workers": server.memory_mb()}]
    errors = 0
    done = 0
    for _ in range(steps):
        batch = total // steps
        summary = load(server, path, bodies, concurrency=concurrency, duration=600, requests=batch)
        errors += summary["errors"]
        done += summary["requests"]
        samples.append({"requests": done, "workers": server.memory_mb()})
    return {"samples": samples, "errors": errors, "requests": done}


def fallback(
    service_url: str,
    path: str,
    missing_all: bytes,
    missing_one: bytes,
    *,
    runs: int,
) -> dict[str, Any]:
    """Latency of calls whose prefetch lacks five keys (fetched in parallel) or one key."""

    def timed(body: bytes) -> list[float]:
        timings = []
        with httpx.Client(timeout=30) as client:
            for index in range(runs + 3):
                began = time.perf_counter()
                response = client.post(
                    service_url + path, content=body, headers={"Content-Type": "application/json"}
                )
                elapsed = (time.perf_counter() - began) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"fallback call answered {response.status_code}")
                if index >= 3:  # the first calls open the pooled connections
                    timings.append(elapsed)
        return timings

    five = timed(missing_all)
    one = timed(missing_one)
    return {
        "runs": runs,
        "five_median_ms": statistics.median(five),
        "five_p95_ms": sorted(five)[round(0.95 * (len(five) - 1))],
        "five_max_ms": max(five),
        "one_median_ms": statistics.median(one),
    }
