"""The Retrain studio's self-contained views: the words of its job panel (ui.job_panel), the last run's results
(with the divergence view), the versions list and the comparison of two versions. Used by pages/4_Retrain.py."""

import numpy as np
import streamlit as st

from core.engine import compare
from core.engine import fit as model_fit
from core.engine import registry as families
from core.engine.jobs import JobSnapshot
from core.engine.retrain_outcome import RetrainOutcome
from core.families.colors import model as colors_core
from core.families.text import model as text_core
from core.figures import common as common_figures
from core.figures import training as training_figures
from core.store import access, classroom, samples, topology
from core.store import models as store
from ui.common import guarded
from ui.confirm import confirm_delete
from ui.job_panel import PanelText, training_curves
from ui.models import active_label, active_path, load_model_folder, set_active

TRAINING_PANEL = PanelText(
    key="retrain",
    name="The training",
    heading="Training now",
    finishing="Trained: scoring the new and the old model on the validation data, then saving the version…",
    curves=True,
)


def _sample_view(outcome: RetrainOutcome) -> str:
    """How this outcome's inputs are shown: its family's way (an unknown family: images)."""
    family = families.FAMILIES.get(outcome.family)
    return family.sample_view if family is not None else "image"


def _show_examples(outcome: RetrainOutcome, true_i: int, pred_i: int) -> None:
    items = outcome.cell_samples(true_i, pred_i)
    names = outcome.class_names
    st.markdown(f"**True {names[true_i]}, predicted {names[pred_i]}** ({len(items)} shown)")
    if not items:
        st.caption("No validation sample landed in this cell.")
    elif _sample_view(outcome) == "swatch":
        swatches = "".join(
            f"<div title='{h}' style='width:44px;height:44px;border-radius:6px;border:1px solid #999;"
            f"background:{h}'></div>"
            for h in items
        )
        st.markdown(
            f"<div data-testid='misclassified' style='display:flex;flex-wrap:wrap;gap:6px'>{swatches}</div>",
            unsafe_allow_html=True,
        )
    elif _sample_view(outcome) == "image":
        st.image(list(items), width=56, caption=[f"#{i + 1}" for i in range(len(items))])
    else:
        for item in items[:12]:
            shown = item.context.replace("\n", "⏎")
            st.code(
                f"…{shown}  → expected {text_core.show_char(item.expected)!r}, "
                f"predicted {text_core.show_char(item.predicted)!r}",
                language=None,
            )


def _from_chart(job_id: str, labels: list[str]) -> None:
    """A click on a heatmap cell picks the same cell in the selectbox below it."""
    event = st.session_state.get(f"retrain.confusion.{job_id}")
    points = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else []
    if not points and event is not None and hasattr(event, "selection"):
        points = event.selection.get("points", [])
    if points:
        x, y = points[0].get("x"), points[0].get("y")
        if x in labels and y in labels:
            st.session_state[f"retrain.cell.{job_id}"] = (labels.index(y), labels.index(x))


def _divergence(curve: dict, job_id: str) -> None:
    """The loss the diverged run recorded, up to and including the step where it diverged."""
    where = curve["divergence"]
    st.plotly_chart(training_figures.divergence_curve(curve), key=f"retrain.divergence.{job_id}")
    place = f"epoch {where['epoch']}" + (f", batch {where['batch']}" if where.get("batch") else "")
    value = training_figures.divergence_label(where["value"])
    shown = "every batch's loss (Keras' running mean within its epoch) and " if curve["batch_logs"] else ""
    why = (
        f"The dotted line is the ceiling, {where['ceiling']:.3g}: a loss far worse than guessing."
        if where.get("reason") == "ceiling"
        else f"A loss of {value} cannot be drawn, so its cross sits just above the highest loss, labelled."
    )
    st.caption(
        f"The loss up to the divergence: {shown}each finished epoch's. In {place} the {where['metric']} became "
        f"**{value}** (the red ✕). {why}"
    )
    rows = [
        {"epoch": r.get("epoch"), "batch": str(r["batch"]) if "batch" in r else "end of epoch", "loss": r["loss"]}
        for r in (curve["batch_logs"][-6:] or curve["epoch_logs"][-5:])
        if "loss" in r
    ]
    if where.get("batch") is None:  # caught at the end of an epoch: that epoch is not in the finished ones
        rows.append({"epoch": where["epoch"], "batch": "end of epoch", "loss": where["value"]})
    if rows:
        st.caption("The last losses recorded, the diverging one last:")
        st.dataframe(
            [{**r, "loss": training_figures.divergence_label(r["loss"])} for r in rows],
            hide_index=True,
            key=f"retrain.divergence.table.{job_id}",
        )


