"""Class: a teacher opens a class and shows its join code, link and QR code; students join, pool their samples, and
see everyone's retrain runs side by side; the teacher watches the class live (who joined, shared, is training, how
their last run did) and closes joining, sets the member limit, removes members and pooled samples. Every read and
write asks core.store.access with the user's identity."""

import streamlit as st

from core.store import access, identity
from ui import class_views as views
from ui.common import guard, page_header
from ui.identity import owner

page_header(
    "Class",
    "👩‍🏫",
    "Learn together: the teacher opens a class and shows its join code; everyone joins, adds their colour labels and "
    "drawings to the class's pool, retrains on it, and sees every run of the class side by side.",
)
with guard("The Class page"):
    me = owner()
    state = views.class_state()
    linked = views.code_from_link()  # ?class=CODE: a join link or its QR code
    code = identity.class_code(me)
    info = None
    if code:
        try:
            info = access.my_class(me, code)  # rebuilt from the store on every run: the same in every tab
        except views.FAILURES as exc:
            st.warning(f"{exc} Join a class again below.")
            identity.set_class_code(me, "")
            info = None
    if info is None:
        views.prefill_join_code(state, linked)
        views.open_or_join(me)
    else:
        views.link_for_another_class(info, linked)
        views.header(info, me)
        if info.is_teacher:
            views.live_view(info, me)  # reruns itself every few seconds: roster, pooled counts, runs
        views.sharing(info, me)
        if not info.is_teacher:
            views.live_runs(info, me)
        views.shared_projects(info, me)
        views.teacher_controls(info, me)
