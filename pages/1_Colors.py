"""Colors: a trained classifier's softmax over 9 colour families, live, with the softmax and loss lessons."""

import numpy as np
import pandas as pd
import streamlit as st

from core import colors
from core import figures as fig
from core.settings import get_settings
from ui import colors_views as views
from ui.colors_views import FAMILY_HEX, decision_regions, how_it_was_trained, label_it_yourself, live_bars
from ui.common import guarded, page_header
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


@st.fragment
@guarded("The live prediction")
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
            fig.probability_bars(
                probs,
                colors.CLASS_NAMES,
                "Softmax over the 9 families",
                colors=[shade if i != top else "#111" for i, shade in enumerate(FAMILY_HEX)],
            ),
            key="colors.bars",
        )

    live_bars(model, rgb)
    decision_regions(model, rgb)

    st.subheader("The same logits, three ways")
    st.write(
        "The output layer gives one raw score (a *logit*) per family. Softmax exponentiates and normalises them; "
        "dividing by the sum just normalises. Exponentiating widens the gaps, and it keeps everything positive."
    )
    temperature = st.slider(
        "Softmax temperature",
        0.0,
        5.0,
        1.0,
        0.05,
        key="colors.temperature",
        help="Divide the logits by T before the softmax. T → 0 is argmax; large T flattens.",
    )
    by_sum, warning = colors.divide_by_sum(logits)
    table = pd.DataFrame(
        {
            "family": colors.CLASS_NAMES,
            "logit": logits,
            "softmax": colors.softmax(logits),
            "divide by sum": by_sum if by_sum is not None else np.full(len(logits), np.nan),
            f"softmax, T={temperature:g}": colors.softmax(logits, temperature),
        }
    )
    c1, c2, c3 = st.columns(3)
    with c1:
        st.plotly_chart(fig.probability_bars(table["softmax"], colors.CLASS_NAMES, "softmax(logits)"), key="colors.sm")
    with c2:
        if by_sum is None:
            st.warning(warning)
        else:
            st.plotly_chart(
                fig.probability_bars(by_sum, colors.CLASS_NAMES, "logits / sum(logits)", range_max=None),
                key="colors.sum",
            )
            for line in colors.explain_divide_by_sum(logits):
                st.warning(line)
    with c3:
        st.plotly_chart(
            fig.probability_bars(table.iloc[:, 4], colors.CLASS_NAMES, f"softmax(logits / {temperature:g})"),
            key="colors.temp",
        )
    st.dataframe(table.style.format(precision=3), hide_index=True, width="stretch")

    st.subheader("How wrong is it? Cross-entropy against the truth")
    truth = st.selectbox("The true family of this colour", colors.CLASS_NAMES, index=top, key="colors.truth")
    t = colors.CLASS_NAMES.index(truth)
    onehot = np.eye(len(colors.FAMILIES))[t]
    ce = colors.cross_entropy(probs, t)
    mse = colors.mean_squared_error(probs, t)
    m1, m2, m3 = st.columns(3)
    m1.metric("p(true family)", f"{probs[t]:.3f}")
    m2.metric("cross-entropy  −log p", f"{ce:.3f} nats")
    m3.metric("mean squared error", f"{mse:.4f}")
    st.dataframe(
        pd.DataFrame([onehot, probs], index=["one-hot truth", "softmax"], columns=list(colors.CLASS_NAMES)),
        width="stretch",
    )
    st.caption(
        "Cross-entropy only looks at the probability of the true family and punishes confident mistakes without "
        "limit (−log 0.01 ≈ 4.6). Mean squared error stays below 2 however wrong the model is, so its gradient "
        "fades exactly when the model is most wrong."
    )

    st.subheader("The /255 bug")
    wrong_logits, wrong_probs = colors.predict_logits_proba(model, np.asarray(rgb, dtype=np.float32) * 255.0)
    st.write(
        "This model divides by 255 *inside* itself (a Rescaling layer), so raw 0–255 values are always right. "
        "The series' own code trained on values/255 but fed raw 0–255 at prediction time. Here is what that "
        "mismatch does to the same colour: the sigmoid units saturate and the answer is nonsense."
    )
    b1, b2 = st.columns(2)
    b1.plotly_chart(fig.probability_bars(probs, colors.CLASS_NAMES, "scaled as in training"), key="colors.ok")
    b2.plotly_chart(fig.probability_bars(wrong_probs, colors.CLASS_NAMES, "inputs 255× too large"), key="colors.bug")


live_prediction()
how_it_was_trained(meta)
label_it_yourself()
