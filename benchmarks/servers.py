"""Servers under test: the service (``cds-service serve``) and the floor app, as subprocesses.

Each runs under uvicorn on 127.0.0.1 with 1 or more workers, its log in a file of the run's
temporary directory. Worker processes are found through /proc, for their memory (VmRSS,
VmHWM) and CPU time. Only processes this module started are signalled, by their pid.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from cds_service.settings import PROJECT_ROOT

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
READY_LINE = "Application startup complete"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


@dataclass
class Server:
    name: str
    workers: int
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        """The processes that serve requests (the server itself when it has one worker)."""
        if self.workers == 1:
            return [self.process.pid]
        return sorted(c for c in _children(self.process.pid) if "spawn_main" in _cmdline(c))

    def memory_mb(self) -> list[dict[str, float]]:
        """Resident and peak resident memory of each worker, in MB."""
        return [
            {
                "pid": pid,
                "rss_mb": _status_kb(pid, "VmRSS") / 1024,
                "peak_rss_mb": _status_kb(pid, "VmHWM") / 1024,
            }
            for pid in self.worker_pids()
        ]

    def cpu_seconds(self) -> dict[int, float]:
        times = {}
        for pid in self.worker_pids():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            times[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        return times


def _wait_ready(server: Server, deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited at start; see {server.log}")
        started = server.log.read_text(errors="replace").count(READY_LINE)
        if started >= server.workers and len(server.worker_pids()) == server.workers:
            try:
                if httpx.get(server.base_url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} did not become ready; see {server.log}")


@contextmanager
def run_server(
    kind: str, workers: int, folder: Path, env: Mapping[str, str] | None = None
) -> Iterator[Server]:
    """Start ``kind`` ("service" or "floor") with ``workers`` workers; stop it on exit."""
    port = free_port()
    log = folder / f"{kind}-{workers}w-{port}.log"
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **(env or {})}
    if kind == "service":
        command = [
            str(Path(sys.executable).parent / "cds-service"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ]
    elif kind == "floor":
        # The same uvicorn options `cds-service serve` uses.
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "benchmarks.floor_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            environment.get("CDS_LOG_LEVEL", "info").lower(),
            "--proxy-headers",
        ]
    else:
        raise ValueError(kind)
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=environment, stdout=sink, stderr=subprocess.STDOUT
        )
    server = Server(kind, workers, process, port, log)
    try:
        _wait_ready(server)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
