"""The Class page's sections: open or join a class, share samples with it, every member's runs side by side, and the
teacher's controls (joining, the member limit, members, the pool). Every read and write asks core.store.access."""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd
import streamlit as st

from core.figures import classroom as class_figures
from core.store import access, classroom, identity, samples
from ui.confirm import confirm_delete

FAILURES = (ValueError, samples.SampleStoreError, OSError)  # NotYours and ClassError are ValueErrors: plain words


def _address() -> str:
    """The browser's address as Streamlit sees it ("" when unknown): wrong join codes are limited per address too."""
    try:
        return str(st.context.ip_address or "")
    except AttributeError:  # an older Streamlit
        return ""


def open_or_join(owner: str) -> None:
    """Not in a class yet: a teacher opens one, a student joins one with its code."""
    teach, join = st.columns(2)
    with teach.form("class.open_form"):
        st.markdown("**I teach: open a class**")
        name = st.text_input("Class name", max_chars=60, key="class.name", placeholder="e.g. ML 101, Tuesday")
        cap = st.number_input(
            "Members at most (you included)", 2, classroom.MAX_MEMBERS, classroom.DEFAULT_MAX_MEMBERS, key="class.cap"
        )
        if st.form_submit_button("Open a class", type="primary"):
            try:
                info = access.open_class(owner, name, int(cap))
                identity.set_class_code(owner, info.code)
                st.rerun()
            except FAILURES as exc:
                st.error(str(exc))
    with join.form("class.join_form"):
        st.markdown("**I learn: join a class**")
        code = st.text_input("Join code (on the teacher's screen)", max_chars=12, key="class.code")
        nickname = st.text_input("Your nickname in the class", max_chars=24, key="class.nickname")
        if st.form_submit_button("Join", type="primary"):
            try:
                info = access.join_class(owner, code, nickname, _address())
                identity.set_class_code(owner, info.code)
                st.rerun()
            except FAILURES as exc:
                st.error(str(exc))


def header(info: access.ClassView, owner: str) -> None:
    """The join code in large type (for the projector), the member count, and leaving."""
    left, right = st.columns([3, 1])
    shown = f"{info.code[:4]}-{info.code[4:]}" if len(info.code) == 8 else info.code
    left.markdown(
        f"<div data-testid='class-code' style='font-size:3em;font-weight:700;letter-spacing:0.2em'>{shown}</div>",
        unsafe_allow_html=True,  # the code is CODE_ALPHABET characters only (classroom.check_code)
    )
    joining = "join at this app's Class page with this code" if info.joining else "joining is closed"
    left.caption(f"{info.name} · {info.members} of at most {info.max_members} member(s) · {joining}.")
    if right.button("Leave the class", key="class.leave"):
        try:
            access.leave_class(owner, info.code)
            identity.set_class_code(owner, "")
            st.rerun()
        except FAILURES as exc:
            st.error(str(exc))


def sharing(info: access.ClassView, owner: str) -> None:
    """Private by default: the student adds their samples to the class's pool, or takes them out."""
    st.subheader("Your samples and the class's pool")
    mine = access.shared_count(owner, info.code)
    own = sum(access.color_label_counts(owner).values()) + sum(access.drawing_counts(owner).values())
    pooled_colors = access.pool_size(owner, info.code, "colors")
    pooled_drawings = access.pool_size(owner, info.code, "drawings")
    c1, c2, c3 = st.columns(3)
    c1.metric("Your samples", own, help="Colour labels (Colors page) and drawings (Draw page); private until shared.")
    c2.metric("Shared by you", mine)
    c3.metric(
        "In the class's pool",
        pooled_colors + pooled_drawings,
        help=f"{pooled_colors} colour labels, {pooled_drawings} drawings",
    )
    if mine < own and st.button("Add all my samples to the class", key="class.share", type="primary"):
        access.share_samples(owner, info.code)
        st.rerun()
    if mine and st.button("Take my samples out of the class", key="class.unshare"):
        access.unshare_samples(owner, info.code)
        st.rerun()
    st.caption(
        "The pool is every member's shared colour labels and drawings, as the Coding Train crowdsourced its colour "
        "data. Retrain a model on it in the Retrain studio (tick “My class's pool”); your result joins the class's "
        "runs below."
    )


