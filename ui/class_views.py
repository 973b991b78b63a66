"""The Class page's sections: open or join a class (a join link pre-fills the code), share samples with it, the
teacher's live view (roster, pooled counts and the runs as they land: a fragment on a timer), the runs side by side,
shared Teach projects, and the teacher's controls. Every read and write asks core.store.access."""

from __future__ import annotations

import html
import io
from dataclasses import asdict, dataclass, field

import pandas as pd
import segno
import streamlit as st

from core.engine import jobs, queues
from core.figures import classroom as class_figures
from core.store import access, class_projects, classroom, identity, samples
from ui.common import guarded
from ui.confirm import confirm_delete
from ui.presenter import presenter_mode
from ui.state import page_state

FAILURES = (ValueError, samples.SampleStoreError, OSError)  # NotYours and ClassError are ValueErrors: plain words
LINK_PARAM = "class"  # the join link's query parameter: <app>/Class?class=K7QM3XPA
LIVE_SECONDS = 3  # the teacher's live view asks the store (one query) and the queue this often
STUDENT_LIVE_SECONDS = 10  # a student's runs view: 40 of them polling every 3 s would cost the class's live pages
PROJECTOR_FONT_PX = 20  # the runs chart's type in presenter mode, for the back of a room


@dataclass
class ClassState:
    """Everything the Class page remembers, under st.session_state["class"]."""

    link_code: str = ""  # the join link's code last put into the join form (once: the form is the user's after)
    runs_seen: tuple[str, int, int] = ("", -1, -1)  # (class, runs, members) when `runs` was read
    runs: list[dict] = field(default_factory=list)  # the class's runs as last read (read again when the count moves)


def class_state() -> ClassState:
    return page_state("class", ClassState)


# ---------------------------------------------------------------- the join link and its QR code


def join_link(code: str) -> str:
    """The address that opens this app's Class page with the join form filled in with `code`."""
    base = (st.context.url or "").split("?")[0].rstrip("/")
    if not base.endswith("/Class"):
        base = f"{base}/Class"
    return f"{base}?{LINK_PARAM}={code}"


def qr_code(link: str) -> segno.QRCode:
    return segno.make(link, error="m")  # medium error correction: still read off a dim projector


def qr_png(link: str) -> bytes:
    """The link's QR code as a PNG, with modules large enough for a phone at the back of the room."""
    out = io.BytesIO()
    qr_code(link).save(out, kind="png", scale=8, border=2)
    return out.getvalue()


def code_from_link() -> str:
    """The join code in the address (`?class=`), checked; "" when there is none. A malformed one is said plainly and
    dropped from the address; whether that class exists is said only on Join, where wrong codes are counted."""
    raw = st.query_params.get(LINK_PARAM)
    if raw is None:
        return ""
    try:
        return classroom.check_code(raw)
    except classroom.ClassError as exc:
        st.warning(f"The link's class code is not a join code. {exc}")  # the address's text itself is never shown
        del st.query_params[LINK_PARAM]
        return ""


def prefill_join_code(state: ClassState, code: str) -> None:
    """Put the link's code into the join form, once per link (after that the field is the user's to edit)."""
    if code and code != state.link_code:
        st.session_state["class.code"] = code
        state.link_code = code


def link_for_another_class(info: access.ClassView, code: str) -> None:
    """Already in a class with a code in the address: the same class needs nothing; another one is said."""
    if code and code != info.code:
        st.info(f"The link you opened is for the class {code}: leave this class below to join that one instead.")
    elif code:
        del st.query_params[LINK_PARAM]


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
                if LINK_PARAM in st.query_params:
                    del st.query_params[LINK_PARAM]
                st.rerun()
            except FAILURES as exc:
                st.error(str(exc))


def class_caption(info: access.ClassView, members: int) -> str:
    joining = "join at this app's Class page with this code" if info.joining else "joining is closed"
    return f"{info.name} · {members} of at most {info.max_members} member(s) · {joining}."


