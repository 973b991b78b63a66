"""Presenter mode (`?present=1` or the sidebar toggle): turned on and off, kept across pages like demo mode, its style
sheet only in the sessions that asked for it; and the CSS that fits a canvas to a narrow column."""

import re

import pytest

from tests.helpers.apptest import APPTEST_TIMEOUT, app_test, component_data
from ui import presenter
from ui.canvas import FIT_MIN_ZOOM, FIT_STEP_PX, fit_canvas_css


def styles(at) -> str:
    """Every style sheet the run sent (style-only st.html goes to the event container, not the main body)."""
    return "\n".join(h.proto.body for h in at.get("html"))


def presenting(at) -> bool:
    """What the session shows: the toggle's state, and whether the presenter style sheet was sent."""
    toggle = at.sidebar.toggle(key=presenter.TOGGLE_KEY).value
    sheet = f"font-size: {presenter.ROOT_FONT_PX}px" in styles(at)
    assert toggle == sheet, "the toggle and the page's type disagree"
    return toggle


def test_query_parameter_turns_presenter_mode_on_and_keeps_it_in_the_address():
    at = app_test("app.py")
    at.query_params["present"] = "1"
    at.run()
    assert not at.exception
    assert presenting(at)
    assert at.query_params.get("present") == "1"


def test_without_presenter_mode_the_page_and_address_are_unchanged():
    at = app_test("app.py").run()
    assert not at.exception
    assert not presenting(at)
    assert "present" not in at.query_params
    assert "font-size" not in styles(at)


def session():
    """What app.py does on every run, before the page: demo mode, then presenter mode. (AppTest reruns a page file of
    pages/ without app.py after its first run, so reruns are tested on this script; the browser test uses the app.)"""
    import streamlit as st

    from ui.common import demo_mode
    from ui.presenter import apply_presenter_mode

    st.write(f"demo: {demo_mode()}, presenting: {apply_presenter_mode()}")


def session_test():
    from streamlit.testing.v1 import AppTest

    return AppTest.from_function(session, default_timeout=APPTEST_TIMEOUT)


def test_presenter_mode_survives_the_menu_dropping_the_address_with_demo_mode():
    at = session_test()
    at.query_params["present"] = "1"
    at.query_params["demo"] = "1"
    at.run()
    at.query_params.clear()  # what the sidebar menu does to the address when it changes page
    at.run()
    assert not at.exception
    assert presenting(at)
    assert at.markdown[0].value == "demo: True, presenting: True"
    assert at.query_params.get("present") == "1" and at.query_params.get("demo") == "1"  # put back, as demo=1


def test_the_toggle_turns_it_on_and_off_and_cleans_the_address():
    at = session_test().run()
    assert not presenting(at)
    at.sidebar.toggle(key=presenter.TOGGLE_KEY).set_value(True).run()
    assert presenting(at)
    assert at.query_params.get("present") == "1"
    at.query_params.clear()
    at.run()
    assert presenting(at)  # the session remembers it, not only the address
    assert at.query_params.get("present") == "1"
    at.sidebar.toggle(key=presenter.TOGGLE_KEY).set_value(False).run()
    assert not at.exception
    assert not presenting(at)
    assert "present" not in at.query_params  # else the next run would read it and turn presenter mode back on
    at.run()
    assert not presenting(at)


@pytest.mark.parametrize("value", ["0", "false", "banana"])
def test_present_off_or_unknown_in_the_address_turns_it_off_and_drops_the_parameter(value):
    at = session_test()
    at.query_params["present"] = "1"
    at.run()
    at.query_params["present"] = value
    at.run()
    assert not at.exception
    assert presenting(at) is (value not in presenter.OFF_VALUES)  # an unknown value leaves the session's choice
    assert at.query_params.get("present") == ("1" if presenting(at) else None)


def test_sessions_do_not_share_presenter_mode():
    teacher = session_test()
    teacher.query_params["present"] = "1"
    teacher.run()
    student = session_test().run()  # another session of the same process
    assert presenting(teacher) and not presenting(student)


def test_the_style_sheet_only_enlarges_the_root_font_and_side_margins():
    css = presenter.presenter_css(30)
    assert "html { font-size: 30px; }" in css
    assert css.startswith("<style>") and css.endswith("</style>")
    assert "plotly" not in css.lower()  # the charts' fonts follow the root: no figure or template is touched


@pytest.mark.parametrize("canvas_px", [280, 320])
def test_canvas_fit_zoom_never_lets_the_canvas_overflow_its_column(canvas_px):
    css = fit_canvas_css("draw-canvas-fit", canvas_px)
    assert ".st-key-draw-canvas-fit { container-type: inline-size; }" in css
    steps = [(int(w), float(z)) for w, z in re.findall(r"width < (\d+)px\) \{ [^{]+\{ zoom: ([\d.]+);", css)]
    assert steps[0][0] == canvas_px + 4  # the first step is for a column just narrower than the canvas and its border
    needed = canvas_px + 4
    for width, zoom in steps:
        narrowest = width - FIT_STEP_PX  # the narrowest column this rule applies to (the next rule takes over below)
        assert zoom * needed <= narrowest + 1e-6  # shrunk enough for the narrowest column of its band
        assert zoom * needed >= narrowest - 1  # and no smaller than it needs to be
    assert [w for w, _ in steps] == sorted((w for w, _ in steps), reverse=True)  # later, narrower rules win
    assert FIT_MIN_ZOOM <= steps[-1][1] < FIT_MIN_ZOOM + FIT_STEP_PX / needed


@pytest.mark.parametrize("key", ["a b", "x;}html{", "draw.canvas"])
def test_canvas_fit_refuses_a_key_that_is_not_a_plain_class_name(key):
    with pytest.raises(ValueError):
        fit_canvas_css(key, 320)


def test_chart_text_reaches_18_px_in_presenter_mode():
    # Streamlit's plotly theme sizes chart text (ticks, bar values, legends) at 0.75 rem of the root font
    assert 0.75 * presenter.ROOT_FONT_PX >= 18


def test_labels_wrap_rather_than_cut_in_every_session():
    from ui.common import NO_CUT_CSS

    for present in ("1", "0"):
        at = app_test("app.py")
        at.query_params["present"] = present
        at.run()
        assert not at.exception
        sheet = styles(at)
        assert ".stMarkdownEllipsis" in sheet and "text-overflow: clip" in sheet  # button and widget labels
        assert "[data-testid='stMetricValue']" in sheet  # a metric's value ("4.10 bits · 2.84 nats")
        assert NO_CUT_CSS in sheet


@pytest.mark.parametrize(
    ("page_file", "key"),
    [
        ("pages/1_Colors.py", "colors.pick"),
        ("pages/1_Colors.py", "colors.three_ways"),
        ("pages/2_Draw.py", "draw.live"),
    ],
)
def test_the_live_components_are_told_whether_presenter_mode_is_on(page_file, key):
    """The Colors picker and Draw's in-browser answer size their own text (the page's style sheet does not decide
    it), so presenter mode reaches them as data; the browser test measures what they make of it."""
    at = app_test(page_file).run()
    assert not at.exception
    assert component_data(at, key)["presenter"] is False
    at.session_state[presenter.PRESENT_PARAM] = True  # as app.py's apply_presenter_mode leaves it for the page
    at.run()
    assert not at.exception
    assert component_data(at, key)["presenter"] is True
