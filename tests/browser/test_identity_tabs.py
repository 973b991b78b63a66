"""Browser test (headless Chromium): two tabs opened at once on a first visit become one identity (issue 25).

Each tab's first page run makes a token; the browser keeps one cookie. The page script keeps the first one set (under
a Web Lock, so the tabs take turns) and a tab whose token was not kept reloads as the kept identity. Both tabs then
label a colour, and a reload sees both labels: neither tab worked as an identity the browser forgot."""

import re

from playwright.sync_api import expect

SETTLED = """() => {
  const kept = document.cookie.match(/(?:^|;\\s*)mlx_id=([A-Za-z0-9_-]{32,64})/);
  if (!kept || !document.body.innerText.includes("labels so far")) return false;
  const mine = [...document.scripts].find((s) => s.text.includes("var mine"));
  return !mine || mine.text.includes('"' + kept[1] + '"');
}"""


def test_two_tabs_on_a_first_visit_become_one_identity(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        tabs = [context.new_page(), context.new_page()]
        for tab in tabs:
            tab.set_default_timeout(120_000)
            tab.goto(f"{app_url}/Colors", wait_until="commit")  # both first page runs under way together
        for tab in tabs:
            tab.wait_for_function(SETTLED, timeout=120_000)  # the body rendered and the kept token is this tab's
        for count, tab in enumerate(tabs, start=1):  # the second tab counts the first tab's label too: one identity
            tab.get_by_role("button", name="red-ish", exact=True).click()
            expect(tab.get_by_text(re.compile(rf"^{count} labels so far"))).to_be_visible()
        tabs[0].reload()
        expect(tabs[0].get_by_text(re.compile(r"^2 labels so far"))).to_be_visible()
    finally:
        context.close()
