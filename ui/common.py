"""Page setup shared by every page: title, demo mode, and plain error display."""

from __future__ import annotations

import streamlit as st

from core.settings import get_settings

DEMO_SEED = 1234  # demo mode fixes every random seed to this, so a class sees the same thing as the teacher


def demo_mode() -> bool:
    """Demo mode: `?demo=1` in the URL, or MLX_DEMO_MODE=1 on the server. Hides expert controls, fixes seeds."""
    if st.query_params.get("demo") in {"1", "true", "yes"}:
        st.session_state["demo"] = True
    return bool(st.session_state.get("demo") or get_settings().demo_mode)


def page_header(title: str, icon: str, intro: str) -> None:
    st.set_page_config(page_title=f"{title} · ML explainer", page_icon=icon, layout="wide")
    st.title(f"{icon} {title}")
    st.caption(intro)
    if demo_mode():
        st.info("Demo mode: seeds are fixed and expert controls are hidden.", icon="🎓")
