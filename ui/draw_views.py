"""The Draw page's self-contained views: the every-layer CNN view, the samples browser, the training notes
and small display helpers. Used by pages/2_Draw.py."""

import html
from dataclasses import dataclass
from functools import partial

import numpy as np
import streamlit as st

from core.families.shapes import explain as cnn
from core.families.shapes import explain_dense as dense
from core.families.shapes import explain_figures as cnn_fig
from core.families.shapes import model as shapes
from core.families.shapes import verdict as shape_verdict
from core.figures import training as training_figures
from core.store import access, samples
from ui.confirm import confirm_delete
from ui.identity import owner


@dataclass
class DrawState:
    """Everything the Draw page remembers for a session, in one object (session key "draw")."""

    canvas_round: int = 0  # the canvas widget's generation: Clear gives a new key, so a fresh, empty canvas
    image: np.ndarray | None = None  # the last drawing as the model's 28x28 input, None when there is none
    canvas_url: str | None = None  # the canvas' last PNG data URL: its 28x28 is made only when asked for
    saved: str = ""  # the last save's confirmation, shown once after the page reruns to list the new sample


def grey(values: np.ndarray) -> np.ndarray:
    """0-1 floats as 0-255 grey pixels."""
    return np.clip(np.asarray(values) * 255, 0, 255).astype(np.uint8)


