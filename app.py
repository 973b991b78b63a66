"""The app's entry point: one navigation menu, in sections, over the page files in pages/.

Imports no TensorFlow, so the home page appears at once; a model page imports it when it is first opened.
Run it with `streamlit run app.py`.
"""

from __future__ import annotations

from typing import NamedTuple

import streamlit as st

from ui.common import demo_mode
from ui.presenter import apply_presenter_mode


class Entry(NamedTuple):
    """One page in the menu."""

    path: str  # the page file, relative to this file
    title: str  # the menu's label (st.navigation names a page by this, not by its file name)
    icon: str
    url_path: str  # the page's address, e.g. /Colors; "" for the home page, served at /


# Section → pages. "" puts Home at the top, above the named sections. The url paths are the ones the pages had when
# Streamlit named them after their files, so bookmarks, the browser tests and the benchmarks keep working.
NAVIGATION: dict[str, list[Entry]] = {
    "": [Entry("pages/0_Home.py", "Home", "🧠", "")],
    "Explore": [
        Entry("pages/1_Colors.py", "Colors", "🎨", "Colors"),
        Entry("pages/2_Draw.py", "Draw", "✏️", "Draw"),
        Entry("pages/3_Text.py", "Text", "📜", "Text"),
    ],
    "Build": [
        Entry("pages/4_Retrain.py", "Retrain", "🏋️", "Retrain"),
        Entry("pages/5_Inspect.py", "Inspect", "🔬", "Inspect"),
        Entry("pages/6_Vector_search.py", "Vector search", "🧭", "Vector_search"),
        Entry("pages/7_Teach.py", "Teach", "🧑‍🏫", "Teach"),
    ],
    "Together": [Entry("pages/8_Class.py", "Class", "👩‍🏫", "Class")],
}


def build_navigation() -> st.Page:
    """The menu: every entry as an st.Page, in its section; Home is the default page."""
    return st.navigation(
        {
            section: [
                st.Page(e.path, title=e.title, icon=e.icon, url_path=e.url_path or None, default=not e.url_path)
                for e in entries
            ]
            for section, entries in NAVIGATION.items()
        }
    )


# Streamlit runs this file as __main__; the home page and the tests import it for NAVIGATION without drawing anything.
if __name__ == "__main__":
    st.set_page_config(page_title="ML explainer", page_icon="🧠", layout="wide")
    page = build_navigation()
    demo_mode()  # remembers ?demo=1 for the session, or puts it back when the menu has dropped it
    apply_presenter_mode()  # ?present=1 or the sidebar toggle: large type, sidebar collapsed; kept like demo mode
    page.run()
