"""Browser test (headless Chromium): the home page loads, and the Colors page's top family follows the colour."""

import re

from playwright.sync_api import expect


def test_home_page_renders(page, app_url):
    page.goto(app_url)
    expect(page.get_by_text("The machine-learning explainer")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Colors")).first).to_be_visible()
    sidebar = page.get_by_test_id("stSidebarNav")
    expect(sidebar.get_by_role("link", name="Home", exact=True)).to_be_visible()  # app.py's st.Page title
    expect(sidebar.get_by_role("link", name="Vector search", exact=True)).to_be_visible()  # not "Vector_search"


def test_pure_red_then_pure_blue(page, app_url):
    page.goto(f"{app_url}/Colors")
    top = page.locator(".st-key-colors-top b").first
    expect(top).to_have_text("green-ish")  # the default colour, a dark teal (colors.DEFAULT_COLOR)
    box = page.get_by_label("…or type a colour")
    box.fill("#ff0000")
    box.press("Enter")
    expect(top).to_have_text("red-ish")
    box.fill("rgb(0, 0, 255)")
    box.press("Enter")
    expect(top).to_have_text("blue-ish")
    # the picker's R and B sliders followed the typed colour
    expect(page.locator(".st-key-colors-top input[aria-label='R']")).to_have_value("0")
    expect(page.locator(".st-key-colors-top input[aria-label='B']")).to_have_value("255")
