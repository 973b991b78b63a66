"""Draw: a CNN names your drawing live, shows how the drawing is prepared and what its first layer sees, and
gathers your drawings as samples, as Teachable Machine does."""

import numpy as np
import streamlit as st

from core.families.shapes import explain as cnn
from core.families.shapes import figures as shape_figures
from core.families.shapes import model as shapes
from core.families.shapes import verdict as shape_verdict
from core.figures import common as common_figures
from core.inputs import canvas as shape_preprocess
from core.store import access, samples
from ui import draw_live, draw_views
from ui.canvas import CanvasError, canvas_rgba, decode_canvas_url, drawing_canvas
from ui.common import guard, guarded, live_turn, page_header
from ui.identity import owner
from ui.models import active_label, load_active, uses_shipped
from ui.state import page_state

CANVAS_PX = 320
STROKE_PX = 10
CANVAS_BOX = "draw-canvas-fit"  # the canvas' container key: the in-browser answer reads the drawing from inside it

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
shown_names = shape_verdict.display_names(class_names)
min_confidence = shape_verdict.min_confidence_for(loaded.metadata)
draw_views.model_captions(active_label("shapes"), shown_names, loaded.metadata)

state = page_state("draw", draw_views.DrawState)  # everything this page remembers, in one typed object


def _clear_canvas() -> None:
    # A new key gives a fresh, empty canvas component.
    state.canvas_round += 1
    state.image = None


def _save_sample(image: np.ndarray | None, label: str) -> None:
    """Validate, save, and report in plain words; nothing is lost on failure (the drawing stays on the canvas)."""
    if image is None:
        st.warning("There is no drawing to save: draw a shape first.")
        return
    try:
        label = shapes.check_class_name(label)
        access.add_drawing(owner(), image, label)
    except samples.SampleStoreError as exc:  # first: a database error is a ValueError too (a StoreError)
        st.error(f"{exc} Your drawing is still on the canvas; try again once the database can be written.")
        return
    except ValueError as exc:
        st.error(str(exc))
        return
    # A correction is saved from inside the live fragment; the samples list is outside it, so the whole page reruns
    # to show the new sample there, and the confirmation waits in the page state until then.
    state.saved = f"Saved this drawing as a sample of “{label}”."
    st.rerun()


def _drawn_image(url: str | None) -> np.ndarray | None:
    """The 28x28 the model reads for a canvas data URL, made only when asked for (a save): None when the canvas holds
    no usable drawing or cannot be read."""
    try:
        rgba = decode_canvas_url(url)
    except CanvasError:
        return None
    steps = shape_preprocess.preprocess_steps(rgba) if rgba is not None else None
    return steps.image if steps is not None and steps.status == "ok" else None


def _current_image() -> np.ndarray | None:
    return state.image if state.image is not None else _drawn_image(state.canvas_url)


@st.fragment
@guarded("The live drawing")
def live_drawing() -> None:
    left, right = st.columns([1, 1], gap="large")
    with left:
        # Shown smaller in a narrow column; still CANVAS_PX inside, so the model's input does not change.
        result = drawing_canvas(f"draw.canvas.{state.canvas_round}", CANVAS_BOX, CANVAS_PX, STROKE_PX)
        st.button("Clear the canvas", on_click=_clear_canvas, key="draw.clear", icon="🧽")
    with right:
        # The answer in the browser (TensorFlow.js): on mouse-up, no round trip. Until it reports that it answers
        # (or when it cannot: no TensorFlow.js, a user's own version), the server answers below as before.
        engine = draw_live.live_answer(
            key="draw.live",
            box=CANVAS_BOX,
            canvas_px=CANVAS_PX,
            class_names=class_names,
            shown_names=shown_names,
            other=shapes.OTHER,
            none_of_these=shape_verdict.NONE_OF_THESE,
            min_confidence=min_confidence,
            canvas_round=state.canvas_round,
            shipped=uses_shipped("shapes"),
        )
    state.canvas_url = getattr(result, "_image_data_url", None) if result is not None else None
    if engine == draw_live.BROWSER:
        # A stroke costs the server only this widget update: the drawing is kept, and prepared only when asked for.
        state.image = None
        with right:
            _saved_note()
            _correction_row([c for c in class_names if c != shapes.OTHER], None)
        if st.toggle(
            "Show how the network reads this drawing: the preparation and what each layer sees (worked out on the "
            "server)",
            key="draw.explain",
        ):
            with live_turn():
                _explain_on_server(result)
        return
    with live_turn():  # a class's picks and server-answered strokes take turns, each at full speed
        _answer_on_server(result, right)