def results(snap: JobSnapshot) -> None:
    """The last finished run: its curves or divergence, scores, per-class bars and confusion matrix (how it ended,
    when not well, is said by its job panel: ui.job_panel)."""
    outcome: RetrainOutcome | None = snap.result
    job_id = snap.id
    st.subheader("Last run")
    st.caption(snap.title)
    for note in [*snap.notes, *(outcome.notes if outcome is not None else ())]:
        st.info(note)
    curve = snap.curve
    if snap.status == "diverged" and curve and curve.get("divergence"):
        _divergence(curve, job_id)
    elif snap.epoch_logs or snap.batch_logs:
        training_curves(snap, "retrain")
    if outcome is None:
        return
    after, before = outcome.after, outcome.before
    seen = outcome.before_seen  # the model before was trained on these validation samples: no fair comparison
    st.success(
        f"Saved as version **{outcome.version_id}** ({outcome.epochs_run} epochs, {outcome.seconds:.0f} s). "
        f"Compared with the {outcome.base} on the same {after.n:,} validation samples"
        + (", which it has seen." if seen else ".")
    )
    if seen:
        st.warning(seen, icon="⚖️")
    m1, m2, m3 = st.columns(3)
    m1.metric("Validation accuracy, retrained", f"{after.accuracy:.1%}")
    if before is not None:
        m2.metric(
            "…the model before (has seen them)" if seen else "…the model before",
            f"{before.accuracy:.1%}",
            delta=f"{(after.accuracy - before.accuracy):+.1%}",
            delta_color="off" if seen else "normal",  # no red arrow for a comparison that is not fair
        )
    m3.metric("Balanced accuracy", f"{after.balanced_accuracy:.1%}")
    family = outcome.family
    if st.button("Use this version on every page (for you only)", key=f"retrain.use.{job_id}", type="primary"):
        set_active(family, outcome.version_path)
        st.toast(f"The {family} pages now use {outcome.version_id}.")
        st.rerun()
    labels = list(outcome.class_names)
    st.plotly_chart(
        training_figures.before_after_bars(after.per_class, before.per_class if before else None),
        key=f"retrain.perclass.{job_id}",
    )
    left, right = st.columns([3, 2])
    with left:
        st.plotly_chart(
            training_figures.clickable_confusion(
                after.confusion, labels, "Confusion matrix (validation): click a cell"
            ),
            key=f"retrain.confusion.{job_id}",
            on_select=lambda: _from_chart(job_id, labels),
            selection_mode="points",
        )
    with right:
        counts = {(t, p): n for t, p, n in after.errors()}
        cells = list(counts)
        if not cells:
            st.success("No validation sample was misclassified.")
            return
        key = f"retrain.cell.{job_id}"
        if st.session_state.get(key) not in cells:
            st.session_state[key] = cells[0]
        cell = st.selectbox(
            "Misclassified samples",
            cells,
            key=key,
            format_func=lambda c: f"true {labels[c[0]]} → predicted {labels[c[1]]} ({counts[c]})",
        )
        _show_examples(outcome, *cell)


