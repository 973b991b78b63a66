"""The tiers are folders: tests/<tier>/conftest.py gives every test collected there its tier marker, with no registry to
keep in step. Every test has exactly one tier, the one of its folder, and the unit tier starts no server, browser,
subprocess or AppTest. Collects the whole suite in this process (no test is run), so it stays a unit test."""

from __future__ import annotations

import ast
import inspect
import shutil
from pathlib import Path

import pytest

from tests.helpers.paths import REPO, TESTS

TIERS = (
    "unit",
    "apptest",
    "integration",
    "browser",
    "slow",
)  # one folder each, registered as markers in pyproject.toml
PYPROJECT = REPO / "pyproject.toml"
SERVER_FIXTURES = {
    "app_url",
    "browser",
    "page",
}  # tests/conftest.py: a live app; tests/browser/conftest.py: Chromium, a tab
# What a unit test module may not import: each starts a subprocess, an AppTest, a live app, a browser or a worker process.
NOT_IN_UNIT = {
    "subprocess": "a subprocess",
    "streamlit.testing": "an AppTest",
    "tests.helpers.apptest": "an AppTest",
    "bench.server": "a live app",
    "bench.protocol.Session": "a session against a live app",
    "playwright": "a browser",
    "tests.helpers.job_workers": "work for a worker process",
}


class Collected:
    """A plugin that keeps what a collection found."""

    def __init__(self):
        self.items: list[pytest.Item] = []

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.items = list(session.items)


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
    return sorted({m.name for m in item.iter_markers() if m.name in TIERS})


def folder_of(path: Path, root: Path = TESTS) -> str:
    """The first folder under `root` on the way to `path` (the file's own name if it sits in `root` itself)."""
    return path.relative_to(root).parts[0]


def tier_problems(items: list[pytest.Item], root: Path = TESTS) -> dict[str, str]:
    """Every test whose tier markers are not exactly its folder's tier, with what is wrong."""
    problems = {}
    for item in items:
        tiers, folder = tiers_of(item), folder_of(item.path, root)
        if folder not in TIERS:
            problems[item.nodeid] = f"in {folder!r}, which is not a tier folder ({', '.join(TIERS)})"
        elif tiers != [folder]:
            problems[item.nodeid] = f"has the tier markers {tiers}; its folder gives it [{folder!r}] only"
    return problems


def conftest_fixtures_used(item: pytest.Item) -> set[str]:
    """The server fixtures of a conftest.py in this test's fixture closure (a test file may define its own `page`)."""
    used = set()
    for name in SERVER_FIXTURES & set(item.fixturenames):
        definition = item._fixtureinfo.name2fixturedefs[name][-1]  # the one this test gets
        path = Path(inspect.getfile(definition.func)).resolve()
        if path.name == "conftest.py" and path.is_relative_to(TESTS):
            used.add(name)
    return used


def forbidden_imports(source: str) -> list[str]:
    """What in NOT_IN_UNIT a module's source imports, at the top or inside a function."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return sorted({key for key in NOT_IN_UNIT for name in names if name == key or name.startswith(key + ".")})


def test_every_tier_is_a_registered_marker(pytestconfig):
    registered = {line.split(":")[0].strip() for line in pytestconfig.getini("markers")}
    assert set(TIERS) <= registered


def test_every_tier_folder_has_a_conftest_that_marks_its_tests():
    for tier in TIERS:
        conftest = (TESTS / tier / "conftest.py").read_text(encoding="utf-8")
        assert f"item.add_marker(pytest.mark.{tier})" in conftest, f"tests/{tier}/conftest.py does not mark its tests"


def test_no_test_file_sits_outside_a_tier_folder():
    outside = sorted(str(p.relative_to(TESTS)) for p in TESTS.rglob("test_*.py") if folder_of(p) not in TIERS)
    assert not outside, f"move these test files into a tier folder ({', '.join(TIERS)}): {outside}"


def test_every_test_has_exactly_one_tier_the_one_of_its_folder(suite):
    assert len(suite.items) > 500
    problems = tier_problems(suite.items)
    assert not problems, f"move these tests to the folder of their tier, or drop the tier marker on them: {problems}"
    assert {folder_of(item.path) for item in suite.items} == set(TIERS)  # no tier is empty


def test_the_unit_tier_starts_no_server_and_no_browser(suite):
    unit = [item for item in suite.items if tiers_of(item) == ["unit"]]
    assert len(unit) > 300
    servers = {item.nodeid: sorted(conftest_fixtures_used(item)) for item in unit if conftest_fixtures_used(item)}
    assert not servers, f"these unit tests start a server or a browser: move them to another tier: {servers}"


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


def test_no_unit_test_module_imports_a_subprocess_an_apptest_a_server_or_a_browser():
    found = {}
    for path in sorted((TESTS / "unit").glob("*.py")):
        imported = forbidden_imports(path.read_text(encoding="utf-8"))
        if imported:
            found[path.name] = imported
    assert not found, f"these unit test modules import {NOT_IN_UNIT}: move the tests that need them: {found}"


def test_the_import_check_finds_what_it_looks_for():
    """The check above can fail: top-level and function-level imports, and `from` imports, are all seen."""
    source = (
        "import subprocess\n"
        "from bench.protocol import Session, canvas_circle\n"
        "def test_page():\n"
        "    from streamlit.testing.v1 import AppTest\n"
        "    from tests.helpers import job_workers\n"
    )
    assert forbidden_imports(source) == [
        "bench.protocol.Session",
        "streamlit.testing",
        "subprocess",
        "tests.helpers.job_workers",
    ]
    assert forbidden_imports("from bench.protocol import canvas_circle\nimport numpy as np\n") == []


def test_a_new_test_file_gets_its_folders_tier_and_a_contradicting_marker_is_found(tmp_path):
    """A new file in a tier folder needs nothing else; a tier marker written on a test in another tier's folder gives it
    two tiers, which the check above names."""
    folder = tmp_path / "unit"
    folder.mkdir()
    shutil.copy(TESTS / "unit" / "conftest.py", folder / "conftest.py")
    (folder / "test_brand_new.py").write_text(
        "import pytest\n\n\ndef test_one():\n    pass\n\n\n@pytest.mark.browser\ndef test_marked():\n    pass\n"
    )
    code, found = collect("-c", str(PYPROJECT), "--import-mode=importlib", str(tmp_path))
    assert code == 0
    assert {item.name: tiers_of(item) for item in found.items} == {
        "test_one": ["unit"],
        "test_marked": ["browser", "unit"],
    }
    assert list(tier_problems(found.items, root=tmp_path)) == [
        item.nodeid for item in found.items if item.name == "test_marked"
    ]
