"""Figures for the Vector-search page: the pool in 2-D with w's path, the score histogram, the loss, the experiment."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

__all__ = ["pool_projection", "score_histogram", "head_loss_curve", "strategy_f1_curves"]


def pool_projection(
    coords,
    point_colors: Sequence[str] | None = None,
    labelled: dict[int, float] | None = None,
    w_path=None,
    title: str = "The pool in 2-D (PCA) and w's path",
) -> go.Figure:
    """Every pool item as a faint dot (its own colour for colours), labelled items ringed green (+) or red (−),
    and w's successive directions projected onto the same two axes, scaled to the cloud."""
    xy = np.asarray(coords, dtype=float)  # (N, 2)
    fig = go.Figure(
        go.Scattergl(
            x=xy[:, 0],
            y=xy[:, 1],
            mode="markers",
            marker=dict(size=5, color=list(point_colors) if point_colors is not None else "#bbbbbb", opacity=0.55),
            name="pool",
            hoverinfo="skip",
        )
    )
    if labelled:
        ids = np.array(list(labelled), dtype=int)
        values = np.array(list(labelled.values()), dtype=float)
        fig.add_trace(
            go.Scatter(
                x=xy[ids, 0],
                y=xy[ids, 1],
                mode="markers",
                marker=dict(
                    size=11,
                    color=values,
                    colorscale=[[0, "#d62728"], [0.5, "#f0f0f0"], [1, "#2ca02c"]],
                    cmin=-1,
                    cmax=1,
                    line=dict(color="black", width=1),
                    colorbar=dict(title="label", len=0.5),
                ),
                name="labelled",
                text=[f"item {i}: label {v:+.2f}" for i, v in zip(ids, values)],
                hoverinfo="text",
            )
        )
    if w_path is not None and len(w_path):
        path = np.asarray(w_path, dtype=float)  # (steps, 2) projected head directions
        reach = float(np.abs(xy).max()) if len(xy) else 1.0
        lengths = np.linalg.norm(path, axis=1, keepdims=True)
        path = path / np.maximum(lengths, 1e-9) * reach * 0.9  # the direction is what the query uses
        fig.add_trace(
            go.Scatter(
                x=path[:, 0],
                y=path[:, 1],
                mode="lines+markers+text",
                line=dict(color="#111111", width=2, dash="dot"),
                marker=dict(size=[7] * (len(path) - 1) + [14], color="#111111", symbol="diamond"),
                text=[str(i) for i in range(len(path))],
                textposition="top center",
                name="w (step 0, 1, …)",
            )
        )
    fig.update_layout(
        title=title,
        height=460,
        xaxis_title="PC 1",
        yaxis_title="PC 2",
        margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", y=-0.15),
    )
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def score_histogram(logits, title: str = "Scores over the whole pool") -> go.Figure:
    """Histogram of w·x + b for every pool item, with the decision boundary at 0."""
    z = np.asarray(logits, dtype=float)
    fig = go.Figure(go.Histogram(x=z, nbinsx=60, marker_color="#4c78a8", name="items"))
    fig.add_vline(x=0, line_color="#e4572e", line_dash="dash", annotation_text="boundary (p = 0.5)")
    positive = int((z > 0).sum())
    fig.update_layout(
        title=f"{title}: {positive} of {len(z)} predicted positive",
        xaxis_title="score w·x + b (logit)",
        yaxis_title="items",
        height=300,
        margin=dict(l=10, r=10, t=40, b=10),
        bargap=0.02,
    )
    return fig


def head_loss_curve(losses: Sequence[float], title: str = "BCE loss during the last Train step") -> go.Figure:
    values = list(losses)
    fig = go.Figure(go.Scatter(x=list(range(1, len(values) + 1)), y=values, mode="lines", name="BCE"))
    fig.update_layout(
        title=title, xaxis_title="iteration", yaxis_title="BCE", height=260, margin=dict(l=10, r=10, t=40, b=10)
    )
    return fig


def strategy_f1_curves(result: dict) -> go.Figure:
    """F1 on the whole pool against labels spent, one line per strategy, with the target and where each reached it."""
    fig = go.Figure()
    palette = {"vector_search": "#e4572e", "vector_search_top": "#f2a541", "random": "#4c78a8"}
    for name, strategy in result["strategies"].items():
        curve = strategy["curve"]
        reached = strategy.get("labels_to_target")
        label = f"{name.replace('_', ' ')}: {reached if reached is not None else 'not reached'}"
        fig.add_trace(
            go.Scatter(
                x=curve["labels"],
                y=curve["f1"],
                mode="lines+markers",
                name=label,
                line=dict(color=palette.get(name)),
            )
        )
    target = result.get("target_f1")
    if target is not None:
        fig.add_hline(y=target, line_dash="dash", line_color="#555", annotation_text=f"target F1 {target:g}")
    fig.update_layout(
        title=f"Labels needed: {result.get('concept', '')} in the {result.get('pool', '')} pool",
        xaxis_title="labels spent",
        yaxis_title="F1 on the whole pool",
        yaxis_range=[0, 1.02],
        height=360,
        margin=dict(l=10, r=10, t=40, b=10),
    )
    return fig
