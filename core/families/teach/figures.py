"""Figures for the Teach page's experiments: accuracy and confidence against samples per class, varied against
alike samples, the spread over seeds, and a recording's log-mel spectrogram (what the sound model sees)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.families.teach.data import HOP, SAMPLE_RATE
from core.figures.common import ACCENT, BASE

__all__ = ["samples_curve_figure", "variance_figure", "seed_spread_figure", "spectrogram_figure", "features_figure"]

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


def samples_curve_figure(rows: Sequence[dict], title: str = "Accuracy on held-out samples") -> go.Figure:
    """teach_experiments.samples_curve's rows: mean accuracy (band: min to max over seeds) and mean confidence
    against samples per class, on a log axis."""
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
