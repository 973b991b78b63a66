"""Browser test (headless Chromium), two identities: the teacher's Class page follows a student live. The teacher opens
a class; a student opens the join link (the form comes filled in), joins, labels a colour and shares it, and a run of
theirs is recorded; the teacher's page shows each step in its roster and runs without a reload (the live view is a
fragment on a timer). The teacher's page at 1280x800 is kept as a screenshot."""

import re

from playwright.sync_api import expect

from core.families.teach import projects as teach_store
from core.store import classroom, identity
from tests.helpers.paths import REPO

SHOTS = REPO / "test-results"
VIEWPORT = {"width": 1280, "height": 800}


def owner_of(context) -> str:
    """The owner id the app knows a browser context by (from its identity cookie)."""
    token = next(c["value"] for c in context.cookies() if c["name"] == identity.COOKIE)
    return identity.owner_id(token)


def test_the_teachers_page_follows_a_student_without_a_reload(browser, app_url, app_user_data, monkeypatch):
    SHOTS.mkdir(exist_ok=True)
    database = app_user_data / "samples.sqlite3"
    teacher_context, student_context = browser.new_context(viewport=VIEWPORT), browser.new_context(viewport=VIEWPORT)
    try:
        teacher = teacher_context.new_page()
        teacher.set_default_timeout(60_000)
        # Home first, until app.py's menu is drawn: while no run has reached st.navigation, Streamlit serves a page
        # opened by its address from the pages folder, without app.py (so without presenter mode).
        teacher.goto(app_url)
        expect(teacher.get_by_test_id("stSidebarNav")).to_contain_text("Together")  # a section of app.py's menu
        teacher.goto(f"{app_url}/Class")
        teacher.get_by_label("Class name").fill("Browser class")
        teacher.get_by_role("button", name="Open a class").click()
        link_box = teacher.get_by_test_id("stCode").filter(has_text="?class=")
        expect(link_box).to_be_visible()
        link = link_box.inner_text().strip()
        code = link.rsplit("=", 1)[1]
        assert re.fullmatch(rf"{re.escape(app_url)}/Class\?class=[A-Z2-9]{{8}}", link), link
        qr = teacher.get_by_test_id("stImageContainer").filter(has_text="The join link").locator("img")
        expect(qr).to_have_count(1)
        assert qr.evaluate("img => img.complete && img.naturalWidth") > 100  # the QR code's PNG, loaded
        expect(teacher.get_by_text("Nobody has joined yet")).to_be_visible()

        student = student_context.new_page()
        student.set_default_timeout(60_000)
        student.goto(link)
        expect(student.get_by_label("Join code (on the teacher's screen)")).to_have_value(code)
        student.get_by_label("Your nickname in the class").fill("Anna")
        student.get_by_role("button", name="Join", exact=True).click()
        expect(student.get_by_text("Your samples and the class's pool")).to_be_visible()

        roster = teacher.locator("table").filter(has_text="Samples shared")
        anna = roster.locator("tbody tr").filter(has_text="Anna")
        expect(anna).to_have_count(1)  # joined, on the teacher's page without a reload
        expect(anna.locator("td").nth(1)).to_have_text("0")

        student.goto(f"{app_url}/Colors")
        student.get_by_role("button", name="red-ish", exact=True).click()
        expect(student.get_by_text(re.compile(r"^1 labels so far"))).to_be_visible()
        student.goto(f"{app_url}/Class")
        student.get_by_role("button", name="Add all my samples to the class").click()
        expect(student.get_by_role("button", name="Take my samples out of the class")).to_be_visible()
        expect(anna.locator("td").nth(1)).to_have_text("1")  # shared
        expect(teacher.get_by_test_id("stMetric").filter(has_text="Colour labels pooled")).to_contain_text("1")

        # A finished retrain's record, as the Retrain studio writes it (a real training would take a minute here).
        run = classroom.RunRecord("colors", "20260101-000000-anna", 0.8125, 2, 8, 0.1, 0, 3.0)
        assert classroom.record_result(code, owner_of(student_context), run, path=database)
        expect(anna.locator("td").nth(3)).to_have_text("81% (colors)")
        expect(anna.locator("td").nth(2)).to_have_text("done")
        expect(teacher.locator(".js-plotly-plot").filter(has_text="Every run in the class")).to_have_count(1)

        classroom.join_class("u" + "b" * 20, code, "Ben", path=database)  # a second student
        expect(roster.locator("tbody tr")).to_have_count(2)
        expect(teacher.get_by_text(re.compile(r"^Browser class · 3 of at most 40 member"))).to_be_visible()
        teacher.screenshot(path=str(SHOTS / "class_teacher_live_1280x800.png"))
        roster.scroll_into_view_if_needed()
        teacher.screenshot(path=str(SHOTS / "class_teacher_live_roster_1280x800.png"))

        teacher.goto(f"{app_url}/Class?present=1")  # presenter mode, as on a projector
        expect(teacher.locator("html")).to_have_css("font-size", "24px")
        expect(anna.locator("td").nth(3)).to_have_text("81% (colors)")
        assert teacher.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # nothing cut sideways
        expect(teacher.locator(".js-plotly-plot").filter(has_text="Every run in the class")).to_have_count(1)
        roster.scroll_into_view_if_needed()
        teacher.screenshot(path=str(SHOTS / "class_teacher_live_presenter_1280x800.png"))
        chart = teacher.locator(".js-plotly-plot").filter(has_text="Every run in the class")
        chart.scroll_into_view_if_needed()
        teacher.screenshot(path=str(SHOTS / "class_teacher_live_presenter_runs_1280x800.png"))
        ticks = chart.locator(".ytick text, .xtick text")
        expect(ticks.first).to_be_visible()
        sizes = ticks.evaluate_all("ts => ts.map(t => parseFloat(getComputedStyle(t).fontSize))")
        assert min(sizes) >= 18, sizes  # chart numbers a projector shows

        # The student shares a Teach project from the Teach page; the class sees it, read-only, on the Class page.
        monkeypatch.setenv("MLX_USER_DATA_DIR", str(app_user_data))  # the project made where the app keeps them
        teach_store.create_project(owner_of(student_context), "gestures", "drawing", ["thumbs up", "thumbs down"])
        student.goto(f"{app_url}/Teach")
        student.get_by_test_id("stSelectbox").filter(has_text="Project").click()
        student.get_by_role("option", name="gestures", exact=True).click()
        student.get_by_text("Share with your class").click()
        student.get_by_role("button", name=f"Share with my class ({code})").click()
        expect(student.get_by_text(f"Shared with your class {code}")).to_be_visible()
        student.screenshot(path=str(SHOTS / "teach_shared_with_class_1280x800.png"))
        teacher.goto(f"{app_url}/Class")
        shared = teacher.get_by_test_id("stDataFrame").filter(has_text="gestures")
        expect(teacher.get_by_text("Teach projects shared with the class")).to_be_visible()
        shared.scroll_into_view_if_needed()
        expect(shared).to_be_visible()
        teacher.screenshot(path=str(SHOTS / "class_shared_projects_1280x800.png"))
    finally:
        teacher_context.close()
        student_context.close()
