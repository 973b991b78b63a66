"""Page setup shared by every page: title, demo mode, and plain error display."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import streamlit as st

from core.settings import get_settings

DEMO_SEED = 1234  # demo mode fixes every random seed to this, so a class sees the same thing as the teacher
DEMO_VALUES = {"1", "true", "yes"}  # what `?demo=` may say to turn demo mode on


def demo_mode() -> bool:
    """Demo mode: `?demo=1` in the URL, or MLX_DEMO_MODE=1 on the server. Hides expert controls, fixes seeds.

    Once seen, `?demo=1` is remembered for the session and kept in the address: changing page through the menu drops
    the query string, and a reload, a bookmark or a link shared with the class should stay in demo mode.
    """
    if st.query_params.get("demo") in DEMO_VALUES:
        st.session_state["demo"] = True
    elif st.session_state.get("demo"):
        st.query_params["demo"] = "1"
    return bool(st.session_state.get("demo") or get_settings().demo_mode)


def demo_query_params() -> dict[str, str]:
    """The query parameters that carry this session's `?demo=1` to another page (a link, a new tab): or none."""
    return {"demo": "1"} if st.session_state.get("demo") else {}


# Streamlit cuts a label that does not fit with an ellipsis (a button in a narrow column: "orang…", "Save the corr…";
# a metric's value: "4.10 bits · …"). A learner cannot read a cut word, so labels and metric values wrap instead,
# breaking inside a word only when the word alone is wider than its column.
NO_CUT_CSS = (
    "<style>\n"
    ".stMarkdownEllipsis, .stMarkdownEllipsis * , [data-testid='stMetricValue'], [data-testid='stMetricValue'] * "
    "{ white-space: normal !important; overflow: visible !important; text-overflow: clip !important; "
    "overflow-wrap: anywhere; }\n"
    "[data-testid='stMetricValue'] { height: auto !important; line-height: 1.2; }\n"
    "</style>"
)


def _through_app_py() -> None:
    """A server whose first visitor opened a page by its address (/Colors) serves pages the way Streamlit did before
    st.navigation: it runs the page file alone, without app.py, so no menu, presenter or demo mode, until someone opens
    "/". Streamlit keeps that choice in one class attribute, set when the first session starts because pages/ exists,
    and cleared only by st.navigation; clearing it here and rerunning sends this run, and every later one, through
    app.py, on the same page (a page's id is its address in both modes). Streamlit has no setting for it. Only in a
    session's first run, a page load: a rerun later would drop the run's click (AppTest sets the attribute afresh
    before every run)."""
    from streamlit.runtime.pages_manager import PagesManager

    first_run = not st.session_state.get(_SESSION_RAN)
    st.session_state[_SESSION_RAN] = True
    if PagesManager.uses_pages_directory and first_run:
        PagesManager.uses_pages_directory = False
        st.rerun()


_SESSION_RAN = "mlx.session_ran"  # a page of this session has run before (see _through_app_py)


def page_header(title: str, icon: str, intro: str) -> None:
    _through_app_py()
    st.set_page_config(page_title=f"{title} · ML explainer", page_icon=icon, layout="wide")
    st.title(f"{icon} {title}")
    st.caption(intro)
    # Here rather than in app.py alone: a page opened by its address before anyone opened "/" runs without app.py.
    from ui.identity import remember_in_browser

    remember_in_browser()
    if demo_mode():
        st.info("Demo mode: seeds are fixed and expert controls are hidden.", icon="🎓")


# ---------------------------------------------------------------- the page boundary: no traceback reaches a user

log = logging.getLogger("mlx.pages")


def plain_message(exc: BaseException, what: str) -> str:
    """One line for the user: a core error's own words, else what failed and that the details are in the log."""
    if isinstance(exc, ValueError) and str(exc).strip():  # StoreError, HeadError, ... carry a message for the user
        text = " ".join(str(exc).split())
        return text if len(text) <= 500 else text[:500] + "…"
    return (
        f"{what} failed unexpectedly ({type(exc).__name__}). This is a bug, not something you did; the details are "
        "in the server log. Reload the page to carry on."
    )


@contextmanager
def guard(what: str):
    """Catch any error at a page's boundary: show one plain line (st.error), log the traceback on the server.

    Streamlit's own st.stop() / st.rerun() are BaseExceptions, not Exceptions, so they pass through.
    """
    try:
        yield
    except (Exception, RecursionError, MemoryError) as exc:
        log.exception("%s failed", what)
        st.error(plain_message(exc, what))


LIVE_TURN_WAIT_S = 2.0  # then a run goes ahead without its turn: a stuck run never stops the others


def taking_turns(fn: Callable) -> Callable:
    """Run a live fragment (a colour pick, a stroke) when it is its turn: at most `MLX_LIVE_TURNS` (1) at once.

    Every session's script runs in a thread of one interpreter. When a class of 30 picks and draws at once, a dozen
    runs at a time made each other several times slower (GIL hand-offs: in `python -m bench --only class`, the
    slowest requests of a burst took 110-160 ms); taking turns, each run goes at full speed and the same bursts
    ended within ~55 ms. A run that waits longer than LIVE_TURN_WAIT_S goes ahead anyway, so one slow run can
    delay the others but never stop them."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        with live_turn():
            return fn(*args, **kwargs)

    return run


@contextmanager
def live_turn() -> Iterator[None]:
    """The turn of taking_turns as a block, for a live part that needs it only for its heavy work (the Draw page:
    a stroke the browser answers is a widget update and does not queue behind the class's predictions)."""
    turns = _live_turns(get_settings().live_turns)
    got_turn = turns.acquire(timeout=LIVE_TURN_WAIT_S)
    try:
        yield
    finally:
        if got_turn:
            turns.release()


@functools.lru_cache(maxsize=4)
def _live_turns(n: int) -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(n)


def live_fragment(what: str) -> Callable:
    """A page's live part (it reruns on every pick or stroke): a fragment that takes turns, inside the error
    boundary."""

    def wrap(fn: Callable) -> Callable:
        return st.fragment(taking_turns(guarded(what)(fn)))

    return wrap


def guarded(what: str) -> Callable:
    """The same boundary as a decorator, for fragments (a fragment rerun does not pass through the page's guard)."""

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(*args, **kwargs):
            with guard(what):
                return fn(*args, **kwargs)

        return run

    return wrap
