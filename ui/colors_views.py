"""The Colors page's self-contained sections: the picker's data (the in-browser network), the decision regions, the
"how it was trained" expander and the crowdsourcing "label it yourself" section (pages/1_Colors.py calls them)."""

import weakref
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from core.families.colors import figures as colors_fig
from core.families.colors import live as colors_live
from core.families.colors import model as colors
from core.figures import common as common_figures
from core.figures import training as training_figures
from core.store import access, samples
from ui.colors_softmax import three_ways_view
from ui.common import DEMO_SEED, demo_mode
from ui.confirm import confirm_delete
from ui.identity import owner
from ui.state import page_state

FAMILY_HEX = [colors.to_hex(colors.OBVIOUS_COLORS[f]) for f in colors.FAMILIES]  # each family's display colour


@dataclass
class ColorsState:
    """What the Colors page remembers for a session, in one object (session key "colors")."""

    rgb: tuple[int, int, int] = colors.DEFAULT_COLOR  # the colour every view shows
    text_error: str = ""  # why the typed colour was refused ("" when it was not)
    label_rgb: tuple[int, int, int] | None = None  # the swatch "Label it yourself" asks about


def from_slice_channel() -> None:
    """Changing the held channel moves the slice to the picked colour's value on that channel
    (the on_change callback of the "Hold fixed" radio)."""
    widgets = st.session_state
    rgb = page_state("colors", ColorsState).rgb
    widgets["colors.slice_value"] = rgb[colors.channel_index(widgets["colors.slice_channel"])]


