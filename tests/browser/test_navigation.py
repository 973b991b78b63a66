"""The menu in Chromium: its sections, demo mode kept in the address across pages and a reload, and the first visit
after a start straight to a model page (which Streamlit would serve without app.py)."""

import re

from bench.server import start_app, stop_app


def test_menu_has_sections_and_keeps_demo_mode_across_pages(page, app_url):
    from playwright.sync_api import expect

    page.goto(f"{app_url}/?demo=1")
    expect(page.get_by_text("Demo mode is on")).to_be_visible()
    sidebar = page.get_by_test_id("stSidebarNav")
    for section in ("Explore", "Build"):
        expect(sidebar.get_by_text(section, exact=True)).to_be_visible()
    sidebar.get_by_role("link", name="Colors").click()
    expect(page).to_have_url(re.compile(r"/Colors\?demo=1$"))
    expect(page.get_by_text("Demo mode: seeds are fixed")).to_be_visible()
    page.reload()  # a new session: only the address says demo mode now
    expect(page.get_by_text("Demo mode: seeds are fixed")).to_be_visible()


def test_first_visit_after_a_start_on_a_model_page_gets_the_sections_and_presenter_mode(page, tmp_path):
    """Streamlit runs pages/ the legacy way (the page file alone, without app.py) until some session has run app.py;
    ui.common.page_header sends that first run through app.py, so the menu, presenter and demo mode are there."""
    from playwright.sync_api import expect

    proc, url = start_app(tmp_path / "cold_start")  # a fresh server: no session has run app.py yet
    try:
        page.goto(f"{url}/Inspect?present=1")
        sidebar = page.get_by_test_id("stSidebarNav")
        expect(sidebar.get_by_text("Build", exact=True)).to_be_visible()
        expect(sidebar.get_by_role("link", name="Inspect")).to_be_visible()
        expect(sidebar.get_by_role("link", name="app")).to_have_count(0)  # the legacy menu's entry for app.py
        expect(page.locator("html")).to_have_css("font-size", "24px")  # presenter mode, which app.py applies
        expect(page).to_have_url(re.compile(r"/Inspect\?present=1$"))
    finally:
        stop_app(proc)