def versions(family: str, session: str, name: str) -> list[access.VersionRow]:
    """The versions list with its actions: only the user's own, and any a classmate shared with their class
    (core.store.access). Returns its rows for the comparison below it."""
    st.subheader(f"Versions of the {name} model")
    active = active_path(family)
    st.write(
        f"Your pages use: **{active_label(family)}**. The version you choose is for you only, and stays chosen after a reload."
    )
    if active != store.shipped_model_dir(family) and st.button("Go back to the shipped model", key="retrain.shipped"):
        set_active(family, None)
        st.rerun()
    try:
        rows = access.versions(session, family)
    except (topology.StoreError, samples.SampleStoreError) as exc:
        rows = []
        st.error(str(exc))
    if not rows:
        st.caption("No saved versions yet: every finished training adds one.")
        return rows
    st.dataframe(
        [
            {
                "version": r.version_id,
                "active": "✅" if r.path == str(active) else "",
                "validation accuracy": None if r.val_accuracy is None else round(r.val_accuracy, 3),
                "before": None if r.before_val_accuracy is None else round(r.before_val_accuracy, 3),
                "from": r.retrained_from,
                "yours": "yes" if r.mine else "shared with your class",
            }
            for r in rows
        ],
        hide_index=True,
        width="stretch",
    )
    by_id = {r.version_id: r for r in rows}
    chosen = st.selectbox("Version", list(by_id), key=f"retrain.version.{family}")
    row = by_id[chosen]
    b1, b2, b3 = st.columns(3)
    if b1.button("Make active", key="retrain.activate", disabled=row.path == str(active)):
        set_active(family, row.path)
        st.rerun()
    try:
        b2.download_button(
            "Download (.zip: model.json + weights)",
            data=access.zip_version(session, family, chosen),
            file_name=f"{family}-{chosen}.zip",
            mime="application/zip",
            key="retrain.download",
        )
    except (topology.StoreError, OSError):  # a file of the version vanished or cannot be read
        b2.error(f"Version {chosen} cannot be downloaded: one of its files is missing or cannot be read.")
    confirm_delete(
        b3,
        f"version {chosen}",
        "retrain.delete",
        lambda: _delete_version(session, family, row, active),
        disabled=not row.mine,
        help="Only your own versions: a classmate's shared version is theirs to delete.",
    )
    return rows


def _delete_version(session: str, family: str, row: access.VersionRow, active) -> None:
    access.delete_version(session, family, row.version_id)
    if row.path == str(active):
        set_active(family, None)
    st.toast(f"Deleted {row.version_id}.")


MAX_SHOWN = 24  # disagreements drawn as swatches, images or snippets; the table lists up to 200


def _truth_table(c, which: np.ndarray, describe) -> list[dict]:
    names = c.class_names
    out = []
    for i in which:
        a_ok, b_ok = c.pred_a[i] == c.y_true[i], c.pred_b[i] == c.y_true[i]
        out.append(
            {
                "input": describe(int(i)),
                "truth": names[c.y_true[i]],
                "A predicts": names[c.pred_a[i]],
                "B predicts": names[c.pred_b[i]],
                "right": "A" if a_ok else "B" if b_ok else "neither",
            }
        )
    return out


def _show_disagreements(family: str, vc) -> None:
    c = vc.comparison
    st.markdown(f"**Where they disagree** ({c.n_disagree:,} of {c.n:,} inputs)")
    if not c.n_disagree:
        st.success("The two models predict the same class for every input.")
        return
    # Inputs where exactly one model is right first: those are the ones that tell the models apart.
    one_right = (c.pred_a == c.y_true) ^ (c.pred_b == c.y_true)
    order = c.disagreements[np.argsort(~one_right[c.disagreements], kind="stable")]
    names = c.class_names
    if families.get(family).sample_view == "text":
        seq = vc.inputs.shape[1]

        def context(i: int) -> str:
            window, pos = divmod(i, seq)
            ids = vc.inputs[window, max(0, pos - 40) : pos + 1]
            return "".join(names[k] for k in ids).replace("␣", " ").replace("⏎", "⏎ ")

        for i in order[:12]:
            st.code(
                f"…{context(int(i))}  → truth {names[c.y_true[i]]!r}, A {names[c.pred_a[i]]!r}, "
                f"B {names[c.pred_b[i]]!r}",
                language=None,
            )
        return
    if families.get(family).sample_view == "swatch":
        hexes = [colors_core.to_hex(np.asarray(rgb).round().astype(int)) for rgb in vc.inputs]
        swatches = "".join(
            f"<div title='{hexes[i]}: truth {names[c.y_true[i]]}, A {names[c.pred_a[i]]}, B "
            f"{names[c.pred_b[i]]}' style='width:44px;height:44px;border-radius:6px;border:1px solid #999;"
            f"background:{hexes[i]}'></div>"
            for i in order[:MAX_SHOWN]
        )
        st.markdown(
            f"<div data-testid='disagreements' style='display:flex;flex-wrap:wrap;gap:6px'>{swatches}</div>",
            unsafe_allow_html=True,
        )
        describe = hexes.__getitem__
    else:
        st.image(
            [vc.inputs[i] for i in order[:MAX_SHOWN]],
            width=72,
            caption=[
                f"{names[c.y_true[i]]}: A {names[c.pred_a[i]]}, B {names[c.pred_b[i]]}" for i in order[:MAX_SHOWN]
            ],
        )

        def describe(i: int) -> str:
            return f"drawing #{int(vc.comparison.kept[i]) + 1}"

    st.dataframe(
        _truth_table(c, order[:200], describe),
        hide_index=True,
        width="stretch",
        key=f"retrain.compare.table.{family}",
    )