def runs(info: access.ClassView, owner: str) -> None:
    """Every member's recorded retrain runs, side by side, with the spread per model."""
    st.subheader("Everyone's runs, side by side")
    rows = [asdict(r) for r in access.class_runs(owner, info.code)]
    if not rows:
        st.info("No runs yet. Each member's finished retrain in the Retrain studio appears here.")
        return
    total = access.class_run_count(owner, info.code)
    if total > len(rows):
        st.caption(f"Showing the newest {len(rows):,} of the class's {total:,} runs; the oldest are left out.")
    st.plotly_chart(class_figures.class_runs_strip(rows, info.nickname), key="class.runs")
    lines = []
    for family in sorted({r["family"] for r in rows}):
        s = classroom.spread([r for r in rows if r["family"] == family])
        lines.append(
            f"**{family}**: {s['runs']} run(s), accuracy from {s['min']:.0%} to {s['max']:.0%} (median {s['median']:.0%})"
        )
    st.markdown("  \n".join(lines))
    st.caption("The same recipe gives different accuracies from run to run (the seed, the split, the data shared).")
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="class.table")


def teacher_controls(info: access.ClassView, owner: str) -> None:
    """The teacher runs the class: joining, the member limit, the name, members and the pool."""
    if not info.is_teacher:
        return
    st.subheader("Run the class")
    c1, c2, c3 = st.columns(3)
    try:
        if c1.button("Close joining" if info.joining else "Reopen joining", key="class.joining"):
            access.set_joining(owner, info.code, not info.joining)
            st.rerun()
        cap = c2.number_input("Members at most", 2, classroom.MAX_MEMBERS, info.max_members, key="class.set_cap")
        if c2.button("Set the limit", key="class.cap_set") and int(cap) != info.max_members:
            access.set_member_cap(owner, info.code, int(cap))
            st.rerun()
        name = c3.text_input("Class name", info.name, max_chars=60, key="class.rename_to")
        if c3.button("Rename", key="class.rename") and name != info.name:
            access.rename_class(owner, info.code, name)
            st.rerun()
    except FAILURES as exc:
        st.error(str(exc))
    members = [m for m in access.class_members(owner, info.code) if not m.is_teacher]
    if members:
        by_name = {m.nickname: m for m in members}
        left, mid, right = st.columns([2, 2, 1])
        who = left.selectbox("Member", list(by_name), key="class.member")
        drop = mid.checkbox("…and delete what they shared", key="class.member.samples")
        member_id = by_name[who].member_id
        confirm_delete(
            right,
            f"{who} from the class" + (" with their shared samples" if drop else ""),
            "class.remove_member",
            lambda: access.remove_member(owner, info.code, member_id, with_samples=drop),
        )
    pool = access.class_pool(owner, info.code, "colors") + access.class_pool(owner, info.code, "drawings")
    if pool:
        options = {
            f"{p.kind[:-1] if p.kind == 'drawings' else 'colour'} #{p.id} “{p.label}” by {p.nickname}": p for p in pool
        }
        left, right = st.columns([4, 1])
        chosen = left.selectbox("A pooled sample", list(options), key="class.pooled")
        sample = options[chosen]
        if sample.rgb is not None:
            left.markdown(
                f"<div style='height:24px;width:48px;background:rgb{sample.rgb}'></div>", unsafe_allow_html=True
            )
        confirm_delete(
            right,
            chosen,
            "class.remove_sample",
            lambda: access.remove_pooled_sample(owner, info.code, sample.kind, sample.id),
        )
