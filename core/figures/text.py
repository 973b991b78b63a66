"""Figures for the Text page: next-character bars, LSTM activation heatmaps, per-character surprisal."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.figures.common import ACCENT, BASE

__all__ = ["next_char_bars", "activation_heatmap", "surprisal_bars"]


def _label(c: str) -> str:
    return {"\n": "⏎", " ": "␣", "\t": "⇥"}.get(c, c)


def next_char_bars(
    probabilities: Sequence[float], chars: Sequence[str], chosen: int | None = None, k: int = 10, title: str = ""
) -> go.Figure:
    """The k likeliest next characters as bars, the sampled one highlighted (added even when outside the top k)."""
    p = np.asarray(probabilities, dtype=float)
    order = [int(i) for i in np.argsort(-p)[: max(1, k)]]
    if chosen is not None and int(chosen) not in order:
        order.append(int(chosen))
    labels = [f"{_label(chars[i])}" for i in order]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=p[order],
            marker_color=[ACCENT if i == chosen else BASE for i in order],
            text=[f"{p[i]:.2f}" for i in order],
            textposition="outside",
            hovertemplate="%{x}: p = %{y:.4f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        height=300,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        xaxis=dict(type="category", title="next character"),
        yaxis=dict(range=[0, max(1.0, float(p.max()) * 1.1)], title="probability"),
        showlegend=False,
    )
    return fig


def activation_heatmap(
    activations: np.ndarray, text: str, units: Sequence[int], title: str = "", per_row: int = 60
) -> go.Figure:
    """LSTMVis-style: one row per chosen unit, one column per character, colour = activation (-1 blue, +1 red).

    `activations` is (T, units_total); the characters label the columns and show inside the cells.
    """
    a = np.asarray(activations, dtype=float)[:, list(units)].T  # (n_units, T)
    t = min(a.shape[1], len(text))
    a = a[:, :t]
    chars = [_label(c) for c in text[:t]]
    x = list(range(t))
    fig = go.Figure(
        go.Heatmap(
            z=a,
            x=x,
            y=[f"unit {u}" for u in units],
            colorscale="RdBu",
            reversescale=True,
            zmid=0.0,
            text=[chars] * len(units),
            texttemplate="%{text}",
            hovertemplate="position %{x} '%{text}'<br>%{y}: %{z:.3f}<extra></extra>",
            colorbar=dict(title="activation"),
        )
    )
    fig.update_layout(
        title=title,
        height=90 + 28 * len(units),
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        xaxis=dict(tickvals=x[::5], ticktext=[chars[i] for i in x[::5]], title="character"),
    )
    fig.update_yaxes(autorange="reversed")
    del per_row  # one long row; plotly's zoom and pan handle long texts
    return fig


def surprisal_bars(text: str, bits: Sequence[float], title: str = "") -> go.Figure:
    """Bits of surprise per character (after the first): tall bars are where the model did not expect the text."""
    b = np.asarray(bits, dtype=float)
    labels = [f"{i + 1}:{_label(c)}" for i, c in enumerate(text[1 : len(b) + 1])]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=b,
            marker_color=[ACCENT if v > 6 else BASE for v in b],
            hovertemplate="%{x}: %{y:.2f} bits<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        height=280,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        xaxis=dict(type="category", tickvals=labels, ticktext=[lab.split(":", 1)[1] for lab in labels]),
        yaxis_title="bits (−log₂ p)",
    )
    return fig
