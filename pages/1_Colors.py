"""Colors: a trained classifier's softmax over 9 colour families, live, with the softmax and loss lessons."""

import numpy as np
import streamlit as st

from core.families.colors import model as colors
from core.figures import common as common_figures
from core.settings import get_settings
from ui import colors_views as views
from ui.colors_views import (
    EXPLANATIONS,
    FAMILY_HEX,
    cross_entropy_section,
    decision_regions,
    how_it_was_trained,
    label_it_yourself,
    live_bars,
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
    "The Coding Train. Pick a colour: the bars are the model's probabilities, computed live.",
)
loaded = load_active("colors")
if loaded is None:
    st.stop()
model = loaded.model
meta = loaded.metadata
st.caption(f"Using {active_label('colors')}. " + colors.measured_summary(meta))

# ---------------------------------------------------------------- the picked colour, kept in sync across widgets
state = page_state("colors", views.ColorsState)  # what this page remembers, in one typed object
widgets = st.session_state  # the picker, sliders and text box keep their own values, under colors.*


def _set_rgb(rgb) -> None:
    r, g, b = colors.check_rgb(rgb)
    state.rgb = (r, g, b)
    widgets["colors.picker"] = colors.to_hex((r, g, b))
    widgets["colors.r"], widgets["colors.g"], widgets["colors.b"] = r, g, b
    # the decision-region slice follows the colour (the user can move it off again with its own slider)
    widgets["colors.slice_value"] = (r, g, b)[colors.channel_index(widgets.get("colors.slice_channel", "B"))]


def _from_picker() -> None:
    _set_rgb(colors.parse_hex(widgets["colors.picker"]))


def _from_sliders() -> None:
    _set_rgb((widgets["colors.r"], widgets["colors.g"], widgets["colors.b"]))


def _from_text() -> None:
    try:
        _set_rgb(colors.parse_color(widgets["colors.text"]))
        state.text_error = ""
    except ValueError as exc:
        state.text_error = str(exc)


if "colors.picker" not in widgets:
    _set_rgb(state.rgb)


@live_fragment("The live prediction")  # a class's picks and strokes take turns, each at full speed
def live_prediction() -> None:
    left, right = st.columns([1, 2])
    with left:
        st.color_picker("Color", key="colors.picker", on_change=_from_picker)
        st.slider("R", 0, 255, key="colors.r", on_change=_from_sliders)
        st.slider("G", 0, 255, key="colors.g", on_change=_from_sliders)
        st.slider("B", 0, 255, key="colors.b", on_change=_from_sliders)
        st.text_input(
            "…or type a colour",
            key="colors.text",
            on_change=_from_text,
            placeholder="#ff8800 or rgb(255, 136, 0)",
            max_chars=get_settings().max_typed_chars,  # parse_color checks the length again on the server
        )
        if state.text_error:
            st.error(state.text_error)
    rgb = state.rgb
    logits, probs = colors.predict_logits_proba(model, rgb)
    top = int(np.argmax(probs))
    with right, st.container(key="colors-top"):
        st.markdown(
            f"<div style='display:flex;align-items:center;gap:12px'>"
            f"<div style='width:56px;height:56px;border-radius:8px;border:1px solid #999;background:{colors.to_hex(rgb)}'></div>"
            f"<div><b data-testid='top-family' style='font-size:1.6em'>{colors.CLASS_NAMES[top]}</b><br>"
            f"{probs[top]:.1%} · RGB {rgb}</div></div>",
            unsafe_allow_html=True,
        )
        st.plotly_chart(
            common_figures.probability_bars(
                probs,
                colors.CLASS_NAMES,
                "Softmax over the 9 families",
                colors=[shade if i != top else "#111" for i, shade in enumerate(FAMILY_HEX)],
            ),
            key="colors.bars",
        )

    live_bars(model, rgb)
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
