"""A real redis-server for the integration tests (never a fake): started on a free port with its own data folder and
append-only persistence, restartable on the same port and folder, stopped and reaped at the end; plus a training
worker (`python -m core worker`) as a subprocess against it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import redis

from tests.helpers.paths import REPO

START_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """`redis-server --port N --dir D --appendonly yes --save ''` on 127.0.0.1; `url` for MLX_REDIS_URL."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)]
        args += ["--appendonly", "yes", "--save", "", "--daemonize", "no", "--logfile", str(self.folder / "redis.log")]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                if client.ping():
                    return self
            except redis.exceptions.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"redis-server did not start: {(self.folder / 'redis.log').read_text()}"
                    ) from None
            threading.Event().wait(0.05)  # a server starting up: nothing to wait on but its port

    def stop(self) -> None:
        """A clean shutdown (SIGTERM: Redis flushes its append-only file), reaped."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


def start_worker(url: str, env: dict[str, str] | None = None, burst: bool = True, name: str | None = None):
    """`python -m core worker [--burst]` against `url`, with this test's MLX_* settings; stdout/stderr to a pipe."""
    full = {**os.environ, **(env or {}), "MLX_REDIS_URL": url, "PYTHONPATH": str(REPO)}
    args = (
        [sys.executable, "-m", "core", "worker"] + (["--burst"] if burst else []) + (["--name", name] if name else [])
    )
    return subprocess.Popen(args, cwd=REPO, env=full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
