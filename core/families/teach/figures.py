"""Figures for the Teach page: the experiments (accuracy and confidence against samples per class next to the
nearest-neighbour baseline, varied against alike samples, the spread over seeds), a recording's log-mel spectrogram
(what the sound model sees), and transfer learning's insides (an extractor's features, the head's weights)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.families.teach.data import HOP, SAMPLE_RATE
from core.figures.common import ACCENT, BASE

__all__ = [
    "samples_curve_figure",
    "variance_figure",
    "seed_spread_figure",
    "spectrogram_figure",
    "features_figure",
    "feature_vector_figure",
    "head_weights_figure",
    "top_features",
]

LOW_COLOR = "#9c9c9c"


def _band(fig: go.Figure, x, low, high, color: str, name: str) -> None:
    """A shaded min-max band over seeds behind a curve."""
    fig.add_trace(
        go.Scatter(
            x=list(x) + list(x)[::-1],
            y=list(high) + list(low)[::-1],
            fill="toself",
            fillcolor=color,
            opacity=0.15,
            line=dict(width=0),
            hoverinfo="skip",
            showlegend=False,
            name=f"{name} (min-max)",
        )
    )


def samples_curve_figure(
    rows: Sequence[dict], title: str = "Accuracy on held-out samples", baseline: str = "nearest neighbour"
) -> go.Figure:
    """teach_experiments.samples_curve's rows: mean accuracy (band: min to max over seeds) and mean confidence
    against samples per class, on a log axis; with the rows' baseline_mean (the nearest-neighbour rule on the same
    samples, named `baseline`) as a dotted line next to the accuracy when the rows have it."""
    rows = sorted(rows, key=lambda r: r["count"])
    x = [r["count"] for r in rows]
    fig = go.Figure()
    if rows:
        _band(fig, x, [r["accuracy_min"] for r in rows], [r["accuracy_max"] for r in rows], BASE, "accuracy")
    fig.add_trace(
        go.Scatter(
            x=x, y=[r["accuracy_mean"] for r in rows], mode="lines+markers", line=dict(color=BASE), name="accuracy"
        )
    )
    if rows and all("baseline_mean" in r for r in rows):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[r["baseline_mean"] for r in rows],
                mode="lines+markers",
                line=dict(color=LOW_COLOR, dash="dot"),
                marker=dict(symbol="diamond"),
                name=f"baseline: {baseline}",
                customdata=[[r["baseline_min"], r["baseline_max"]] for r in rows],
                hovertemplate="%{x} per class: %{y:.2f} (min %{customdata[0]:.2f}, max %{customdata[1]:.2f})"
                "<extra>baseline</extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[r["confidence_mean"] for r in rows],
            mode="lines+markers",
            line=dict(color=ACCENT, dash="dash"),
            name="mean confidence",
        )
    )
    fig.update_xaxes(type="log", title="samples per class in training", tickvals=x)
    fig.update_yaxes(range=[0, 1.02], title="held-out accuracy / confidence")
    fig.update_layout(title=title, height=360, margin=dict(l=10, r=10, t=50, b=10))
    return fig


def variance_figure(rows: Sequence[dict], title: str = "All alike or varied: held-out accuracy") -> go.Figure:
    """teach_experiments.variance_curve's rows: one line per subset ("low": alike, "high": varied), with each
    subset's measured spread in the hover text."""
    fig = go.Figure()
    for subset, color, name in (("low", LOW_COLOR, "samples all alike"), ("high", BASE, "varied samples")):
        part = sorted((r for r in rows if r["subset"] == subset), key=lambda r: r["count"])
        if not part:
            continue
        x = [r["count"] for r in part]
        _band(fig, x, [r["accuracy_min"] for r in part], [r["accuracy_max"] for r in part], color, name)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[r["accuracy_mean"] for r in part],
                mode="lines+markers",
                line=dict(color=color),
                name=name,
                customdata=[[r["spread"], r["confidence_mean"]] for r in part],
                hovertemplate="%{x} per class: accuracy %{y:.2f}<br>spread %{customdata[0]:.3g}, "
                "confidence %{customdata[1]:.2f}<extra></extra>",
            )
        )
    fig.update_xaxes(type="log", title="samples per class in training")
    fig.update_yaxes(range=[0, 1.02], title="held-out accuracy")
    fig.update_layout(title=title, height=360, margin=dict(l=10, r=10, t=50, b=10))
    return fig


