"""Page state in one typed object per page: `page_state("draw", DrawState)` is the session's DrawState, created on
first use under one session key. Widget values stay under their own `<page>.<name>` keys, where Streamlit keeps them."""

from __future__ import annotations

from typing import TypeVar

import streamlit as st

T = TypeVar("T")


def page_state(name: str, cls: type[T]) -> T:
    """The session's state object for page `name` (a new `cls()` on first use, or when an older object of another
    type sits under the key, e.g. after a deploy changed the class)."""
    current = st.session_state.get(name)
    if not isinstance(current, cls):
        current = cls()
        st.session_state[name] = current
    return current
