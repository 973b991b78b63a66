"""Fixtures for every tier: per-test user data folders, one live app per session (browser and protocol tests), and an
idle training queue after page tests that train. Each tier folder's own conftest.py gives its tests their tier marker
(tests/browser/conftest.py also holds headless Chromium); helpers a test module imports live in tests/helpers/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.server import start_app, stop_app
from tests.helpers.live_app import SHIPPED_WORKER

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(autouse=True)
def user_data(tmp_path, monkeypatch) -> Path:
    """Every test gets its own user-data folder (SQLite, versions, Qdrant): nothing leaks between tests.

    Jobs run in threads here (no process start-up and TensorFlow import per job); a test opts into worker processes
    with `JobQueue(worker="process")` or by setting MLX_TRAINING_WORKER=process (tests/integration/test_jobs_process.py).
    """
    folder = tmp_path / "user_data"
    monkeypatch.setenv("MLX_USER_DATA_DIR", str(folder))
    monkeypatch.setenv("MLX_TRAINING_WORKER", "thread")
    for var in (
        "MLX_USER_MODELS_DIR",
        "MLX_DB_PATH",
        "MLX_QDRANT_PATH",
        "MLX_QDRANT_URL",
        "MLX_DEMO_MODE",
        "MLX_TRAINING_NICE",
        "MLX_REDIS_URL",  # the embedded queue unless a test starts its own redis-server (tests/helpers/redis_server.py)
        "MLX_JOB_MODULES",
        "MLX_WORKER_PRELOAD",
    ):
        monkeypatch.delenv(var, raising=False)
    return folder


@pytest.fixture(scope="session")
def app_user_data(tmp_path_factory) -> Path:
    """The live app's user-data folder (a browser test may write to its store what a slow step would make)."""
    return tmp_path_factory.mktemp("app_user_data")


@pytest.fixture(scope="session")
def app_url(app_user_data):
    """One running app for the browser tests of a session."""
    proc, url = start_app(app_user_data, SHIPPED_WORKER)
    yield url
    stop_app(proc)


@pytest.fixture
def no_job_left_behind():
    """The test leaves the server's queue idle, so the next one is not stuck behind it (page tests that train)."""
    yield
    from core.engine import jobs

    for job in list(jobs.QUEUE._by_session.values()):
        if job.active:
            job.cancel()
            jobs.QUEUE.wait(job, 120)
