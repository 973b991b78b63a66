"""Draw: a CNN names your drawing live, shows how the drawing is prepared and what its first layer sees, and
gathers your drawings as samples, as Teachable Machine does."""

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from core import cnn_explain as cnn
from core import figures as fig
from core import samples, shapes
from core.figures import cnn as cnn_fig
from ui.canvas import CanvasError, canvas_rgba
from ui.common import guard, guarded, page_header
from ui.models import active_label, load_active

CANVAS_PX = 320
STROKE_PX = 10

page_header(
    "Draw",
    "✏️",
    "Draw a shape: a small convolutional network (conv → pool → … → dense → softmax) names it while you draw. It "
    "knows circle, square, triangle, star, line, hexagon, octagon and zigzag (the Quick, Draw! names), and says "
    "“none of these” when your drawing is none of them.",
)
loaded = load_active("shapes")
if loaded is None:
    st.stop()
model = loaded.model
class_names = shapes.class_names_for(loaded.metadata, model)
shown_names = shapes.display_names(class_names)
min_confidence = shapes.min_confidence_for(loaded.metadata)
st.caption(f"Model: {active_label('shapes')} ({len(class_names)} classes: {', '.join(shown_names)}).")
st.caption(shapes.measured_summary(loaded.metadata), help="Measured by `python -m core train shapes`; see the README.")

state = st.session_state
state.setdefault("draw.canvas_round", 0)


def _clear_canvas() -> None:
    # A new key gives a fresh, empty canvas component.
    state["draw.canvas_round"] += 1
    state["draw.image"] = None


def _save_sample(image: np.ndarray | None, label: str) -> None:
    """Validate, save, and report in plain words; nothing is lost on failure (the drawing stays on the canvas)."""
    if image is None:
        st.warning("There is no drawing to save: draw a shape first.")
        return
    try:
        label = shapes.check_class_name(label)
        samples.add_drawing(image, label)
    except ValueError as exc:
        st.error(str(exc))
        return
    except samples.SampleStoreError as exc:
        st.error(f"{exc} Your drawing is still on the canvas; try again once the database can be written.")
        return
    st.toast(f"Saved as a sample of “{label}”.")
    st.success(f"Saved this drawing as a sample of “{label}”.")


