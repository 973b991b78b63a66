"""The browser tier: drives the running app (tests/conftest.py's `app_url`) in headless Chromium with Playwright; CI runs
it. Every test collected in this folder gets the `browser` marker, and a failing test leaves a screenshot in
test-results/."""

import pytest

from bench.server import CHROMIUM_FLAGS, chromium_path
from tests.helpers.paths import REPO


def pytest_itemcollected(item: pytest.Item) -> None:
    item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def playwright_driver():
    """The session's one Playwright driver: a second sync_playwright() while one runs fails ("Sync API inside the
    asyncio loop"), so a test that needs a browser with other flags launches it from this one."""
    playwright = pytest.importorskip("playwright.sync_api")
    playwright.expect.set_options(timeout=30_000)  # first paint imports TensorFlow and loads a model
    if chromium_path() is None:
        pytest.fail("Debian's chromium is not installed: scripts/test.sh installs it with apt-get.")
    with playwright.sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_driver):
    b = playwright_driver.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
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
