"""One Delete button for every page: it asks once more before anything of the user's is deleted."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from core.store import samples


def confirm_delete(
    container, what: str, key: str, delete: Callable[[], None], disabled: bool = False, help: str | None = None
) -> None:
    """A Delete button that asks once more ("Delete <what>? It cannot be undone."), then calls `delete()`; a
    plain error (not yours, already gone) is shown in place."""
    asking = f"{key}.asking.{what}"  # per thing: choosing another one asks afresh
    if not st.session_state.get(asking):
        if container.button("Delete", key=key, disabled=disabled, help=help):
            st.session_state[asking] = True
            st.rerun()
        return
    container.warning(f"Delete {what}? It cannot be undone.")
    yes, no = container.columns(2)
    if yes.button("Yes, delete", key=f"{key}.yes", type="primary"):
        st.session_state[asking] = False
        try:
            delete()
        except (ValueError, samples.SampleStoreError, OSError) as exc:
            container.error(str(exc))
            return
        st.rerun()
    if no.button("Keep it", key=f"{key}.no"):
        st.session_state[asking] = False
        st.rerun()