def _answer_on_server(result, right) -> None:
    """The server's answer: before the browser reports that it answers, or when it cannot."""
    try:
        rgba = canvas_rgba(result)  # the PNG header's size is checked before anything is decoded
    except CanvasError as exc:
        with right:
            st.warning(str(exc))
        return
    with right:
        _saved_note()
    steps = shape_preprocess.preprocess_steps(rgba) if rgba is not None else None
    image = steps.image if steps is not None and steps.status == "ok" else None
    state.image = image
    with right:
        if steps is None or steps.status == "blank":
            st.markdown("<h3 data-testid='draw-empty'>Draw a shape</h3>", unsafe_allow_html=True)
            st.caption("The prediction appears here as soon as you lift the mouse.")
            return
        if steps.status in {"dot", "scribble"}:  # no shape to name: say so before the model is asked
            draw_views.show_answer(shape_verdict.NONE_OF_THESE)
            st.warning(steps.message)
            return
        probs = shapes.predict_proba(model, image)
        said = shape_verdict.verdict(probs, class_names, min_confidence)
        draw_views.show_answer(said.name, None if said.rejected else said.confidence)
        if said.rejected:
            st.caption(said.message)
        st.plotly_chart(
            common_figures.probability_bars(probs, shown_names, "Softmax over the classes"), key="draw.bars"
        )
        others = [c for i, c in enumerate(class_names) if i != said.index and c != shapes.OTHER]
        _correction_row(others, image)
    _explain(steps, image)


def _saved_note() -> None:
    if state.saved:
        st.success(state.saved)
        state.saved = ""


def _correction_row(options: list[str], image: np.ndarray | None) -> None:
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")  # [2, 1] cut the button to "Save the corr…" at 1280 px
    truth = c1.selectbox("Wrong? It was a …", options, key="draw.truth")
    if c2.button("Save the correction", key="draw.correct"):
        _save_sample(image if image is not None else _current_image(), truth)


def _explain_on_server(result) -> None:
    """The explanations for the drawing on the canvas, on request when the browser gives the answer."""
    try:
        rgba = canvas_rgba(result)
    except CanvasError as exc:
        st.warning(str(exc))
        return
    steps = shape_preprocess.preprocess_steps(rgba) if rgba is not None else None
    if steps is None or steps.status != "ok":
        st.caption("Draw a shape first: its preparation and every layer's view appear here.")
        return
    _explain(steps, steps.image)


def _explain(steps: shape_preprocess.Preprocessed, image: np.ndarray) -> None:
    """How the drawing becomes the network's input, what the first convolution sees, and every layer on request."""
    st.subheader("How the drawing becomes the network's input")
    # One image element for the four steps (not four columns of one each): it runs on every stroke of every
    # student, and each element is a message of its own. The 320-pixel canvas is sent at the 160 pixels shown.
    st.image(
        [
            draw_views.grey(steps.ink[::2, ::2]),
            draw_views.grey(steps.crop),
            draw_views.image_for(image, 150),
            shape_figures.value_image(image / 255.0, scale=5),
        ],
        caption=[
            "1 · the canvas as ink",
            "2 · cropped to the ink",
            "3 · scaled to 28×28, centred",
            "4 · what the model reads: 784 numbers, 0 (dark) to 1 (yellow)",
        ],
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
        shape_figures.feature_map_mosaic(maps, columns=8, scale=4),
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
            draw_views.explore_layers(model, activations)
            draw_views.explore_dense(model, image, shown_names)


live_drawing()

# Outside the live fragment, so a stroke does not redraw it (every element is a message of its own, on every stroke
# of every student); a click reruns the whole page, the fragment first, so the drawing saved is the one on the canvas.
label, save = draw_views.save_sample_form()
if save:
    _save_sample(_current_image(), label)

draw_views.samples_browser()
draw_views.training_notes(loaded.metadata)