def header(info: access.ClassView, owner: str) -> None:
    """The join code in large type (for the projector), the join link and its QR code for the teacher, and leaving."""
    left, right = st.columns([3, 1])
    shown = f"{info.code[:4]}-{info.code[4:]}" if len(info.code) == 8 else info.code
    left.markdown(
        f"<div data-testid='class-code' style='font-size:3em;font-weight:700;letter-spacing:0.2em'>{shown}</div>",
        unsafe_allow_html=True,  # the code is CODE_ALPHABET characters only (classroom.check_code)
    )
    if not info.is_teacher:  # the teacher's caption is in the live view, with the member count as it changes
        left.caption(class_caption(info, info.members))
    if info.is_teacher and info.joining:
        link = join_link(info.code)
        left.markdown("Or open the link, or scan the code with a phone's camera:")
        left.code(link, language=None)
        if link.startswith(("http://", "https://")):  # a phone needs the whole address (unknown outside a browser)
            right.image(qr_png(link), caption="The join link", width=220)
    if right.button("Leave the class", key="class.leave"):
        try:
            access.leave_class(owner, info.code)
            identity.set_class_code(owner, "")
            st.rerun()
        except FAILURES as exc:
            st.error(str(exc))


def sharing(info: access.ClassView, owner: str) -> None:
    """Private by default: a member adds their samples to the class's pool, or takes them out. The teacher's view
    counts the pool instead (live_view); a teacher with samples of their own may still add them."""
    mine = access.shared_count(owner, info.code)
    own = sum(access.color_label_counts(owner).values()) + sum(access.drawing_counts(owner).values())
    if not info.is_teacher:
        st.subheader("Your samples and the class's pool")
        pooled_colors = access.pool_size(owner, info.code, "colors")
        pooled_drawings = access.pool_size(owner, info.code, "drawings")
        c1, c2, c3 = st.columns(3)
        c1.metric(
            "Your samples", own, help="Colour labels (Colors page) and drawings (Draw page); private until shared."
        )
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
    if not info.is_teacher:
        st.caption(
            "The pool is every member's shared colour labels and drawings, as the Coding Train crowdsourced its "
            "colour data. Retrain a model on it in the Retrain studio (tick “My class's pool”); your result joins "
            "the class's runs below."
        )


def _class_runs(state: ClassState, owner: str, code: str, count: int, members: int) -> list[dict]:
    """The class's runs, read again only when the class, its run count or its member count (a nickname becomes
    "(left)") moved: a live view polls the counts, not the rows."""
    if (code, count, members) != state.runs_seen:
        state.runs = [asdict(r) for r in access.class_runs(owner, code)]
        state.runs_seen = (code, count, members)
    return state.runs


def size_for_projector(figure) -> None:
    """Type, ticks and dots that read from the back of a room (Streamlit's theme would draw them at 12-14 px)."""
    px = PROJECTOR_FONT_PX
    figure.update_layout(font_size=px, title_font_size=px + 4, legend_font_size=px, hoverlabel_font_size=px)
    figure.update_layout(height=figure.layout.height + 80, legend_orientation="h", legend_y=-0.35)
    figure.update_xaxes(tickfont_size=px, title_font_size=px)
    figure.update_yaxes(tickfont_size=px)
    figure.update_traces(marker_size=16)


def show_runs(info: access.ClassView, owner: str, total: int, members: int) -> None:
    """Every member's recorded retrain runs, side by side, with the spread per model."""
    st.subheader("Everyone's runs, side by side")
    rows = _class_runs(class_state(), owner, info.code, total, members)
    if not rows:
        st.info("No runs yet. Each member's finished retrain in the Retrain studio appears here as it lands.")
        return
    if total > len(rows):
        st.caption(f"Showing the newest {len(rows):,} of the class's {total:,} runs; the oldest are left out.")
    figure = class_figures.class_runs_strip(rows, "" if info.is_teacher else info.nickname)
    if info.is_teacher or presenter_mode():  # the teacher's page is the one on the projector
        size_for_projector(figure)
    st.plotly_chart(figure, key="class.runs")
    lines = []
    for family in sorted({r["family"] for r in rows}):
        s = classroom.spread([r for r in rows if r["family"] == family])
        lines.append(
            f"**{family}**: {s['runs']} run(s), accuracy from {s['min']:.0%} to {s['max']:.0%} (median {s['median']:.0%})"
        )
    st.markdown("  \n".join(lines))
    st.caption("The same recipe gives different accuracies from run to run (the seed, the split, the data shared).")
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="class.table")