def _show_comparison(family: str, vc) -> None:
    c = vc.comparison
    st.caption(f"Inputs: {vc.description}.")
    for note in c.notes:
        st.info(note)
    acc_a, acc_b = c.report_a.accuracy, c.report_b.accuracy
    m1, m2, m3 = st.columns(3)
    m1.metric(f"Accuracy of A ({vc.label_a})", f"{acc_a:.1%}")
    m2.metric(f"Accuracy of B ({vc.label_b})", f"{acc_b:.1%}", delta=f"{acc_b - acc_a:+.1%}")
    m3.metric("They disagree on", f"{c.n_disagree / c.n:.1%}", help=f"{c.n_disagree:,} of {c.n:,} inputs")
    st.caption(" · ".join(f"{k}: {v:,}" for k, v in c.outcome_counts().items()))
    labels, conf_a, conf_b = c.class_names, np.asarray(c.report_a.confusion), np.asarray(c.report_b.confusion)
    which = ""
    if families.get(family).sample_view == "text":  # 65 characters are too many to read: the most frequent ones
        top = np.argsort(-np.bincount(c.y_true, minlength=len(labels)), kind="stable")[:12]
        labels, conf_a, conf_b = [labels[i] for i in top], conf_a[np.ix_(top, top)], conf_b[np.ix_(top, top)]
        which = " (the 12 most frequent characters)"
    left, right = st.columns(2)
    left.plotly_chart(
        common_figures.confusion_heatmap(conf_a, labels, f"A: {vc.label_a}{which}"),
        key=f"retrain.compare.conf_a.{family}",
    )
    right.plotly_chart(
        common_figures.confusion_heatmap(conf_b, labels, f"B: {vc.label_b}{which}"),
        key=f"retrain.compare.conf_b.{family}",
    )
    _show_disagreements(family, vc)
    if families.get(family).sample_view != "text":
        st.plotly_chart(
            training_figures.agreement_heatmap(
                c.agreement(), c.class_names, c.class_names, "A's prediction against B's"
            ),
            key=f"retrain.compare.agreement.{family}",
        )


@guarded("The comparison")
def compare_panel(family: str, rows: list[access.VersionRow]) -> None:
    """Run two versions on the same held-out inputs and show where they differ."""
    st.subheader("Compare two versions on the same inputs")
    if families.get(family).builtin_available is not None and not families.get(family).builtin_available():
        st.info(
            "Text models are not compared here: the built-in corpus is not on this server (the Text page can "
            "download it), so there is no held-out text to run them on."
        )
        return
    options = {str(store.shipped_model_dir(family)): "the shipped model"}
    options.update({r.path: f"version {r.version_id}" + ("" if r.mine else " (shared with your class)") for r in rows})
    if len(options) < 2:
        st.caption("Train a version first: then you can run it and the shipped model on the same held-out inputs.")
        return
    paths = list(options)
    a_col, b_col = st.columns(2)
    path_a = a_col.selectbox("Model A", paths, index=0, format_func=options.get, key=f"retrain.compare.a.{family}")
    path_b = b_col.selectbox("Model B", paths, index=1, format_func=options.get, key=f"retrain.compare.b.{family}")
    result_key = f"retrain.compare.result.{family}"
    if st.button("Compare on the held-out inputs", key=f"retrain.compare.run.{family}"):
        st.session_state.pop(result_key, None)
        if path_a == path_b:
            st.warning("Model A and model B are the same model: pick two different ones to compare.")
        else:
            try:
                with st.spinner("Running both models on the held-out inputs…"):
                    labels = (options[path_a], options[path_b])
                    vc = compare.compare_versions(family, path_a, path_b, load_model_folder, labels)
                st.session_state[result_key] = (path_a, path_b, vc)
            except compare.CompareError as exc:
                st.error(str(exc))
    saved = st.session_state.get(result_key)
    if saved is not None and saved[:2] == (path_a, path_b):
        _show_comparison(family, saved[2])


