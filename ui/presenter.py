"""Presenter mode: large type and charts and the sidebar collapsed, for a teacher showing the app on a projector.

`?present=1` or the sidebar's toggle turns it on for this session only, and, like demo mode, it stays on across pages
and in the address. The larger type is one style sheet: Streamlit sizes its text, widgets, spacing and even its
charts' fonts in rem, so raising the page's root font size scales them all together. Nothing process-global changes
(no plotly template, no server config): other people's sessions share this process.
"""

from __future__ import annotations

import streamlit as st

from ui.common import NO_CUT_CSS

PRESENT_PARAM = "present"  # the query parameter, and the session key that remembers it
TOGGLE_KEY = "presenter.toggle"
ON_VALUES = {"1", "true", "yes"}  # what `?present=` may say to turn presenter mode on (as `?demo=`)
OFF_VALUES = {"0", "false", "no"}  # ...and to turn it off again from the address
# Streamlit's root is 16 px, and its plotly theme sizes chart text at 0.75 rem: 24 px makes chart numbers 18 px (the
# projector's floor), body text 14 → 21 px; headings are held back below so a 1024 px screen keeps its columns.
ROOT_FONT_PX = 24
MIN_TEXT_PX = 18  # the projector's floor, also for the text a component sizes itself (ui.colors_picker, ui.draw_live)
SIDE_PADDING_REM = 1.5  # the wide layout's 5 rem side margins would eat a quarter of a 1024 px projector


def presenter_mode() -> bool:
    """Is presenter mode on for this session? `?present=1` turns it on, `?present=0` off; otherwise the session
    remembers, and puts `present=1` back in the address when the menu has dropped it (as ui.common.demo_mode does)."""
    wanted = st.query_params.get(PRESENT_PARAM)
    if wanted in ON_VALUES:
        st.session_state[PRESENT_PARAM] = True
    elif wanted in OFF_VALUES:
        st.session_state[PRESENT_PARAM] = False
    on = bool(st.session_state.get(PRESENT_PARAM))
    if on and wanted != "1":
        st.query_params[PRESENT_PARAM] = "1"
    elif not on and wanted is not None:
        del st.query_params[PRESENT_PARAM]  # `?present=0` or an unknown value: leave the address clean
    return on


def presenting() -> bool:
    """Is presenter mode on for this session, as apply_presenter_mode() last read it (the address is left alone)? A
    component that sizes its own text is given this as data: the page's style sheet does not decide its sizes."""
    return bool(st.session_state.get(PRESENT_PARAM))


def _toggled() -> None:
    # The toggle's callback runs before the script, so the address must agree by then: presenter_mode() reads it.
    st.session_state[PRESENT_PARAM] = bool(st.session_state[TOGGLE_KEY])
    if not st.session_state[PRESENT_PARAM] and PRESENT_PARAM in st.query_params:
        del st.query_params[PRESENT_PARAM]


def presenter_css(root_font_px: int = ROOT_FONT_PX) -> str:
    """The presenter style sheet: a larger root font, narrower side margins to make room for it, headings and
    metric values that grow less than the rest (they are large already), and columns that may wrap rather than cut."""
    return (
        "<style>\n"
        f"html {{ font-size: {int(root_font_px)}px; }}\n"
        '[data-testid="stMainBlockContainer"] {'
        f" padding-left: {SIDE_PADDING_REM}rem; padding-right: {SIDE_PADDING_REM}rem; padding-top: 3rem; }}\n"
        "h1 { font-size: 2.2rem !important; } h2 { font-size: 1.6rem !important; } h3 { font-size: 1.3rem !important; }\n"
        '[data-testid="stMetricValue"] { font-size: 1.6rem !important; }\n'
        "</style>"
    )


def apply_presenter_mode() -> bool:
    """Read presenter mode, draw its sidebar toggle and, when it is on, collapse the sidebar and enlarge the page.

    Call it from app.py on every run, before the page runs (st.set_page_config is additive: the pages' own calls
    leave the sidebar setting alone).
    """
    on = presenter_mode()
    st.session_state[TOGGLE_KEY] = on  # the toggle shows the session's state, whichever way it was turned on
    st.sidebar.toggle(
        "Presenter mode",
        key=TOGGLE_KEY,
        on_change=_toggled,
        help="Large type and charts for a projector, the sidebar folded away. Stays on across pages; "
        "`?present=1` in the address turns it on too.",
    )
    st.set_page_config(initial_sidebar_state="collapsed" if on else "auto")
    # One style sheet per run (style only: Streamlit puts it where it takes no room on the page): labels that wrap
    # rather than cut, on every page; presenter mode's larger type when it is on.
    st.html(NO_CUT_CSS + (presenter_css() if on else ""))
    return on


def presenter_query_params() -> dict[str, str]:
    """The query parameters that carry this session's presenter mode to another page (a link, a new tab): or none."""
    return {PRESENT_PARAM: "1"} if presenting() else {}
