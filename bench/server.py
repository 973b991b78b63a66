"""Start and stop the Streamlit app for benchmarks and browser tests (one implementation for both)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    # Many sessions run as tabs of one browser: keep background tabs from being throttled.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]


def chromium_path() -> str | None:
    return shutil.which("chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(
    data_dir: Path, env_extra: dict | None = None, port: int | None = None, cpus: str | None = None
) -> tuple[subprocess.Popen, str]:
    """Start `streamlit run app.py` on a free port with its own data folder; returns (process, base URL).
    `cpus` ("0", "0,1") pins the server, and the workers it starts, to those cores with `taskset -c`."""
    port = port or free_port()
    env = {**os.environ, "MLX_USER_DATA_DIR": str(data_dir), "TF_CPP_MIN_LOG_LEVEL": "2", **(env_extra or {})}
    pin = ["taskset", "-c", cpus] if cpus else []
    proc = subprocess.Popen(
        [
            *pin,
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--server.fileWatcherType",
            "none",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("The Streamlit app did not start within 60 s.")


def stop_app(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
