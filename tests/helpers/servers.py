"""Throwaway real servers for the integration tier: a PostgreSQL cluster made with Debian's initdb in a temp folder,
started on a free port (its socket in the same folder), stopped and deleted at the end. PostgreSQL refuses to run as
root, so as root its commands run as the `postgres` user (runuser). No mock ever stands in for it."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

START_TIMEOUT_S = 120  # pg_ctl -w waits until the server accepts connections: generous on a busy 2-core machine


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder (/usr/lib/postgresql/<version>/bin), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@dataclass
class PostgresServer:
    """One running cluster: `url(name)` is a database's SQLAlchemy URL; stop() and start() for the fault tests."""

    root: Path
    port: int = field(default_factory=_free_port)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _run(self, *args: str, timeout: float = START_TIMEOUT_S) -> None:
        subprocess.run(
            _as_postgres([str(postgres_bin() / args[0]), *args[1:]]), check=True, timeout=timeout, capture_output=True
        )

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "-o",
            options,
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its URL."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name, timeout=60)
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"


def start_postgres() -> PostgresServer:
    """A fresh cluster, started; skips the test where PostgreSQL is not installed (CI installs it: there it fails)."""
    if postgres_bin() is None:
        if os.environ.get("CI"):
            raise RuntimeError("PostgreSQL is not installed: scripts/test.sh installs Debian's postgresql package")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="mlx-pg-"))  # not under pytest's root-only 0700 folder: postgres must reach it
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    server = PostgresServer(root)
    server.init()
    server.start()
    return server


def remove_postgres(server: PostgresServer) -> None:
    try:
        server.stop("immediate")
    except subprocess.SubprocessError:
        pass  # stopped already (a fault test)
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL cluster for the session's integration tests."""
    server = start_postgres()
    yield server
    remove_postgres(server)


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A cluster of the test's own, for the tests that stop and start it."""
    server = start_postgres()
    yield server
    remove_postgres(server)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database(request, monkeypatch) -> Iterator[str]:
    """The test runs twice: on the embedded SQLite file, and on a fresh database of the session's PostgreSQL."""
    if request.param == "postgresql":
        monkeypatch.setenv("MLX_DATABASE_URL", request.getfixturevalue("postgres").create_database())
    else:
        monkeypatch.delenv("MLX_DATABASE_URL", raising=False)
    yield request.param
