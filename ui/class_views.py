"""The Class page's sections: open or join a class, share samples with it, and every member's runs side by side."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.figures import classroom as class_figures
from core.store import classroom, identity, samples


def open_or_join(owner: str) -> None:
    """Not in a class yet: a teacher opens one, a student joins one with its code."""
    teach, join = st.columns(2)
    with teach.form("class.open_form"):
        st.markdown("**I teach: open a class**")
        name = st.text_input("Class name", max_chars=60, key="class.name", placeholder="e.g. ML 101, Tuesday")
        if st.form_submit_button("Open a class", type="primary"):
            try:
                info = classroom.open_class(owner, name)
                identity.set_class_code(owner, info.code)
                st.rerun()
            except (classroom.ClassError, samples.SampleStoreError, OSError) as exc:
                st.error(str(exc))
    with join.form("class.join_form"):
        st.markdown("**I learn: join a class**")
        code = st.text_input("Join code (on the teacher's screen)", max_chars=12, key="class.code")
        nickname = st.text_input("Your nickname in the class", max_chars=24, key="class.nickname")
        if st.form_submit_button("Join", type="primary"):
            try:
                info = classroom.join_class(owner, code, nickname)
                identity.set_class_code(owner, info.code)
                st.rerun()
            except (classroom.ClassError, samples.SampleStoreError, OSError) as exc:
                st.error(str(exc))


def header(info: classroom.ClassInfo, owner: str) -> None:
    """The join code in large type (for the projector), the member count, and leaving."""
    left, right = st.columns([3, 1])
    left.markdown(
        f"<div data-testid='class-code' style='font-size:3em;font-weight:700;letter-spacing:0.2em'>{info.code}</div>",
        unsafe_allow_html=True,  # the code is CODE_ALPHABET characters only (classroom.check_code)
    )
    left.caption(f"{info.name} · {info.members} member(s) · join at this app's Class page with this code.")
    if right.button("Leave the class", key="class.leave"):
        try:
            classroom.leave_class(owner, info.code)
            identity.set_class_code(owner, "")
            st.rerun()
        except (classroom.ClassError, samples.SampleStoreError, OSError) as exc:
            st.error(str(exc))


def sharing(info: classroom.ClassInfo, owner: str) -> None:
    """Private by default: the student adds their samples to the class's pool, or takes them out."""
    st.subheader("Your samples and the class's pool")
    mine = samples.shared_counts(owner, info.code)
    own = sum(samples.color_label_counts(owner=owner).values()) + sum(samples.drawing_counts(owner=owner).values())
    pooled_colors, pooled_drawings = len(samples.class_color_labels(info.code)), len(samples.class_drawings(info.code))
    c1, c2, c3 = st.columns(3)
    c1.metric("Your samples", own, help="Colour labels (Colors page) and drawings (Draw page); private until shared.")
    c2.metric("Shared by you", mine)
    c3.metric(
        "In the class's pool",
        pooled_colors + pooled_drawings,
        help=f"{pooled_colors} colour labels, {pooled_drawings} drawings",
    )
    if mine < own and st.button("Add all my samples to the class", key="class.share", type="primary"):
        samples.share_with_class(owner, info.code)
        st.rerun()
    if mine and st.button("Take my samples out of the class", key="class.unshare"):
        samples.share_with_class(owner, "")
        st.rerun()
    st.caption(
        "The pool is every member's shared colour labels and drawings, as the Coding Train crowdsourced its colour "
        "data. Retrain a model on it in the Retrain studio (tick “My class's pool”); your result joins the class's "
        "runs below."
    )


def runs(info: classroom.ClassInfo, owner: str) -> None:
    """Every member's recorded retrain runs, side by side, with the spread per model."""
    st.subheader("Everyone's runs, side by side")
    rows = classroom.results(info.code)
    if not rows:
        st.info("No runs yet. Each member's finished retrain in the Retrain studio appears here.")
        return
    st.plotly_chart(class_figures.class_runs_strip(rows, classroom.nickname_of(owner, info.code)), key="class.runs")
    lines = []
    for family in sorted({r["family"] for r in rows}):
        s = classroom.spread([r for r in rows if r["family"] == family])
        lines.append(
            f"**{family}**: {s['runs']} run(s), accuracy from {s['min']:.0%} to {s['max']:.0%} (median {s['median']:.0%})"
        )
    st.markdown("  \n".join(lines))
    st.caption("The same recipe gives different accuracies from run to run (the seed, the split, the data shared).")
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="class.table")
