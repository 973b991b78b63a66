"""The Teach page's under-the-hood panel for transfer learning: what the frozen extractor gives (one sample's features
and one sample per class), what the head learnt (its weights per class, the features that speak most for each class,
and how one sample's features become the scores), and the held-out figure. Used by pages/7_Teach.py."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.families.teach import figures as teach_fig
from core.families.teach import projects as teach_store
from core.families.teach import transfer
from core.families.teach.data import TeachError
from core.store.topology import StoreError
from ui.common import guarded
from ui.models import load_model_folder

EXTRACTOR_TEXT = {
    "drawing": (
        "a convolutional network trained here beforehand on about 21,000 real Quick, Draw! drawings of 137 words "
        f"(`saved_models/teach_drawing_backbone`). Its layer “features” gives {transfer.DRAWING_FEATURES} numbers "
        "per drawing: which strokes, corners and shapes it sees where. It is frozen: your drawings do not change it. "
        "Each training drawing is also copied mirrored and moved 2 pixels up, down, left and right, so the head "
        "learns your classes, not where on the canvas you happened to draw them."
    ),
    "sound": (
        f"{transfer.SOUND_FEATURES} numbers per second of sound: the room's steady noise is subtracted from the "
        "log-mel spectrogram, the loud part (the word) is found and stretched to "
        f"{transfer.SOUND_STEPS} steps, and each step keeps {transfer.SOUND_BANDS_KEPT} cepstral coefficients (the "
        "shape of the spectrum: the vowel, not the voice's pitch), plus how loud and how long the word is. Loudness, "
        "speed and where the word starts stop mattering; steady background noise has no loud part at all. Each "
        "training second is also copied with the voice made a little higher and lower."
    ),
    "image": (
        f"{transfer.IMAGE_FEATURES} hand-made numbers per photo: colour histograms of the whole photo and of its "
        "four quarters, and histograms of edge directions on a 4×4 grid. No network pretrained on photos can be "
        "had offline here, so this extractor knows colours and layout, not objects: on a steady scene it needs "
        "more samples than the CNN learnt from scratch (measured in docs/teach_transfer_measured.md)."
    ),
}


def one_sample_per_class(owner: str, project) -> dict[str, np.ndarray]:
    """{class: the model input of its newest sample} for the classes with samples (one row: a sound's first second)."""
    from core.families.teach import job as teach

    out = {}
    for name, files in teach_store.sample_paths(owner, project.name).items():
        if files:
            try:
                out[name] = teach.sample_inputs(project.kind, files[-1].read_bytes())[0]
            except (TeachError, OSError):
                continue  # deleted or unreadable since: that class is left out of the chart
    return out


def _what_the_head_learnt(outcome: dict, features: dict[str, np.ndarray], key: str) -> None:
    """The head's weights as a heatmap and each class's top features; then one chosen sample's features as bars,
    and how they add up to its scores."""
    names = outcome["class_names"]
    try:
        kernel, bias = transfer.head_weights(load_model_folder(outcome["version_path"]).model)
    except (TeachError, StoreError, OSError, ValueError) as exc:
        st.caption(f"The head's weights cannot be shown: {exc}")
        return
    st.plotly_chart(
        teach_fig.head_weights_figure(kernel, names, "What the head learnt: one weight per feature and class"),
        key=f"teach.head.{key}",
    )
    top = teach_fig.top_features(kernel, names)
    st.caption(
        "The features that speak most for each class (largest weight first): "
        + "; ".join(f"{name}: " + ", ".join(f"#{i}" for i in top[name]) for name in names)
        + ". The weights are per raw feature (the head's standardisation is folded into them)."
    )
    if not features:
        return
    shown = st.selectbox("One sample's features", list(features), key=f"teach.hood.sample.{key}",
                         format_func=lambda c: f"the newest sample of “{c}”")  # fmt: skip
    vector = np.asarray(features[shown], np.float32)
    st.plotly_chart(
        teach_fig.feature_vector_figure(vector, f"What the extractor gives for the newest sample of “{shown}”"),
        key=f"teach.hood.vector.{key}",
    )
    scores = vector @ kernel + bias
    probs = np.exp(scores - scores.max())
    probs /= probs.sum()
    best = int(np.argmax(scores))
    contributions = vector * kernel[:, best]
    strongest = [int(i) for i in np.argsort(-contributions, kind="stable")[:3] if contributions[i] > 0]
    st.markdown(
        "**From features to an answer:** each class's score is the sum of feature × weight plus its bias ("
        + ", ".join(f"{n} {s:+.2f}" for n, s in zip(names, scores))
        + f"); the softmax makes them {', '.join(f'{n} {p:.0%}' for n, p in zip(names, probs))}. The head says "
        f"**{names[best]}**"
        + (
            ", mostly because of features " + ", ".join(f"#{i} ({contributions[i]:+.2f})" for i in strongest) + "."
            if strongest
            else "."
        )
    )


@guarded("Under the hood")
def transfer_explainer(owner: str, project, outcome: dict) -> None:
    """What transfer learning did for this project: the extractor's features of one sample per class (a chart),
    what the head learnt (its weights, and one sample's features turned into scores), and the accuracy on this
    project's held-out samples."""
    kind, key = project.kind, outcome["version_id"]
    st.markdown(f"**Under the hood: transfer learning.** The feature extractor is {EXTRACTOR_TEXT[kind]}")
    samples = one_sample_per_class(owner, project)
    features: dict[str, np.ndarray] = {}
    if samples:
        features = dict(zip(samples, transfer.extract_features(kind, np.stack(list(samples.values())))))
        st.plotly_chart(teach_fig.features_figure(features), key=f"teach.features.{key}")
    n_features = transfer.FEATURE_SIZES[kind]
    st.markdown(
        f"**What the head learns:** one weight per feature and class ({n_features} × {len(outcome['class_names'])} "
        f"= {n_features * len(outcome['class_names']):,} weights, plus a bias per class): a class's score is the "
        "weighted sum of the features, and a softmax turns the scores into the confidence bars. It is trained "
        f"in {outcome['epochs_run']} steps on all your training samples at once ({outcome['seconds']:.1f} s here), "
        "which is why a few samples per class are enough: the extractor already did the hard part."
    )
    _what_the_head_learnt(outcome, features, key)
    st.markdown(
        f"**On this project:** {outcome['accuracy']:.0%} of {outcome['measured_on']} were right "
        f"(balanced over classes: {outcome['balanced_accuracy']:.0%}). Train again with “From scratch (expert)” "
        "to compare the two methods on the same samples and the same held-out split; the experiments below show "
        "how the accuracy grows with samples per class."
    )
