"""Real servers for tests: the app under uvicorn on 127.0.0.1, a small FHIR server, and
``cds-service serve`` as a process (``serve_process``) for load and kill tests.

Both bind port 0 (the OS picks a free port) and stop when the context exits.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import uvicorn


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Run an ASGI app under uvicorn in a thread; yield its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def free_port() -> int:
    """A port nothing listens on (for connection-refused tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class FhirServerState:
    """What the fake-free FHIR server holds and what it saw."""

    resources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 50
    delay: float = 0.0
    in_flight: int = 0
    max_in_flight: int = 0
    unsupported_types: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Misbehaviour knobs (faults tests): a per-type delay on the behaving base, the size of
    # the /giant answer, the pause between /drip bytes, and an event that ends every wait.
    type_delay: dict[str, float] = field(default_factory=dict)
    giant_bytes: int = 64 * 1024 * 1024
    drip_interval: float = 0.2
    stop: threading.Event = field(default_factory=threading.Event)

    def add(self, *resources: dict[str, Any]) -> None:
        for resource in resources:
            self.resources.setdefault(resource["resourceType"], []).append(resource)


class FhirServer:
    """A FHIR R4 server over real HTTP, with misbehaviours chosen by the first path segment.

    Base URLs: ``{url}/fhir`` behaves; ``/slow``, ``/e500``, ``/e401``, ``/malformed``,
    ``/notfhir``, ``/loop``, ``/foreign-next``, ``/reset`` misbehave as named; ``/stall`` sends
    half a body and stops; ``/drip`` sends a byte at a time, forever; ``/giant`` answers a valid
    Bundle of ``state.giant_bytes``.
    """

    def __init__(self) -> None:
        self.state = FhirServerState()
        state = self.state

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                with state.lock:
                    state.in_flight += 1
                    state.max_in_flight = max(state.max_in_flight, state.in_flight)
                    state.requests.append(
                        {"path": self.path, "authorization": self.headers.get("Authorization")}
                    )
                try:
                    self._handle()
                finally:
                    with state.lock:
                        state.in_flight -= 1

            def _send(
                self, status: int, body: bytes, content_type: str = "application/fhir+json"
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _stall(self) -> None:
                body = b'{"resourceType": "Bundle", "type": "searchset", "entry": ['
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(body) * 2))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
                state.stop.wait(60)

            def _drip(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", "100000")
                self.end_headers()
                self.wfile.write(b'{"resourceType": "Bundle", "entry": [')
                while not state.stop.wait(state.drip_interval):
                    try:
                        self.wfile.write(b" ")
                        self.wfile.flush()
                    except OSError:  # the service gave up: what the test wants
                        return

            def _giant(self) -> None:
                entry = b'{"resource": {"resourceType": "Basic", "id": "x"}},'
                count = state.giant_bytes // len(entry)
                head, tail = b'{"resourceType": "Bundle", "type": "searchset", "entry": [', b"{}]}"
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(head) + count * len(entry) + len(tail)))
                self.end_headers()
                try:
                    self.wfile.write(head)
                    chunk = entry * 1000
                    for _ in range(count // 1000):
                        self.wfile.write(chunk)
                    self.wfile.write(entry * (count % 1000) + tail)
                except OSError:  # the service stopped reading: what the test wants
                    return

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                segments = [s for s in parts.path.split("/") if s]
                mode, rest = segments[0], segments[1:]
                if state.delay:
                    time.sleep(state.delay)
                if mode == "slow":
                    time.sleep(3)
                if mode == "stall":
                    return self._stall()
                if mode == "drip":
                    return self._drip()
                if mode == "giant" and len(rest) == 1:
                    return self._giant()
                if rest and rest[0] in state.type_delay:
                    state.stop.wait(state.type_delay[rest[0]])
                if mode == "e500":
                    return self._send(500, b'{"resourceType":"OperationOutcome"}')
                if mode == "e401":
                    return self._send(401, b"")
                if mode == "malformed":
                    return self._send(200, b'{"resourceType": "Bundle", "entry": [')
                if mode == "notfhir":
                    return self._send(200, b"<html>login</html>", "text/html")
                if mode == "reset":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return None
                if not rest:
                    return self._send(404, b"")
                rtype = rest[0]
                if rtype in state.unsupported_types:
                    return self._send(400, b'{"resourceType":"OperationOutcome"}')
                if len(rest) == 2:
                    for resource in state.resources.get(rtype, []):
                        if resource.get("id") == rest[1]:
                            return self._send(200, json.dumps(resource).encode())
                    return self._send(404, b'{"resourceType":"OperationOutcome"}')
                query = parse_qs(parts.query)
                patient = (query.get("patient") or query.get("subject") or [None])[0]
                matches = [
                    r
                    for r in state.resources.get(rtype, [])
                    if patient is None or _refers_to(r, patient)
                ]
                offset = int((query.get("_offset") or ["0"])[0])
                page = matches[offset : offset + state.page_size]
                base = f"http://{self.headers['Host']}/{mode}"
                bundle: dict[str, Any] = {
                    "resourceType": "Bundle",
                    "type": "searchset",
                    "total": len(matches),
                    "entry": [{"resource": r} for r in page],
                    "link": [],
                }
                if mode == "loop":
                    bundle["link"].append(
                        {"relation": "next", "url": f"{base}/{rtype}?patient={patient}&_offset=0"}
                    )
                elif mode == "foreign-next":
                    bundle["link"].append(
                        {"relation": "next", "url": "http://198.51.100.7/fhir/steal?page=2"}
                    )
                elif offset + state.page_size < len(matches):
                    bundle["link"].append(
                        {
                            "relation": "next",
                            "url": f"{base}/{rtype}?patient={patient}&_offset={offset + state.page_size}",
                        }
                    )
                return self._send(200, json.dumps(bundle).encode())

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def base(self, mode: str = "fhir") -> str:
        return f"{self.url}/{mode}"

    def __enter__(self) -> FhirServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.state.stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops connections under load tests' bursts (each
    # service call opens up to six at once); a real FHIR server queues far more.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that give up (timeouts, resets) are part of the tests, not errors.
        pass


def _refers_to(resource: dict[str, Any], patient: str) -> bool:
    subject = resource.get("subject") or resource.get("patient") or {}
    reference = subject.get("reference", "") if isinstance(subject, dict) else ""
    return reference.split("/")[-1] == patient


@dataclass
class ServeProcess:
    """``cds-service serve`` running as its own process group (master and workers)."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def workers(self) -> list[int]:
        """PIDs of the worker processes (children of the master that serve requests; not
        multiprocessing's resource tracker)."""
        return [
            pid
            for pid in _children(self.process.pid)
            if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]

    def kill(self) -> None:
        """SIGKILL master and workers at once, as the OOM killer or a node loss would."""
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


@contextmanager
def serve_process(
    env: dict[str, str], workdir: Path, *, workers: int = 2
) -> Iterator[ServeProcess]:
    """Start ``cds-service serve --workers N`` on a free loopback port; wait until /readyz."""
    port = free_port()
    log_path = workdir / f"serve-{port}.log"
    command = [
        str(Path(sys.executable).with_name("cds-service")),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killpg reaches the workers
        )
    served = ServeProcess(process, f"http://127.0.0.1:{port}", log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"cds-service serve exited:\n{log_path.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("cds-service serve was not ready within 60 s")
            try:
                ready = httpx.get(served.url + "/readyz", timeout=2).status_code == 200
            except httpx.TransportError:
                ready = False
            if ready and len(served.workers()) >= workers:
                break
            time.sleep(0.1)
        yield served
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def open_fds(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")