def _image_for(array: np.ndarray, size: int) -> np.ndarray:
    """Upscale a small grey image with square pixels, so 28x28 stays crisp."""
    a = np.asarray(array)
    k = max(1, size // max(a.shape))
    return np.kron(a, np.ones((k, k), dtype=a.dtype))


def _show_answer(name: str, confidence: float | None = None) -> None:
    """The page's answer in large type: a class name with its probability, or "none of these"."""
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
    stored = state.get(key)
    if not isinstance(stored, int) or not low <= stored <= high:
        state[key] = value


def _take_click(chart_key: str, row_key: str, col_key: str, shape: tuple[int, int]) -> None:
    """A click on the feature map moves the row and column inputs to the clicked cell."""
    cell = cnn_fig.clicked_cell(state.get(chart_key), shape)
    if cell is not None:
        state[row_key], state[col_key] = cell[0] + 1, cell[1] + 1


def _explore_layers(activations: cnn.Activations) -> None:
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
        row, col = state[keys["row"]] - 1, state[keys["col"]] - 1
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


@st.fragment
@guarded("The live drawing")
def live_drawing() -> None:
    left, right = st.columns([1, 1], gap="large")
    with left:
        result = st_canvas(
            stroke_width=STROKE_PX,
            stroke_color="#000000",
            background_color="#ffffff",
            height=CANVAS_PX,
            width=CANVAS_PX,
            drawing_mode="freedraw",
            return_image_data=True,
            key=f"draw.canvas.{state['draw.canvas_round']}",
        )
        st.button("Clear the canvas", on_click=_clear_canvas, key="draw.clear", icon="🧽")
    try:
        rgba = canvas_rgba(result)  # the PNG header's size is checked before anything is decoded
    except CanvasError as exc:
        with right:
            st.warning(str(exc))
        return
    steps = shapes.preprocess_steps(rgba) if rgba is not None else None
    image = steps.image if steps is not None and steps.status == "ok" else None
    state["draw.image"] = image
    with right:
        if steps is None or steps.status == "blank":
            st.markdown("<h3 data-testid='draw-empty'>Draw a shape</h3>", unsafe_allow_html=True)
            st.caption("The prediction appears here as soon as you lift the mouse.")
            return
        if steps.status in {"dot", "scribble"}:  # no shape to name: say so before the model is asked
            _show_answer(shapes.NONE_OF_THESE)
            st.warning(steps.message)
            return
        probs = shapes.predict_proba(model, image)
        said = shapes.verdict(probs, class_names, min_confidence)
        _show_answer(said.name, None if said.rejected else said.confidence)
        if said.rejected:
            st.caption(said.message)
        st.plotly_chart(fig.probability_bars(probs, shown_names, "Softmax over the classes"), key="draw.bars")
        others = [c for i, c in enumerate(class_names) if i != said.index and c != shapes.OTHER]
        c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
        truth = c1.selectbox("Wrong? It was a …", others, key="draw.truth")
        if c2.button("Save the correction", key="draw.correct"):
            _save_sample(image, truth)

    st.subheader("How the drawing becomes the network's input")
    s1, s2, s3, s4 = st.columns(4)
    s1.image(np.clip(steps.ink * 255, 0, 255).astype(np.uint8), caption="1 · the canvas as ink", width=150)
    s2.image(np.clip(steps.crop * 255, 0, 255).astype(np.uint8), caption="2 · cropped to the ink", width=150)
    s3.image(_image_for(image, 150), caption="3 · scaled to 28×28, centred", width=150)
    s4.image(
        fig.value_image(image / 255.0, scale=5),
        caption="4 · what the model reads: 784 numbers, 0 (dark) to 1 (yellow)",
        width=150,
    )
    st.caption(
        "White strokes on black, the drawing scaled to fill the frame with a small margin: the Quick, Draw! "
        "convention, so public Quick, Draw! bitmaps can test and train this model."
    )
    st.subheader("What the first convolution layer sees")
    activations = cnn.layer_activations(model, image)  # every conv and pool layer, one forward pass
    first_conv = next(n for n in activations.outputs if cnn.layer_kind(model, n) == "conv")
    maps = activations.outputs[first_conv]
    strongest, peak = shapes.strongest_filter(maps)
    st.image(
        fig.feature_map_mosaic(maps, columns=8, scale=4),
        caption=(
            f"{first_conv}: {maps.shape[-1]} feature maps of {maps.shape[0]}×{maps.shape[1]}, filters 1–{maps.shape[-1]} "
            f"in reading order. The strongest response is filter {strongest + 1} "
            f"(activation {peak:.2f})."
        ),
    )
    st.caption(
        "Each tile is one 3×3 filter slid over the drawing (yellow = its strongest response, dark = none). Some "
        "light up on edges of one direction, some on corners or on the stroke itself; the next layers combine them "
        "into shapes."
    )
    # Off until asked for: drawing six layers' pictures and the cell view on every stroke doubled the server's CPU
    # per drawing (bench.app), and most drawings are made to see the answer.
    if st.toggle("Open every layer, one neuron at a time", key="draw.layers_open"):
        with guard("The layer-by-layer view"):  # a layer it cannot explain shows one line; the page carries on
            _explore_layers(activations)

    st.subheader("Save this drawing as a sample")
    n1, n2 = st.columns([2, 1], vertical_alignment="bottom")
    label = n1.text_input(
        "Class name (a built-in one or a new one)",
        key="draw.new_label",
        placeholder="e.g. heart",
        max_chars=64,
    )
    if n2.button("Save as a sample", key="draw.save"):
        _save_sample(image, label)


live_drawing()

# ---------------------------------------------------------------- the gathered samples
st.header("Your samples")
st.write(
    "Like Teachable Machine: save drawings per class (a built-in class or a new one). The Retrain studio can "
    "retrain the network with them; export them to test any model with `python -m core evaluate shapes FILE.npz`."
)
try:
    counts = samples.drawing_counts()
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
            rows = samples.drawings(chosen)
        except samples.SampleStoreError as exc:
            st.error(str(exc))
            rows = []
        shown = rows[-30:]
        if len(rows) > len(shown):
            st.caption(f"The latest {len(shown)} of {len(rows)}.")
        grid = st.columns(10)
        for i, (sample_id, img, _, created) in enumerate(shown):
            with grid[i % 10]:
                st.image(_image_for(img, 56), caption=created[5:16].replace("T", " "), width=56)
                if st.button("Delete", key=f"draw.delete.{sample_id}"):
                    try:
                        samples.delete_drawing(sample_id)
                        st.rerun()
                    except samples.SampleStoreError as exc:
                        st.error(str(exc))
        try:
            st.download_button(
                "Download all samples as .npz",
                samples.export_drawings_npz(),
                "drawings.npz",
                "application/octet-stream",
                key="draw.export",
            )
        except samples.SampleStoreError as exc:
            st.error(str(exc))

with st.expander("How the shipped model was trained"):
    meta = loaded.metadata
    st.caption(meta.get("training_data", ""))
    metrics = meta.get("metrics", {})
    table = shapes.heldout_table(meta)
    if table:
        st.write(
            "Recall per class on held-out real drawings, and how many real drawings each figure rests on. Classes "
            "with a handful of real drawings also learned from generated ones; their figures are barely measured."
        )
        st.dataframe(table, hide_index=True)
    st.caption("Drawings: Quick, Draw! dataset by Google (CC BY 4.0).")
    if meta.get("history"):
        st.plotly_chart(fig.history_curves(meta["history"], "accuracy", "Accuracy per epoch"), key="draw.history")
