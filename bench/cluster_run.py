"""Start, break and stop a whole cluster on this machine (scripts/cluster.sh) for the cluster benchmark and the
integration tier's fault tests: Redis, PostgreSQL, Streamlit replicas, training workers and HAProxy, on free ports
in one folder, so a restart finds the same data."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from bench.server import REPO, free_port

SCRIPT = REPO / "scripts" / "cluster.sh"


def _free_run(n: int) -> int:
    """A port p with p .. p+n-1 all free (the replicas take consecutive ports)."""
    for _ in range(200):
        base = free_port()
        if base + n > 65535:
            continue
        ok = True
        for port in range(base, base + n):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("No run of free ports for the replicas.")


class Cluster:
    """One cluster in `folder`: `start()` returns HAProxy's URL; `env` then holds the database's and Redis' URLs."""

    def __init__(self, folder: Path, replicas: int = 2, workers: int = 2, env_extra: dict | None = None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.replicas, self.workers = replicas, workers
        self.port = free_port()
        self.replica_port = _free_run(replicas)
        self._env = {
            **os.environ,
            "MLX_CLUSTER_DIR": str(self.folder),
            "MLX_CLUSTER_PORT": str(self.port),
            "MLX_REPLICAS": str(replicas),
            "MLX_WORKERS": str(workers),
            "MLX_REPLICA_BASE_PORT": str(self.replica_port),
            "MLX_CLUSTER_REDIS_PORT": str(free_port()),
            "MLX_CLUSTER_PG_PORT": str(free_port()),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            **(env_extra or {}),
        }
        for key in ("MLX_DATABASE_URL", "MLX_REDIS_URL"):  # this cluster's own servers, not the caller's
            if key not in (env_extra or {}):
                self._env.pop(key, None)
        self.url = f"http://127.0.0.1:{self.port}"
        self.env: dict[str, str] = {}

    def _script(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run(
            ["bash", str(SCRIPT), *args], env=self._env, capture_output=True, text=True, timeout=timeout, cwd=REPO
        )
        if done.returncode != 0:
            raise RuntimeError(f"cluster.sh {' '.join(args)} failed: {done.stderr[-2000:]}")
        return done.stdout

    def _let_postgres_through(self) -> None:
        """PostgreSQL runs as the postgres user: it must be able to pass through the private temporary folders above
        its data (search permission only: nobody else can list them). Before every start: a pytest session that
        starts meanwhile sets its /tmp/pytest-of-<user> folder back to 0o700."""
        for parent in (self.folder, *self.folder.parents):
            info = parent.stat()
            if info.st_uid == os.getuid() and not info.st_mode & 0o001:
                parent.chmod(info.st_mode | 0o001)

    def start(self) -> str:
        self._let_postgres_through()
        self._script("start")
        for line in (self.folder / "cluster.env").read_text().splitlines():
            key, _, value = line.partition("=")
            self.env[key] = value
        return self.url

    def stop(self) -> None:
        self._script("stop", timeout=120)

    def restart(self) -> str:
        """Everything down, then up again on the same ports and data."""
        self.stop()
        return self.start()

    def pid(self, name: str) -> int:
        return int((self.folder / "pids" / f"{name}.pid").read_text().strip())

    def kill(self, name: str) -> None:
        """kill -9 one piece ("replica1", "worker2", "redis"), as a crash would."""
        try:
            os.kill(self.pid(name), signal.SIGKILL)
        except ProcessLookupError:
            pass

    def replica_url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.replica_port + i - 1}"

    def healthy(self, url: str | None = None) -> bool:
        try:
            return urllib.request.urlopen(f"{url or self.url}/_stcore/health", timeout=2).read() == b"ok"
        except OSError:
            return False

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.time() + timeout
        while not self.healthy():
            if time.time() > deadline:
                raise RuntimeError("The cluster's front door did not answer.")
            time.sleep(0.2)

    def log(self, name: str) -> str:
        path = self.folder / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""