def image_for(array: np.ndarray, size: int) -> np.ndarray:
    """Upscale a small grey image with square pixels, so 28x28 stays crisp."""
    a = np.asarray(array)
    k = max(1, size // max(a.shape))
    return np.kron(a, np.ones((k, k), dtype=a.dtype))


def show_answer(name: str, confidence: float | None = None) -> None:
    """The page's answer in large type: a class name with its probability, or "none of these"."""
    name = html.escape(name)  # a version's class names come from people's drawing labels: text, never markup
    if confidence is None:
        st.markdown(f"<div><b data-testid='draw-top' style='font-size:1.6em'>{name}</b></div>", unsafe_allow_html=True)
    else:
        st.markdown(
            f"<div>It looks like a <b data-testid='draw-top' style='font-size:1.6em'>{name}</b> "
            f"({confidence:.0%} sure)</div>",
            unsafe_allow_html=True,
        )


def _input_name(layer: str, names: list[str]) -> str:
    at = names.index(layer)
    return f"{names[at - 1]}'s output" if at else "the drawing scaled to 0–1"


def _default(key: str, low: int, high: int, value: int) -> None:
    """Start a 1-based number input at `value`, and bring back one whose stored value no longer fits (another
    model's layer of another size)."""
    stored = st.session_state.get(key)
    if not isinstance(stored, int) or not low <= stored <= high:
        st.session_state[key] = value


def _take_click(chart_key: str, row_key: str, col_key: str, shape: tuple[int, int]) -> None:
    """A click on the feature map moves the row and column inputs to the clicked cell."""
    cell = cnn_fig.clicked_cell(st.session_state.get(chart_key), shape)
    if cell is not None:
        st.session_state[row_key], st.session_state[col_key] = cell[0] + 1, cell[1] + 1


def explore_layers(model, activations: cnn.Activations) -> None:
    """CNN Explainer's view: every conv and pool layer's maps, then any one cell's arithmetic with its numbers."""
    st.subheader("Every layer, one neuron at a time")
    st.caption(
        "Your drawing through every convolution (conv) and max-pooling (pool) layer, one tile per filter, each tile "
        "scaled to its own strongest response. Each layer reads the one before it: a conv cell is a 3×3 window of "
        "every map of the layer before, multiplied by its filter's weights and summed; a pool cell is the largest of "
        "a 2×2 window, so each pool halves the maps."
    )
    names = list(activations.outputs)
    for column, name in zip(st.columns(len(names)), names):
        h, w, n = activations.outputs[name].shape
        column.image(cnn_fig.layer_mosaic(activations.outputs[name]), caption=f"{name} · {h}×{w}×{n}", width="stretch")
    layer = st.radio(
        "Layer to open",
        names,
        horizontal=True,
        key="draw.cnn.layer",
        format_func=lambda n: f"{n} ({'×'.join(map(str, activations.outputs[n].shape))})",
    )
    out = activations.outputs[layer]  # (H, W, filters)
    h, w, n = out.shape
    kind = cnn.layer_kind(model, layer)
    what = "Filter" if kind == "conv" else "Channel"
    keys = {k: f"draw.cnn.{k}.{layer}" for k in ("filter", "row", "col", "map", "channel")}
    left, right = st.columns([1, 1], gap="large")
    with left:
        _default(keys["filter"], 1, n, shapes.strongest_filter(out)[0] + 1)
        chosen = st.number_input(f"{what} (1–{n})", 1, n, step=1, key=keys["filter"]) - 1
        peak_row, peak_col = np.unravel_index(int(np.argmax(out[:, :, chosen])), (h, w))
        _default(keys["row"], 1, h, int(peak_row) + 1)
        _default(keys["col"], 1, w, int(peak_col) + 1)
        row, col = st.session_state[keys["row"]] - 1, st.session_state[keys["col"]] - 1
        st.plotly_chart(
            cnn_fig.feature_map_figure(out[:, :, chosen], (row, col), f"{layer}, {what.lower()} {chosen + 1}"),
            key=keys["map"],
            on_select=lambda: _take_click(keys["map"], keys["row"], keys["col"], (h, w)),
            selection_mode="points",
        )
        r1, r2 = st.columns(2)
        row = r1.number_input(f"Row (1–{h})", 1, h, step=1, key=keys["row"]) - 1
        col = r2.number_input(f"Column (1–{w})", 1, w, step=1, key=keys["col"]) - 1
        st.caption("Click a cell of the map, or set the row and column here.")
    with right:
        cell = cnn.cell_arithmetic(model, activations, layer, row, col, chosen)
        st.markdown(
            f"**{layer}, {what.lower()} {chosen + 1}, row {row + 1}, column {col + 1} = {cell.output:.4f}**  \n"
            f"The layer's own output there: {float(out[row, col, chosen]):.4f}."
        )
        source = _input_name(layer, names)
        if kind == "conv":
            _explain_conv(cell, source, keys["channel"])
        else:
            kh, kw = cell.window.shape
            st.plotly_chart(cnn_fig.pool_cell_figure(cell), key="draw.cnn.pool", width="content")
            st.caption(
                f"The {kh}×{kw} window at rows {cell.top + 1}–{cell.top + kh}, columns {cell.left + 1}–{cell.left + kw} "
                f"of {source}, channel {chosen + 1}; the outlined value is the largest and passes on."
            )
            st.code(cnn.pool_equation(cell), language=None, wrap_lines=True)


def _explain_conv(cell: cnn.ConvCell, source: str, channel_key: str) -> None:
    kh, kw, n_in = cell.window.shape
    channel = 0
    if n_in > 1:
        _default(channel_key, 1, n_in, int(np.argmax(np.abs(cell.channel_sums))) + 1)
        channel = (
            st.number_input(
                f"Input channel to show (1–{n_in})",
                1,
                n_in,
                step=1,
                key=channel_key,
                help=f"The kernel has one {kh}×{kw} slice per map of the layer before; the bars show every slice's share.",
            )
            - 1
        )
    st.plotly_chart(cnn_fig.conv_cell_figure(cell, channel), key="draw.cnn.conv")
    st.caption(
        f"The {kh}×{kw} window at rows {cell.top + 1}–{cell.top + kh}, columns {cell.left + 1}–{cell.left + kw} of "
        f"{source}"
        + (f", map {channel + 1} of {n_in}" if n_in > 1 else "")
        + "."
        + (
            " Cells marked pad lie outside the input: 'same' padding puts zeros there so the map keeps its size."
            if cell.outside.any()
            else ""
        )
    )
    st.code("\n".join(cnn.conv_equation(cell, channel)), language=None, wrap_lines=True)
    if n_in > 1:
        st.plotly_chart(cnn_fig.channel_shares_figure(cell, channel), key="draw.cnn.shares")


def model_captions(label: str, shown_names: list[str], meta: dict) -> None:
    """Which model answers, its classes, and how well it did on drawings it never saw."""
    st.caption(f"Model: {label} ({len(shown_names)} classes: {', '.join(shown_names)}).")
    st.caption(shape_verdict.measured_summary(meta), help="Measured by `python -m core train shapes`; see the README.")


def save_sample_form() -> tuple[str, bool]:
    """The class name to save the drawing under, and whether "Save as a sample" was pressed in this run."""
    st.subheader("Save this drawing as a sample")
    n1, n2 = st.columns([2, 1], vertical_alignment="bottom")
    label = n1.text_input(
        "Class name (a built-in one or a new one)", key="draw.new_label", placeholder="e.g. heart", max_chars=64
    )
    return label, n2.button("Save as a sample", key="draw.save")


def _delete_drawing(drawing_id: int) -> None:
    access.delete_drawing(owner(), drawing_id)  # only the user's own (NotYours otherwise)


def samples_browser() -> None:
    """The gathered samples: counts per class, one class's latest drawings with a delete button each, and the
    .npz export."""
    st.header("Your samples")
    st.write(
        "Like Teachable Machine: save drawings per class (a built-in class or a new one). The Retrain studio can "
        "retrain the network with them; export them to test any model with `python -m core evaluate shapes FILE.npz`."
    )
    try:
        counts = access.drawing_counts(owner())
    except samples.SampleStoreError as exc:
        st.error(f"{exc} Samples cannot be shown or saved until this is fixed.")
        counts = None
    if counts is not None:
        if not counts:
            st.info("No samples yet. Draw something above and save it.")
        else:
            st.write(", ".join(f"**{k}** {v}" for k, v in counts.items()))
            chosen = st.selectbox("Show the samples of", list(counts), key="draw.show_class")
            try:
                rows = access.drawings(owner(), chosen)
            except samples.SampleStoreError as exc:
                st.error(str(exc))
                rows = []
            shown = rows[-30:]
            if len(rows) > len(shown):
                st.caption(f"The latest {len(shown)} of {len(rows)}.")
            grid = st.columns(10)
            for i, row in enumerate(shown):
                with grid[i % 10]:
                    st.image(image_for(row.image, 56), caption=row.created_at[5:16].replace("T", " "), width=56)
                    confirm_delete(
                        st, f"this {row.label} drawing", f"draw.delete.{row.id}", partial(_delete_drawing, row.id)
                    )
            try:
                st.download_button(
                    "Download all samples as .npz",
                    access.export_drawings_npz(owner()),
                    "drawings.npz",
                    "application/octet-stream",
                    key="draw.export",
                )
            except samples.SampleStoreError as exc:
                st.error(str(exc))


def training_notes(meta: dict) -> None:
    """How the shipped model was trained: its data, held-out recall per class and accuracy per epoch, in a
    closed expander."""
    with st.expander("How the shipped model was trained"):
        st.caption(meta.get("training_data", ""))
        table = shape_verdict.heldout_table(meta)
        if table:
            st.write(
                "Recall per class on held-out real drawings, and how many real drawings each figure rests on. Classes "
                "with a handful of real drawings also learned from generated ones; their figures are barely measured."
            )
            st.dataframe(table, hide_index=True)
        st.caption("Drawings: Quick, Draw! dataset by Google (CC BY 4.0).")
        if meta.get("history"):
            st.plotly_chart(
                training_figures.history_curves(meta["history"], "accuracy", "Accuracy per epoch"), key="draw.history"
            )


def explore_dense(model, image, class_names: list[str]) -> None:
    """From the last pooled maps to the answer: flatten, every dense layer one unit at a time (weighted sum + bias,
    then the activation), and the output layer's logits through the softmax, with every number."""
    acts = dense.dense_activations(model, image)
    h, w, c = acts.source_shape
    st.subheader("From the last maps to the answer")
    st.caption(
        f"**Flatten** lays {acts.source}'s {h}×{w}×{c} numbers out in one row of {acts.flat.size:,} (row by row, every "
        "channel of a cell in turn). Each **dense** unit multiplies every number of the row before it by its own "
        "weight, adds them up with a bias, then applies its activation. The output layer's sums are the "
        "**logits**; the **softmax** turns them into probabilities that add up to 1."
    )
    names = list(acts.dense)
    layer = st.radio(
        "Dense layer to open",
        names,
        horizontal=True,
        key="draw.dense.layer",
        format_func=lambda n: f"{n} ({acts.dense[n].size} units)",
    )
    values = acts.logits if layer == names[-1] else acts.dense[layer]
    units = values.size
    unit_key = f"draw.dense.unit.{layer}"
    _default(unit_key, 1, units, int(np.argmax(values)) + 1)
    left, right = st.columns([1, 1], gap="large")
    with left:
        title = f"{layer}: the {units} logits" if layer == names[-1] else f"{layer}: its {units} outputs"
        chosen = st.number_input(f"Unit (1–{units})", 1, units, step=1, key=unit_key) - 1
        st.plotly_chart(cnn_fig.dense_layer_figure(values, chosen, title), key=f"draw.dense.bars.{layer}")
    with right:
        cell = dense.dense_unit(model, acts, layer, chosen)
        shown = cell.pre_activation if cell.activation == "softmax" else cell.output
        st.markdown(
            f"**{layer}, unit {chosen + 1} = {shown:.4f}**  \n"
            f"Recomputed here from the layer's weights: {cell.pre_activation:.4f} before its activation "
            f"({cell.activation})."
        )
        st.plotly_chart(cnn_fig.dense_terms_figure(cell), key="draw.dense.terms")
        st.code("\n".join(dense.dense_equation(cell, acts.source_shape)), language=None, wrap_lines=True)
    step = dense.softmax_step(acts.logits)
    names_shown = (
        list(class_names)
        if len(class_names) == acts.logits.size
        else [f"class {i + 1}" for i in range(acts.logits.size)]
    )
    st.markdown("**The softmax, with its numbers**")
    st.plotly_chart(cnn_fig.softmax_figure(step, names_shown), key="draw.dense.softmax")
    top = float(step.logits.max())
    rows = [
        f"{n}: logit {z:.3f} → minus the largest ({top:.3f}) = {s:.3f} → e^ = {e:.4f} → ÷ {step.total:.4f} = {p:.1%}"
        for n, z, s, e, p in zip(names_shown, step.logits, step.shifted, step.exps, step.probabilities, strict=True)
    ]
    st.code("\n".join(rows), language=None, wrap_lines=True)
    st.caption(
        f"Softmax recomputed here against the model's own output: largest difference {dense.check_softmax(acts):.1e}."
    )
