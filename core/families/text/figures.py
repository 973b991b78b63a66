"""Figures for the Text page: next-character bars, LSTM activation heatmaps, per-character surprisal."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.figures.common import ACCENT, BASE

__all__ = [
    "DRAWN",
    "DRAWN_NAME",
    "drawn_caption",
    "ranked_columns",
    "next_char_bars",
    "temperature_bars",
    "entropy_curve",
    "activation_heatmap",
    "surprisal_bars",
]


# The drawn character's colour and the word the captions use for it, kept together so a caption never names a colour
# the chart does not show (hue 28°: orange to anyone, where the shared ACCENT, hue 13°, reads as red to many).
DRAWN = "#f58518"
DRAWN_NAME = "orange"


def _label(c: str) -> str:
    return {"\n": "⏎", " ": "␣", "\t": "⇥"}.get(c, c)


def ranked_columns(probabilities, scores=None, chosen: int | None = None, k: int = 10) -> list[int]:
    """The k columns to draw: the likeliest first, ties broken by the model's scores (the logits), so at T = 0 the
    argmax comes first and the runners-up are the next best candidates, not whichever characters come first in the
    vocabulary; the drawn character is added when it is not among them."""
    p = np.asarray(probabilities, dtype=float)
    tie_break = np.zeros_like(p) if scores is None else np.asarray(scores, dtype=float)
    order = [int(i) for i in np.lexsort((-tie_break, -p))[: max(1, k)]]  # last key sorts first: p, then the score
    if chosen is not None and int(chosen) not in order:
        order.append(int(chosen))
    return order


def drawn_caption(probabilities, chars: Sequence[str], chosen: int, temperature: float) -> str:
    """What temperature_bars draws for the drawn character, in words: its bar when the bar shows, else why not."""
    p = np.asarray(probabilities, dtype=float)
    drawn = _label(chars[int(chosen)])
    if temperature == 0:
        argmax = _label(chars[int(np.argmax(p))])
        lead = (
            f"At T = 0 all the probability goes to the likeliest character, '{argmax}' (the argmax); the other bars "
            "are the next candidates by the model's score, each at 0 at this temperature. "
        )
    else:
        lead = ""
    if p[int(chosen)] >= 0.005:  # a bar at least half a percent of the axis tall is visible
        return lead + f"The {DRAWN_NAME} bar is the character that was drawn, '{drawn}'."
    return lead + (
        f"The character that was drawn, '{drawn}' (its label in {DRAWN_NAME}), has probability "
        f"{p[int(chosen)]:.3f} at T = {temperature:g}, so its bar is flat: it was drawn at another temperature."
    )


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
            marker_color=[DRAWN if i == chosen else BASE for i in order],
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


def temperature_bars(
    probabilities: Sequence[float],
    sampled_probabilities: Sequence[float],
    chars: Sequence[str],
    chosen: int | None = None,
    k: int = 10,
    title: str = "",
    temperature: float | None = None,
    sampled_temperature: float | None = None,
    scores: Sequence[float] | None = None,
) -> go.Figure:
    """One step's distribution at the slider's temperature (bars) against the one it was sampled from (markers).

    The k likeliest characters at the slider's temperature (ties, as at T = 0, broken by `scores`, the step's
    logits), plus the sampled one; both series share those columns. The drawn one's bar and label are in DRAWN.
    """
    p = np.asarray(probabilities, dtype=float)
    q = np.asarray(sampled_probabilities, dtype=float)
    order = ranked_columns(p, scores, chosen, k)
    labels = [_label(chars[i]) for i in order]
    now = f"T = {temperature:g}" if temperature is not None else "now"
    then = f"T = {sampled_temperature:g}" if sampled_temperature is not None else "when sampled"
    fig = go.Figure(
        [
            go.Bar(
                x=labels,
                y=p[order],
                name=f"at {now}",
                marker_color=[DRAWN if i == chosen else BASE for i in order],
                text=[f"{p[i]:.2f}" for i in order],
                textposition="outside",
                hovertemplate="%{x}: p = %{y:.4f}<extra>" + now + "</extra>",
            ),
            go.Scatter(
                x=labels,
                y=q[order],
                name=f"when sampled ({then})",
                mode="markers",
                marker=dict(symbol="line-ew", size=26, line=dict(width=3, color="black")),
                hovertemplate="%{x}: p = %{y:.4f}<extra>when sampled</extra>",
            ),
        ]
    )
    top = max(float(p[order].max()), float(q[order].max()))
    ticks = [  # pseudo-HTML: the characters themselves are escaped ('<', '&' are in the corpus)
        f"<span style='color:{DRAWN}'><b>{html.escape(label)}</b></span>" if i == chosen else html.escape(label)
        for i, label in zip(order, labels)
    ]
    fig.update_layout(
        title=title,
        height=320,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        xaxis=dict(type="category", title="next character", tickvals=labels, ticktext=ticks),
        yaxis=dict(range=[0, max(1.0, top * 1.1)], title="probability"),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
    )
    return fig


def entropy_curve(
    temperatures: Sequence[float],
    entropy_bits: Sequence[float],
    points: Sequence[tuple[str, float, float]] = (),
    max_bits: float | None = None,
    title: str = "",
) -> go.Figure:
    """Entropy (bits) of one step's distribution against the temperature, with marked points (label, T, bits).

    `max_bits` (log2 of the vocabulary size) is the ceiling: a uniform choice, which T -> infinity tends to.
    """
    t = np.asarray(temperatures, dtype=float)
    h = np.asarray(entropy_bits, dtype=float)
    traces = [go.Scatter(x=t, y=h, mode="lines", name="entropy", line=dict(color=BASE))]
    for (label, value, bits), color in zip(points, ("black", ACCENT, "#72b7b2", "#54a24b")):
        traces.append(
            go.Scatter(
                x=[value],
                y=[bits],
                mode="markers",
                name=f"{label} (T = {value:g}: {bits:.2f} bits)",
                marker=dict(size=11, color=color),
            )
        )
    fig = go.Figure(traces)
    if max_bits is not None:
        fig.add_hline(y=max_bits, line_dash="dot", annotation_text=f"uniform: {max_bits:.2f} bits")
    fig.update_layout(
        title=title,
        height=280,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        xaxis_title="temperature T",
        yaxis=dict(title="entropy (bits)", rangemode="tozero"),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
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