@st.fragment(run_every=STUDENT_LIVE_SECONDS)
@guarded("The class's runs")
def live_runs(info: access.ClassView, owner: str) -> None:
    """A member's view of the runs, refreshed as they land (one count per tick; the rows only when it moves)."""
    show_runs(info, owner, access.class_run_count(owner, info.code), info.members)


# ---------------------------------------------------------------- the teacher's live view


def training_status(activity: jobs.OwnerActivity | None, row: access.RosterRow) -> str:
    """One member's training, in words: queued (with the place), training (with the share done), or how it ended."""
    if activity is None:
        return "done" if row.runs else "—"
    if activity.status == "queued":
        return f"queued ({activity.position} in line)" if activity.position else "queued"
    if activity.status == "running":
        return f"training {activity.progress:.0%}"
    return activity.status


def roster_html(roster: access.Roster, statuses: dict[str, str]) -> str:
    """The roster as a table in em units (presenter mode scales it with the page); every nickname escaped."""
    cells = "".join(
        "<tr>"
        f"<td style='font-weight:600'>{html.escape(m.nickname)}</td>"
        f"<td>{m.shared_colors + m.shared_drawings}</td>"
        f"<td>{html.escape(statuses.get(m.member_id, '—'))}</td>"
        f"<td>{'—' if m.last_accuracy is None else f'{m.last_accuracy:.0%}'}"
        f"{f' ({html.escape(m.last_family)})' if m.last_family else ''}</td>"
        "</tr>"
        for m in roster.members
        if not m.is_teacher
    )
    head = "".join(
        f"<th style='text-align:left'>{h}</th>" for h in ("Student", "Samples shared", "Training", "Last accuracy")
    )
    return (
        "<table data-testid='class-roster' style='width:100%;font-size:1.25em;border-collapse:collapse'>"
        f"<thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>"
    )


@st.fragment(run_every=LIVE_SECONDS)
@guarded("The live view of the class")
def live_view(info: access.ClassView, owner: str) -> None:
    """The teacher's live view, refreshed every LIVE_SECONDS: the pooled counts, the roster (joined, samples shared,
    training, last accuracy) and the runs side by side as they land. One query, plus the queue's in-memory status."""
    roster = access.class_roster(owner, info.code)
    students = [m for m in roster.members if not m.is_teacher]
    st.caption(class_caption(info, len(roster.members)))
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Students", len(students), help=f"at most {info.max_members} members, you included")
    c2.metric("Colour labels pooled", sum(m.shared_colors for m in roster.members))
    c3.metric("Drawings pooled", sum(m.shared_drawings for m in roster.members))
    c4.metric("Runs", roster.class_runs)
    st.subheader("Who is here")
    if students:
        statuses = {m.member_id: training_status(queues.get_queue().activity_of(m.member_id), m) for m in students}
        st.markdown(roster_html(roster, statuses), unsafe_allow_html=True)  # nicknames escaped in roster_html
    else:
        st.info("Nobody has joined yet: show the code, the link or the QR code above.")
    show_runs(info, owner, roster.class_runs, len(roster.members))


# ---------------------------------------------------------------- Teach projects shared with the class


def shared_projects(info: access.ClassView, owner: str) -> None:
    """The Teach projects members shared with the class, read-only: who, what kind, its classes and samples."""
    projects = class_projects.class_projects(owner, info.code)
    if not projects:
        return
    st.subheader("Teach projects shared with the class")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "project": p.name,
                    "shared by": "you" if p.mine else p.nickname,
                    "kind": p.kind,
                    "classes (samples)": ", ".join(f"{c} ({n})" for c, n in zip(p.classes, p.samples)),
                    "samples": sum(p.samples),
                }
                for p in projects
            ]
        ),
        hide_index=True,
        key="class.projects",
    )
    st.caption("Shared from the Teach page by their owners: only they can change or stop sharing a project.")


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
