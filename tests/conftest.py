"""Shared fixtures: per-test user data folders, a live app + headless Chromium for browser tests, and an idle training
queue after page tests that train. Helpers a test module imports live in tests/helpers/, not here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.server import CHROMIUM_FLAGS, chromium_path, start_app, stop_app
from tests.helpers.live_app import SHIPPED_WORKER
from tests.helpers.paths import REPO

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(autouse=True)
def user_data(tmp_path, monkeypatch) -> Path:
    """Every test gets its own user-data folder (SQLite, versions, Qdrant): nothing leaks between tests.

    Jobs run in threads here (no process start-up and TensorFlow import per job); a test opts into worker processes
    with `JobQueue(worker="process")` or by setting MLX_TRAINING_WORKER=process (tests/test_jobs_process.py).
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
    ):
        monkeypatch.delenv(var, raising=False)
    return folder


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """One running app for the browser tests of a session."""
    proc, url = start_app(tmp_path_factory.mktemp("app_user_data"), SHIPPED_WORKER)
    yield url
    stop_app(proc)


@pytest.fixture(scope="session")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    playwright.expect.set_options(timeout=30_000)  # first paint imports TensorFlow and loads a model
    exe = chromium_path()
    if exe is None:
        pytest.fail("Debian's chromium is not installed: scripts/test.sh installs it with apt-get.")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        out = REPO / "test-results"
        out.mkdir(exist_ok=True)
        pg.screenshot(path=str(out / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


@pytest.fixture
def no_job_left_behind():
    """The test leaves the server's queue idle, so the next one is not stuck behind it (page tests that train)."""
    yield
    from core.engine import jobs

    for job in list(jobs.QUEUE._by_session.values()):
        if job.active:
            job.cancel()
            jobs.QUEUE.wait(job, 120)