def predict(model, rgb: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(logits, probabilities) for the picked colour: the browser's arithmetic in NumPy when the browser runs this
    model (the same numbers the picker showed while dragging), else the Keras model's own call."""
    weights = _forward_weights(model)
    return colors_live.forward(weights, rgb) if weights is not None else colors.predict_logits_proba(model, rgb)


def _forward_weights(model) -> dict | None:
    if model not in _weights:
        try:
            _weights[model] = colors.forward_weights(model)
        except ValueError:
            _weights[model] = None
    return _weights[model]


def picker_data(model, rgb: tuple[int, int, int], probs: np.ndarray) -> dict:
    """What the page's picker (ui.colors_picker) is given: the colour, the server's probabilities for it and, when the
    browser can run this model, its weights (a model of another shape: the server's answer alone, on release)."""
    return colors_live.live_data(_forward_weights(model), rgb, colors.CLASS_NAMES, FAMILY_HEX, probs)


_weights: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # a model's plain-number weights, read once


def decision_regions(model, rgb: tuple[int, int, int]) -> None:
    """The model's answer over a flat slice of RGB space: one channel held fixed, the other two stepped, each
    cell painted in its family's colour."""
    st.subheader("Decision regions: a slice of RGB space")
    st.write(
        "Hold one channel fixed and step the other two over 0–255: every cell is painted in the family the model "
        "picks there, paler where it is less sure (hover for the probability). The borders are where the model "
        "changes its mind; your colour is ringed."
    )
    c1, c2 = st.columns([1, 3])
    channel = c1.radio("Hold fixed", colors.CHANNELS, index=2, key="colors.slice_channel", on_change=from_slice_channel)
    if "colors.slice_value" not in st.session_state:  # first shown (it is only drawn when chosen): through the colour
        st.session_state["colors.slice_value"] = rgb[colors.channel_index(channel)]
    value = c2.slider(f"{channel} value", 0, 255, key="colors.slice_value")
    try:
        grid = colors.decision_grid(model, channel, value, steps=64)
    except ValueError as exc:
        st.warning(f"No decision regions: {exc}")
        return
    share = np.bincount(grid.family.ravel(), minlength=len(colors.FAMILIES)) / grid.family.size
    st.plotly_chart(
        colors_fig.decision_regions(grid, colors.CLASS_NAMES, FAMILY_HEX, marker_rgb=rgb), key="colors.regions"
    )
    st.caption(
        f"{len(grid.values)} × {len(grid.values)} colours with {channel} = {grid.fixed_value}, predicted in one batch. "
        "Share of this slice per family: "
        + ", ".join(f"{colors.CLASS_NAMES[k]} {share[k]:.0%}" for k in np.argsort(-share) if share[k] > 0)
        + "."
    )


def how_it_was_trained(meta: dict) -> None:
    """The shipped model's training: crowd labels per family, held-out agreement and the loss curve,
    in a collapsed expander."""
    with st.expander("How it was trained", expanded=False):
        metrics = meta.get("metrics", {})
        counts = meta.get("counts_per_family", {})
        c1, c2 = st.columns(2)
        with c1:
            if counts:
                st.plotly_chart(
                    common_figures.per_class_bars(
                        {k: v for k, v in counts.items()}, "Crowd labels per family"
                    ).update_yaxes(range=None, autorange=True),
                    key="colors.counts",
                )
            acc = metrics.get("heldout_accuracy")
            if acc is not None:
                st.metric(
                    "Agreement with people it never saw",
                    f"{acc:.1%}",
                    help=f"{metrics.get('heldout_n')} labels; {metrics.get('heldout', '')}",
                )
            st.caption(meta.get("training_data", ""))
            st.caption("Data: The Coding Train's crowdsourced colour labels (MIT, © 2019 Coding Train).")
        with c2:
            history = meta.get("history") or {}
            if history:
                st.plotly_chart(
                    training_figures.history_curves(history, "loss", "Loss per epoch"), key="colors.history"
                )


def label_it_yourself() -> None:
    """The crowdsourcing section: name a random colour's family; labels are saved for the Retrain studio
    and can be downloaded as CSV."""
    state = page_state("colors", ColorsState)
    st.subheader("Label it yourself")
    st.write(
        "The series crowdsourced its data. Name this colour's family; your labels are saved here and join the crowd's "
        "labels when you retrain the model in the Retrain studio."
    )
    if state.label_rgb is None:
        seed = DEMO_SEED if demo_mode() else None
        state.label_rgb = tuple(int(v) for v in np.random.default_rng(seed).integers(0, 256, 3))
    swatch = state.label_rgb
    st.markdown(
        f"<div style='width:100%;height:60px;border-radius:8px;background:{colors.to_hex(swatch)}'></div>",
        unsafe_allow_html=True,
    )
    buttons = st.columns(len(colors.FAMILIES))
    for col, family in zip(buttons, colors.FAMILIES):
        if col.button(f"{family}-ish", key=f"colors.label.{family}"):
            try:
                access.add_color_label(owner(), swatch, family)
                st.toast(f"Saved {colors.to_hex(swatch)} as {family}-ish.")
                state.label_rgb = tuple(int(v) for v in np.random.default_rng().integers(0, 256, 3))
                st.rerun()
            except samples.SampleStoreError as exc:
                st.error(str(exc))
    try:
        counts = access.color_label_counts(owner())
        total = sum(counts.values())
        st.write(
            f"**{total}** labels so far" + (": " + ", ".join(f"{k} {v}" for k, v in counts.items()) if counts else ".")
        )
        if total:
            st.download_button(
                "Download labels as CSV", access.export_color_csv(owner()), "color_labels.csv", "text/csv"
            )
            _label_remover()
    except samples.SampleStoreError as exc:
        st.error(str(exc))


def _label_remover() -> None:
    """Pick one of the user's colour labels (newest first) and delete it, after a confirmation."""
    labels = {f"#{c.id} {colors.to_hex(c.rgb)} {c.label}": c for c in reversed(access.color_labels(owner()))}
    left, right = st.columns([3, 1])
    chosen = left.selectbox("One of your labels", list(labels), key="colors.label.pick")
    if chosen is not None:
        label_id = labels[chosen].id
        confirm_delete(
            right, f"the label {chosen}", "colors.label.delete", lambda: access.delete_color_label(owner(), label_id)
        )


EXPLANATIONS = {
    "three_ways": "Softmax, three ways",
    "cross_entropy": "Cross-entropy",
    "regions": "Decision regions",
    "scaling_bug": "The /255 bug",
}


def three_ways(logits: np.ndarray) -> None:
    """Softmax against divide-by-sum against a softmax with temperature, on the same logits: drawn in the browser
    (ui.colors_softmax), so it follows the picker while it is dragged and its temperature slider costs no rerun."""
    st.subheader("The same logits, three ways")
    st.write(
        "The output layer gives one raw score (a *logit*) per family. Softmax exponentiates and normalises them; "
        "dividing by the sum just normalises. Exponentiating widens the gaps, and it keeps everything positive."
    )
    three_ways_view(colors_live.softmax_data(logits, colors.CLASS_NAMES, FAMILY_HEX))


def cross_entropy_section(probs: np.ndarray, top: int) -> None:
    """Cross-entropy and squared error of the softmax against a chosen true family."""
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


def scaling_bug(model, rgb, probs: np.ndarray) -> None:
    """What the seed's /255 mismatch does to the same colour."""
    st.subheader("The /255 bug")
    wrong_logits, wrong_probs = colors.predict_logits_proba(model, np.asarray(rgb, dtype=np.float32) * 255.0)
    st.write(
        "This model divides by 255 *inside* itself (a Rescaling layer), so raw 0–255 values are always right. "
        "The series' own code trained on values/255 but fed raw 0–255 at prediction time. Here is what that "
        "mismatch does to the same colour: the sigmoid units saturate and the answer is nonsense."
    )
    b1, b2 = st.columns(2)
    b1.plotly_chart(
        common_figures.probability_bars(probs, colors.CLASS_NAMES, "scaled as in training"), key="colors.ok"
    )
    b2.plotly_chart(
        common_figures.probability_bars(wrong_probs, colors.CLASS_NAMES, "inputs 255× too large"), key="colors.bug"
    )
