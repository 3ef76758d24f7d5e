"""Fixtures for the storage tests: every test runs on SQLite and on a real PostgreSQL 15.

The PostgreSQL cluster is created once per session with ``initdb`` in a fresh directory under
the system temp dir, started with ``pg_ctl`` on a free loopback port (socket in the same
directory, no TCP listener beyond 127.0.0.1, trust authentication for this throwaway cluster
only), and stopped and deleted at the end. PostgreSQL refuses to run as root, so as root the
binaries run as the ``postgres`` user through ``runuser`` and the directory is handed to that
user (pytest's own temp dirs are private to root, hence a separate one). Each test gets a new
database in that cluster.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

# Debian/Ubuntu keep the server binaries out of PATH; look there when PATH has none.
_FALLBACK_BIN_DIRS = [Path("/usr/lib/postgresql/15/bin")]


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for directory in _FALLBACK_BIN_DIRS:
        if (directory / name).is_file():
            return str(directory / name)
    pytest.fail(f"{name} not found: the storage tests need the PostgreSQL 15 server binaries")


def _temp_parent() -> str:
    """The system temp dir if every directory above it lets other users through, else /tmp.

    The cluster's directory is handed to the postgres user, who must be able to reach it.
    """
    parent = Path(tempfile.gettempdir()).resolve()
    if all(p.stat().st_mode & stat.S_IXOTH for p in (parent, *parent.parents)):
        return str(parent)
    return "/tmp"  # world-traversable by definition; the cluster dir itself is 0700


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresCluster:
    root: Path
    port: int
    _names: Iterator[int]

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str, database: str = "postgres") -> None:
        async def run() -> None:
            conn = await asyncpg.connect(
                host="127.0.0.1", port=self.port, user="postgres", database=database
            )
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        asyncio.run(run())

    def new_database(self) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        name = f"cds_test_{next(self._names)}"
        self.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    root = Path(tempfile.mkdtemp(prefix="cds-pg-", dir=_temp_parent()))
    prefix: list[str] = []
    if os.geteuid() == 0:
        runuser = shutil.which("runuser") or pytest.fail("runuser is needed to start PostgreSQL")
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root needs a `postgres` user to run the PostgreSQL server")
        os.chown(root, user.pw_uid, user.pw_gid)
        prefix = [runuser, "-u", "postgres", "--"]
    data, log = root / "data", root / "server.log"
    started = False
    try:
        _run([*prefix, initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
              "--no-sync"], cwd=root)  # fmt: skip
        # The port is free when chosen but could be taken before the server binds: retry.
        for attempt in itertools.count(1):
            port = _free_port()
            options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
            try:
                _run([*prefix, pg_ctl, "-D", str(data), "-l", str(log), "-o", options,
                      "-w", "-t", "60", "start"], cwd=root)  # fmt: skip
                break
            except RuntimeError as exc:
                if attempt == 3:
                    server_log = log.read_text() if log.exists() else "no server log"
                    raise RuntimeError(server_log) from exc
        started = True
        yield PostgresCluster(root=root, port=port, _names=itertools.count(1))
    finally:
        if started:
            _run([*prefix, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], cwd=root)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend (the PostgreSQL cluster starts on first use)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    return cluster.new_database()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
