"""Figures for the Retrain studio: live training curves (per epoch, and per reported batch for slow models),
the loss of a diverged run up to its divergence, the before/after comparison, and two versions side by side."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.figures.common import confusion_heatmap, count_heatmap

__all__ = [
    "training_curves",
    "before_after_bars",
    "clickable_confusion",
    "divergence_curve",
    "divergence_label",
    "agreement_heatmap",
]

TRAIN_COLOR = "#4c78a8"
VAL_COLOR = "#e4572e"
DIVERGED_COLOR = "#d62728"


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


def divergence_label(value: float) -> str:
    """A loss as text: 'nan', 'inf' and '-inf' spelled out (plotly cannot place them), others to 4 digits."""
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.4g}"


def divergence_curve(curve: dict, title: str = "Loss up to the divergence") -> go.Figure:
    """The loss a diverged run recorded (core.training.TrainResult.loss_curve): every batch (Keras' running mean
    within its epoch) at fractional epochs, each finished epoch, and a red cross where it diverged. A NaN or infinite
    value cannot be plotted, so its cross sits just above the highest finite loss with the value written by it."""
    spe = max(1, int(curve.get("steps_per_epoch") or 1))
    epoch_logs, batch_logs = curve.get("epoch_logs") or [], curve.get("batch_logs") or []
    where = curve.get("divergence") or {}
    step = where.get("step")
    fig = go.Figure()
    finite: list[float] = []

    def _points(rows, x_of, key):
        kept = [r for r in rows if key in r and math.isfinite(float(r[key]))]
        finite.extend(float(r[key]) for r in kept)
        return [x_of(r) for r in kept], [float(r[key]) for r in kept]

    # The diverging batch itself is drawn as the marker, not as a line point.
    before = [b for b in batch_logs if step is None or where.get("batch") is None or b.get("step") != step]
    x, y = _points(before, lambda b: b["step"] / spe, "loss")
    if x:
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines+markers",
                line=dict(color=TRAIN_COLOR, width=1),
                marker=dict(size=4),
                name="training (every batch)",
            )
        )
    for key, name, color in (("loss", "training (epoch)", TRAIN_COLOR), ("val_loss", "validation", VAL_COLOR)):
        x, y = _points(epoch_logs, lambda e: e["epoch"], key)
        if x:
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", line=dict(color=color), name=name))
    ceiling = where.get("ceiling")
    if where.get("reason") == "ceiling" and ceiling is not None and math.isfinite(float(ceiling)):
        finite.append(float(ceiling))
        fig.add_hline(
            y=float(ceiling),
            line=dict(color=DIVERGED_COLOR, dash="dot", width=1),
            annotation_text=f"ceiling {float(ceiling):.3g} (far worse than guessing)",
            annotation_position="top left",
        )
    if where:
        value = float(where.get("value", float("nan")))
        x_mark = (step / spe) if (where.get("batch") is not None and step) else where.get("epoch", 0)
        top = max(finite, default=1.0)
        y_mark = value if math.isfinite(value) else top * 1.15 if top > 0 else 1.0
        place = f"epoch {where.get('epoch')}" + (f", batch {where['batch']}" if where.get("batch") else "")
        label = f"{where.get('metric', 'loss')} = {divergence_label(value)}"
        fig.add_trace(
            go.Scatter(
                x=[x_mark],
                y=[y_mark],
                mode="markers+text",
                marker=dict(color=DIVERGED_COLOR, size=14, symbol="x"),
                text=[label],
                textposition="top left",
                textfont=dict(color=DIVERGED_COLOR),
                hovertext=[f"diverged here: {label} ({place})"],
                hoverinfo="text",
                name="diverged here",
            )
        )
        finite.append(y_mark)
    positive = [v for v in finite if v > 0]
    log_scale = len(positive) == len(finite) and len(positive) > 1 and max(positive) / min(positive) > 1e3
    fig.update_layout(
        title=title,
        xaxis_title="epoch",
        yaxis_title="loss" + (" (log scale)" if log_scale else ""),
        height=340,
        margin=dict(l=10, r=10, t=50, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
    )
    if log_scale:
        fig.update_yaxes(type="log")
    return fig


def agreement_heatmap(counts, labels_a: Sequence[str], labels_b: Sequence[str], title: str) -> go.Figure:
    """How often model A predicted each class (rows) while model B predicted each class (columns), on the same
    inputs: the diagonal is where they agree, everything off it is a disagreement."""

    return count_heatmap(
        counts,
        labels_b,
        labels_a,
        title=title,
        x_title="model B predicts",
        y_title="model A predicts",
        hover="A says %{y}<br>B says %{x}<br>%{z} inputs<extra></extra>",
        colorscale="Purples",
        base_height=80,
    )


def history_curves(history: dict[str, list[float]], metric: str = "loss", title: str | None = None) -> go.Figure:
    """Training and validation curves of one metric from a Keras-style history dict (`metric`, `val_<metric>`)."""
    n = max((len(v) for v in history.values()), default=0)
    logs = [{"epoch": i + 1, **{k: v[i] for k, v in history.items() if i < len(v)}} for i in range(n)]
    return training_curves(logs, metric=metric, title=title)
