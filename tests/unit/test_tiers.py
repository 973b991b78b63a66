"""The tiers of tests/tiers.py: every test file is mapped, every test gets exactly one tier, and the unit tier starts no
server and no browser. Collects the whole suite in this process (no test is run), so it stays a unit test."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from tests import tiers

TESTS = Path(__file__).resolve().parents[1]
PYPROJECT = TESTS.parent / "pyproject.toml"
CONFTEST = TESTS / "conftest.py"
SERVER_FIXTURES = {"app_url", "browser", "page"}  # tests/conftest.py: a live app, headless Chromium, a browser tab


class Collected:
    """A plugin that keeps what a collection found."""

    def __init__(self):
        self.items: list[pytest.Item] = []
        self.fallbacks: dict[str, str] = {}

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.items = list(session.items)
        self.fallbacks = dict(session.config.stash[tiers.FALLBACKS])


def collect(*args: str) -> tuple[int, Collected]:
    found = Collected()
    code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", *args], plugins=[found])
    return int(code), found


@pytest.fixture(scope="module")
def suite() -> Collected:
    code, found = collect(str(TESTS))
    assert code == 0, "collecting the suite failed: run `pytest --collect-only` to see why"
    return found


def tiers_of(item: pytest.Item) -> list[str]:
    return sorted({m.name for m in item.iter_markers() if m.name in tiers.TIERS})


def conftest_fixtures_used(item: pytest.Item) -> set[str]:
    """The server fixtures of tests/conftest.py in this test's fixture closure (a test file may define its own `page`)."""
    used = set()
    for name in SERVER_FIXTURES & set(item.fixturenames):
        definition = item._fixtureinfo.name2fixturedefs[name][-1]  # the one this test gets
        if Path(inspect.getfile(definition.func)).resolve() == CONFTEST:
            used.add(name)
    return used


def test_every_test_file_is_mapped_to_a_tier():
    files = sorted({p.name for p in TESTS.rglob("test_*.py")})
    unmapped = sorted(name for name in files if name not in tiers.FILE_TIERS)
    assert not unmapped, f"add these files to FILE_TIERS in tests/tiers.py (now given a default tier): {unmapped}"
    assert not set(tiers.FILE_TIERS) - set(files), "FILE_TIERS names files that do not exist"


def test_the_collection_gave_no_file_a_default_tier(suite):
    assert suite.fallbacks == {}, f"map these files in tests/tiers.py: {suite.fallbacks}"


def test_every_test_has_exactly_one_tier(suite):
    assert len(suite.items) > 500
    wrong = {item.nodeid: tiers_of(item) for item in suite.items if len(tiers_of(item)) != 1}
    assert not wrong, wrong
    assert {tier for item in suite.items for tier in tiers_of(item)} == set(tiers.TIERS)  # no tier is empty


def test_the_unit_tier_starts_no_server_and_no_browser(suite):
    unit = [item for item in suite.items if tiers_of(item) == ["unit"]]
    assert len(unit) > 300
    servers = {item.nodeid: sorted(conftest_fixtures_used(item)) for item in unit if conftest_fixtures_used(item)}
    assert not servers, f"these unit tests start a server or a browser: give them another tier: {servers}"


def test_the_server_fixtures_are_found_where_they_are_used(suite):
    """The check above can fail: the browser and protocol tests do use the conftest fixtures."""
    by_id = {item.nodeid: item for item in suite.items}
    protocol = by_id[
        "tests/integration/test_protocol_client.py::test_a_protocol_session_draws_gets_a_prediction_and_clears"
    ]
    assert conftest_fixtures_used(protocol) == {"app_url"}
    assert tiers_of(protocol) == ["integration"]
    browser_tests = [item for item in suite.items if "page" in conftest_fixtures_used(item)]
    assert browser_tests and all(tiers_of(item) == ["browser"] for item in browser_tests)
    draw_page = [item for item in suite.items if item.path.name == "test_draw_page.py" and "page" in item.fixturenames]
    assert draw_page and not any(conftest_fixtures_used(item) for item in draw_page)  # its own AppTest `page`


def test_every_override_names_a_collected_test_and_every_tier_marker_in_a_file_is_listed(suite):
    keys = {key for item in suite.items for key in tiers.override_keys(item)}
    stale = sorted(set(tiers.TEST_TIERS) - keys)
    assert not stale, f"TEST_TIERS in tests/tiers.py names tests that do not exist: {stale}"
    unlisted = sorted(
        item.nodeid
        for item in suite.items
        if tiers_of(item) != [tiers.FILE_TIERS.get(item.path.name)]
        and not any(key in tiers.TEST_TIERS for key in tiers.override_keys(item))
    )
    assert not unlisted, f"tests whose tier is not their file's: add them to TEST_TIERS in tests/tiers.py: {unlisted}"


def test_every_tier_is_a_registered_marker(pytestconfig):
    registered = {line.split(":")[0].strip() for line in pytestconfig.getini("markers")}
    assert set(tiers.TIERS) <= registered


def test_an_unmapped_file_gets_a_default_tier_and_is_named(tmp_path):
    (tmp_path / "test_brand_new.py").write_text("def test_one():\n    assert True\n")
    (tmp_path / "test_brand_new_page.py").write_text("def test_page():\n    app_test('app.py')\n")
    code, found = collect("-c", str(PYPROJECT), "--import-mode=importlib", str(tmp_path))
    assert code == 0
    assert {item.name: tiers_of(item) for item in found.items} == {
        "test_one": ["integration"],
        "test_page": ["apptest"],
    }
    assert found.fallbacks == {"test_brand_new.py": "integration", "test_brand_new_page.py": "apptest"}


def test_a_tier_marker_that_contradicts_the_map_fails_collection(tmp_path):
    """tiers.py says this test is `slow`; a `browser` marker on it would give it two tiers."""
    name = "test_shipped_model_on_the_browser_drawn_held_out_set"
    codes, found = {}, None
    for marker in ("browser", "slow"):  # one folder each: a module is imported once per path
        folder = tmp_path / marker
        folder.mkdir()
        (folder / "test_shapes.py").write_text(f"import pytest\n\n\n@pytest.mark.{marker}\ndef {name}():\n    pass\n")
        codes[marker], found = collect("-c", str(PYPROJECT), "--import-mode=importlib", str(folder))
    assert codes == {"browser": pytest.ExitCode.USAGE_ERROR, "slow": pytest.ExitCode.OK}
    assert [tiers_of(item) for item in found.items] == [["slow"]]
