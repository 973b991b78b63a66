"""Streamlit AppTest helpers: a page's AppTest with a timeout that allows for the TensorFlow import, the same as a
returning user, and what a page shows."""

from __future__ import annotations

from tests.helpers.paths import REPO

APPTEST_TIMEOUT = 60  # seconds; the first page run imports TensorFlow and loads a model
TEST_OWNER = "u" + "0" * 20  # an owner id as core.store.identity makes them


def app_test(page_file: str):
    """An AppTest for a page file, with a timeout that allows for the TensorFlow import."""
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(REPO / page_file), default_timeout=APPTEST_TIMEOUT)


def app_test_as(page_file: str, owner: str = TEST_OWNER):
    """An AppTest whose session is the returning user `owner` (as if their browser sent its identity cookie)."""
    from ui.identity import Identity

    at = app_test(page_file)
    at.session_state["identity"] = Identity(owner, "cookie")
    return at


def top_family(at) -> str:
    """The colour family the Colors page names as its answer."""
    html = next(m.value for m in at.markdown if "top-family" in m.value)
    return html.split("data-testid='top-family'")[1].split(">")[1].split("<")[0]
