"""app.py's navigation: every page in the menu with its title, icon and section; demo mode (`?demo=1`) kept in the
address when the menu changes page. (No TensorFlow on the way to the home page: tests/integration; the menu in
Chromium: tests/browser.)"""

import app
from tests.helpers.apptest import app_test
from tests.helpers.paths import REPO

# What the menu shows: section → titles. The url paths are the ones bookmarks, the browser tests and bench use.
EXPECTED = {
    "": ["Home"],
    "Explore": ["Colors", "Draw", "Text"],
    "Build": ["Retrain", "Inspect", "Vector search", "Teach"],
    "Together": ["Class"],
}
URL_PATHS = {"Home": "", "Vector search": "Vector_search"}  # the rest are served at /<title>


def entries():
    return [entry for section in app.NAVIGATION.values() for entry in section]


def test_navigation_lists_every_page_with_its_title_and_section():
    assert {section: [e.title for e in group] for section, group in app.NAVIGATION.items()} == EXPECTED
    assert {e.title: e.url_path for e in entries()} == {
        title: URL_PATHS.get(title, title) for titles in EXPECTED.values() for title in titles
    }
    # ...and that is what st.navigation registered: title, icon and address for each page file
    at = app_test("app.py").run()
    assert not at.exception
    registered = {
        info["script_path"]: (info["page_name"], info["icon"], info["url_pathname"])
        for info in at._registered_pages.values()
    }
    assert registered == {str(REPO / e.path): (e.title, e.icon, e.url_path) for e in entries()}


def test_every_entry_is_a_page_file_and_every_page_file_is_in_the_menu():
    paths = [e.path for e in entries()]
    assert len(paths) == len(set(paths))
    for path in paths:
        assert (REPO / path).is_file(), path
    assert sorted(paths) == sorted(f"pages/{p.name}" for p in (REPO / "pages").glob("*.py"))
    assert not (REPO / "Home.py").exists()  # app.py is the one entry point


def test_home_page_is_the_default_and_links_every_page_under_its_section():
    at = app_test("app.py").run()
    assert not at.exception
    assert at.title[0].value.endswith("The machine-learning explainer")
    assert [s.value for s in at.subheader] == ["Explore", "Build", "Together"]
    links = [(link.label, link.proto.icon, link.proto.page) for link in at.get("page_link")]
    assert links == [(e.title, e.icon, e.url_path) for e in entries() if e.url_path]


def test_demo_mode_survives_a_page_switch():
    at = app_test("app.py")
    at.query_params["demo"] = "1"
    at.run()
    assert any("Demo mode" in i.value for i in at.info)
    assert all(link.proto.query_string == "demo=1" for link in at.get("page_link"))  # a new tab keeps it too
    at.query_params.clear()  # what the sidebar menu does to the address when it changes page
    at.switch_page("pages/1_Colors.py").run()
    assert not at.exception
    assert any("Demo mode" in i.value for i in at.info)
    assert at.query_params.get("demo") == "1"  # put back, so a reload or a shared link is still in demo mode


def test_without_demo_mode_the_address_stays_clean():
    at = app_test("app.py").run()
    assert not any("Demo mode" in i.value for i in at.info)
    assert "demo" not in at.query_params
    assert all(link.proto.query_string == "" for link in at.get("page_link"))