@st.cache_data(show_spinner=False, max_entries=32)
def _example(family: str, path: str, stamp: float) -> dict:
    """The family's example answer for one model folder, computed once per folder and save time (the shapes example
    reads the shipped drawings; every rerun of the studio would otherwise do it again)."""
    del stamp  # cache key only
    return families.get(family).example(load_model_folder(path))


@guarded("The example")
def example_line(family: str) -> None:
    """One line: what the model in use says about the family's example input (its contract's `example`).

    Read-only: a version that does not load or fit is left for the form's checks to name, so nothing is shown."""
    try:
        loaded = load_model_folder(active_path(family))
    except topology.StoreError:
        return
    if model_fit.fit_problem(family, loaded.model_json) is not None:
        return
    ex = _example(family, str(loaded.path), (loaded.path / store.MODEL_JSON).stat().st_mtime)
    st.caption(f"Example: {ex['input']} → **{ex['label']}** ({ex['p']:.0%}).")


def class_pool_size(class_code: str, kind: str, owner: str) -> int:
    """How many samples of this kind the class's members have shared (0 for a non-member)."""
    try:
        return access.pool_size(owner, class_code, kind)
    except (access.NotYours, classroom.ClassError):
        return 0


@guarded("Sending the run to your class")
def send_to_class(snap: JobSnapshot, class_code: str, owner: str) -> None:
    """A finished run of a class member joins the class's side-by-side results (once: the store keys it by version)."""
    outcome: RetrainOutcome | None = snap.result
    if not class_code or outcome is None or not outcome.version_id:
        return
    try:
        new = access.record_run(owner, class_code, outcome.run_record())
    except (classroom.ClassError, topology.StoreError):
        return  # left the class since (or deleted the version): the run stays yours only
    st.caption(("Sent to" if new else "In") + " your class's results: see them side by side on the Class page.")


# The form's widgets (ui key suffix) and how each takes its value from a job's request (core.engine.jobs).
_FORM_FROM_REQUEST = {
    "epochs": ("epochs", int),
    "batch": ("batch_size", int),
    "lr": ("learning_rate", lambda v: f"{float(v):g}"),
    "optimizer": ("optimizer", str),
    "val": ("validation_fraction", float),
    "seed": ("seed", int),
    "start": ("fresh", lambda v: "fresh" if v else "copy"),
    "builtin": ("use_builtin", bool),
    "user": ("use_user_samples", bool),
    "per_class": ("samples_per_class", int),
    "chars": ("text_chars", int),
    "name": ("version_name", str),
}


def restore_form(snap: JobSnapshot | None, available) -> None:
    """Rebuild the setup form from the user's job, before its widgets are drawn: while the job runs or waits (in
    every tab and after a reload: the form shows what is training, locked), and once in a session that opens after
    it ended (a reload after training finds the family and settings of the result it shows). A job is the queue's,
    keyed by the user's identity, so this needs nothing from the session."""
    request = snap.request if snap is not None else None
    if not request or request.get("family") not in available:
        return
    state = st.session_state
    if not snap.active and state.get("retrain.restored") == snap.id:
        return  # restored once already: the user's own changes since stay
    family = request["family"]
    state["retrain.family"] = family
    for name, (field_name, convert) in _FORM_FROM_REQUEST.items():
        if request.get(field_name) is not None:
            state[f"retrain.{family}.{name}"] = convert(request[field_name])
    state["retrain.restored"] = snap.id