def seed_spread_figure(spread: dict, title: str = "The same training, different seeds") -> go.Figure:
    """teach_experiments.seed_spread's result: one dot per run, and the mean as a line."""
    runs = spread.get("runs", [])
    fig = go.Figure(
        go.Scatter(
            x=[r["seed"] for r in runs],
            y=[r["accuracy"] for r in runs],
            mode="markers",
            marker=dict(size=10, color=BASE),
            name="one training",
            hovertemplate="seed %{x}: accuracy %{y:.3f}<extra></extra>",
        )
    )
    if runs:
        fig.add_hline(
            y=spread["mean"],
            line=dict(color=ACCENT, dash="dash"),
            annotation_text=f"mean {spread['mean']:.3f} (min {spread['min']:.3f}, max {spread['max']:.3f})",
        )
    fig.update_xaxes(title="seed", dtick=1)
    fig.update_yaxes(range=[0, 1.02], title="held-out accuracy")
    fig.update_layout(title=title, height=320, margin=dict(l=10, r=10, t=50, b=10), showlegend=False)
    return fig


def spectrogram_figure(log_mel: np.ndarray, title: str = "What the model hears: 1 s as a log-mel spectrogram"):
    """A (frames, mels) log-mel spectrogram (teach_data.log_mel) as a heatmap: time across, pitch up."""

    m = np.asarray(log_mel, dtype=float)
    if m.ndim != 2:
        raise ValueError(f"A spectrogram must be (frames, mels) (got shape {m.shape}).")
    times = np.arange(m.shape[0]) * HOP / SAMPLE_RATE
    fig = go.Figure(
        go.Heatmap(
            z=m.T,
            x=times,
            y=np.arange(m.shape[1]),
            colorscale="Viridis",
            colorbar=dict(title="ln power"),
            hovertemplate="%{x:.2f} s, mel band %{y}: %{z:.1f}<extra></extra>",
        )
    )
    fig.update_xaxes(title="time (s)")
    fig.update_yaxes(title="mel band (low to high pitch)")
    fig.update_layout(title=title, height=300, margin=dict(l=10, r=10, t=50, b=10))
    return fig


def features_figure(features: dict[str, np.ndarray], title: str = "What the extractor gives: one sample per class"):
    """{class name: (D,) feature vector of one of its samples} as one line each over the feature index: what the
    head's weights multiply (it learns one weight per feature and class, plus a bias per class)."""
    fig = go.Figure()
    for name, vector in features.items():
        v = np.asarray(vector, dtype=float).reshape(-1)
        fig.add_trace(
            go.Scatter(
                x=np.arange(len(v)),
                y=v,
                mode="lines",
                name=name,
                hovertemplate=f"{name}: feature %{{x}} = %{{y:.3f}}<extra></extra>",
            )
        )
    fig.update_xaxes(title="feature number")
    fig.update_yaxes(title="value")
    fig.update_layout(title=title, height=300, margin=dict(l=10, r=10, t=50, b=10))
    return fig


def feature_vector_figure(vector: np.ndarray, title: str = "One sample's features") -> go.Figure:
    """One sample's (D,) feature vector as bars over the feature index: the numbers the head multiplies by its
    weights. The hover says how many are exactly zero (the drawing backbone's ReLU features mostly are)."""
    v = np.asarray(vector, dtype=float).reshape(-1)
    zero = int((v == 0).sum())
    fig = go.Figure(
        go.Bar(
            x=np.arange(len(v)),
            y=v,
            marker_color=BASE,
            name="feature",
            hovertemplate="feature %{x} = %{y:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(title=f"feature number ({len(v)} in all, {zero} of them zero)")
    fig.update_yaxes(title="value")
    fig.update_layout(title=title, height=280, margin=dict(l=10, r=10, t=50, b=10), bargap=0.05)
    return fig


def head_weights_figure(kernel: np.ndarray, class_names: Sequence[str], title: str = "What the head learnt"):
    """The head's (D, C) kernel as a heatmap, one row per class: red weights raise that class's score when the
    feature is large, blue ones lower it (a diverging scale centred on 0)."""
    w = np.asarray(kernel, dtype=float)
    if w.ndim != 2 or w.shape[1] != len(class_names):
        raise ValueError(f"The head's kernel must be (features, {len(class_names)}) (got shape {w.shape}).")
    top = float(np.abs(w).max()) or 1.0
    fig = go.Figure(
        go.Heatmap(
            z=w.T,
            x=np.arange(w.shape[0]),
            y=list(class_names),
            colorscale="RdBu",
            reversescale=True,
            zmin=-top,
            zmax=top,
            colorbar=dict(title="weight"),
            hovertemplate="class %{y}, feature %{x}: weight %{z:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(title="feature number")
    fig.update_layout(title=title, height=120 + 32 * len(class_names), margin=dict(l=10, r=10, t=50, b=10))
    return fig


def top_features(kernel: np.ndarray, class_names: Sequence[str], n: int = 3) -> dict[str, list[int]]:
    """{class: the n feature numbers with the largest weight for it, largest first}: what most speaks for it."""
    w = np.asarray(kernel, dtype=float)
    return {name: [int(i) for i in np.argsort(-w[:, c], kind="stable")[:n]] for c, name in enumerate(class_names)}
