"""Figures for the Retrain studio: live training curves (per epoch, and per reported batch for slow models),
and the before/after comparison."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.figures.common import confusion_heatmap

__all__ = ["training_curves", "before_after_bars", "clickable_confusion"]

TRAIN_COLOR = "#4c78a8"
VAL_COLOR = "#e4572e"


def training_curves(
    epoch_logs: Sequence[dict],
    batch_logs: Sequence[dict] = (),
    metric: str = "loss",
    steps_per_epoch: int = 1,
    epochs: int | None = None,
    title: str | None = None,
) -> go.Figure:
    """Training against validation `metric` per epoch; reported batches (a running mean within their epoch) are
    drawn as a thin line at fractional epochs, so a slow epoch still shows movement."""
    fig = go.Figure()
    batches = [b for b in batch_logs if metric in b]
    if batches:
        fig.add_trace(
            go.Scatter(
                x=[b["step"] / max(1, steps_per_epoch) for b in batches],
                y=[b[metric] for b in batches],
                mode="lines",
                line=dict(color=TRAIN_COLOR, width=1),
                opacity=0.5,
                name="training (batches)",
            )
        )
    for key, name, color in ((metric, "training", TRAIN_COLOR), (f"val_{metric}", "validation", VAL_COLOR)):
        points = [e for e in epoch_logs if key in e]
        if points:
            fig.add_trace(
                go.Scatter(
                    x=[e["epoch"] for e in points],
                    y=[e[key] for e in points],
                    mode="lines+markers",
                    line=dict(color=color),
                    name=name,
                )
            )
    fig.update_layout(
        title=title or f"{metric} per epoch",
        xaxis_title="epoch",
        yaxis_title=metric,
        height=300,
        margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
    )
    if epochs:
        fig.update_xaxes(range=[0, max(1, epochs) + 0.2])
    if metric == "accuracy":
        fig.update_yaxes(range=[0, 1.02])
    return fig


def before_after_bars(
    after: dict[str, float | None], before: dict[str, float | None] | None, title: str = "Accuracy per class"
) -> go.Figure:
    """Per-class accuracy of the retrained model next to the model as it was, on the same validation data."""
    labels = list(after)
    fig = go.Figure()
    if before is not None:
        fig.add_trace(go.Bar(x=labels, y=[before.get(k) for k in labels], name="before", marker_color="#bbbbbb"))
    fig.add_trace(go.Bar(x=labels, y=[after[k] for k in labels], name="retrained", marker_color=TRAIN_COLOR))
    fig.update_layout(
        title=title,
        yaxis_range=[0, 1.02],
        yaxis_title="accuracy (recall)",
        barmode="group",
        height=320,
        margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
    )
    return fig


def clickable_confusion(confusion, labels: Sequence[str], title: str = "Confusion matrix") -> go.Figure:
    """The confusion heatmap with an invisible marker on every cell: heatmaps cannot be selected in plotly, scatter
    points can, so a click on a cell selects its marker and the page learns which (true, predicted) cell it was."""
    m = np.asarray(confusion, dtype=int)
    fig = confusion_heatmap(m, labels, title)
    fig.update_traces(hoverinfo="skip", hovertemplate=None, selector=dict(type="heatmap"))
    rows, cols = np.indices(m.shape)
    fig.add_trace(
        go.Scatter(
            x=[labels[c] for c in cols.ravel()],
            y=[labels[r] for r in rows.ravel()],
            mode="markers",
            marker=dict(size=28, symbol="square", opacity=0),
            customdata=m.ravel(),
            hovertemplate="true %{y}<br>predicted %{x}<br>%{customdata} samples<extra></extra>",
            showlegend=False,
            name="cells",
        )
    )
    return fig
