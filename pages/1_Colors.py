"""Colors: a trained classifier's softmax over 9 colour families, live, with the softmax and loss lessons."""

import numpy as np
import streamlit as st

from core.families.colors import model as colors
from core.settings import get_settings
from ui import colors_views as views
from ui.colors_picker import colour_picker
from ui.colors_views import (
    EXPLANATIONS,
    cross_entropy_section,
    decision_regions,
    how_it_was_trained,
    label_it_yourself,
    scaling_bug,
    three_ways,
)
from ui.common import live_fragment, page_header
from ui.models import active_label, load_active
from ui.state import page_state

page_header(
    "Colors",
    "🎨",
    "A small network (RGB → 32 sigmoid units → 9 scores → softmax) trained on the colour names real people gave "
    "The Coding Train. Pick a colour: the bars are the model's probabilities, computed in your browser while you drag.",
)
loaded = load_active("colors")
if loaded is None:
    st.stop()
model = loaded.model
meta = loaded.metadata
st.caption(f"Using {active_label('colors')}. " + colors.measured_summary(meta))

# ---------------------------------------------------------------- the picked colour
state = page_state("colors", views.ColorsState)  # what this page remembers, in one typed object
widgets = st.session_state  # the text box keeps its own value, under colors.text


def _set_rgb(rgb) -> None:
    r, g, b = colors.check_rgb(rgb)
    state.rgb = (r, g, b)
    # the decision-region slice follows the colour (the user can move it off again with its own slider)
    widgets["colors.slice_value"] = (r, g, b)[colors.channel_index(widgets.get("colors.slice_channel", "B"))]


def _from_picker(rgb) -> None:
    """A release of the picker or a slider: the colour the browser sends, checked like a typed one."""
    try:
        _set_rgb(rgb)
        state.text_error = ""
    except ValueError as exc:
        state.text_error = f"The picker sent a colour that is not one: {exc}"


def _from_text() -> None:
    try:
        _set_rgb(colors.parse_color(widgets["colors.text"]))
        state.text_error = ""
    except ValueError as exc:
        state.text_error = str(exc)


@live_fragment("The live prediction")  # a class's picks take turns, each at full speed
def live_prediction() -> None:
    rgb = state.rgb
    logits, probs = views.predict(model, rgb)
    top = int(np.argmax(probs))
    with st.container(key="colors-top"):
        # One set of controls: the picker and the sliders drive the headline and the bars in the browser while they
        # are dragged (the network's weights are in the data), and the server on release.
        colour_picker(views.picker_data(model, rgb, probs), _from_picker)
    st.text_input(
        "…or type a colour",
        key="colors.text",
        on_change=_from_text,
        placeholder="#ff8800, rgb(255, 136, 0) or a name such as orange",
        max_chars=get_settings().max_typed_chars,  # parse_color checks the length again on the server
    )
    if state.text_error:
        st.error(state.text_error)
    # What the explanations below are for: the server's answer at the last release (also the bench's marker).
    st.caption(
        f"The explanations below are for RGB {rgb}, which the model calls "
        f"<b data-testid='server-top'>{colors.CLASS_NAMES[top]}</b> ({probs[top]:.1%}).",
        unsafe_allow_html=True,  # numbers and the fixed class names only
    )

    # One explanation at a time, computed only when shown: with all four on every pick, a colour pick cost the server
    # ~100 ms of CPU (seven charts), and a class of 30 picking together queued behind each other (bench --only class).
    explain = st.radio(
        "Explain",
        list(EXPLANATIONS),
        format_func=EXPLANATIONS.get,
        horizontal=True,
        key="colors.explain",
        help="Each explanation follows your colour; choose another any time.",
    )
    if explain == "three_ways":
        three_ways(logits)
    elif explain == "cross_entropy":
        cross_entropy_section(probs, top)
    elif explain == "regions":
        decision_regions(model, rgb)
    else:
        scaling_bug(model, rgb, probs)


live_prediction()
how_it_was_trained(meta)
label_it_yourself()
