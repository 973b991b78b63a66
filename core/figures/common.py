"""Figure helpers shared by every page: probability bars, loss curves, heatmaps."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

__all__ = ["probability_bars", "side_by_side_bars", "heatmap", "confusion_heatmap", "per_class_bars"]

ACCENT = "#e4572e"
BASE = "#4c78a8"


def probability_bars(
    probabilities: Sequence[float],
    labels: Sequence[str],
    title: str = "",
    highlight: int | None = None,
    colors: Sequence[str] | None = None,
    range_max: float | None = 1.0,
) -> go.Figure:
    """Horizontal bars, one per class, with the top (or `highlight`) class marked."""
    p = np.asarray(probabilities, dtype=float)
    layout = {
        "title": {"text": title},
        "height": 40 + 28 * len(p),
        "margin": {"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        "yaxis": {"autorange": "reversed"},
    }
    if range_max is not None:
        layout["xaxis"] = {"range": _bar_range(p, range_max)}
    return unvalidated_figure([_bars(p, labels, highlight, colors)], layout)


def side_by_side_bars(panels: Sequence[tuple[str, Sequence[float] | None, float | None]], labels: Sequence[str]):
    """Several bar panels over the same classes in one figure, each (title, values or None, range_max); a None
    panel stays empty (its caller says why). One figure instead of one per panel: the Colors page redraws these on
    every pick, and each chart is a message of its own."""
    n = len(panels)
    gap = 0.04
    width = (1.0 - gap * (n - 1)) / n
    data, annotations = [], []
    layout: dict = {
        "height": 40 + 28 * len(labels),
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "showlegend": False,
    }
    for i, (title, values, range_max) in enumerate(panels):
        suffix = "" if i == 0 else str(i + 1)
        start = i * (width + gap)
        layout[f"xaxis{suffix}"] = {"domain": [start, start + width], "anchor": f"y{suffix}"}
        layout[f"yaxis{suffix}"] = {"autorange": "reversed", "anchor": f"x{suffix}", "showticklabels": i == 0}
        if i:
            layout[f"yaxis{suffix}"]["matches"] = "y"
        annotations.append(
            {
                "text": title,
                "x": start + width / 2,
                "y": 1.0,
                "xref": "paper",
                "yref": "paper",
                "yanchor": "bottom",
                "showarrow": False,
            }
        )
        if values is None:
            continue
        p = np.asarray(values, dtype=float)
        if range_max is not None:
            layout[f"xaxis{suffix}"]["range"] = _bar_range(p, range_max)
        data.append({**_bars(p, labels, None, None), "xaxis": f"x{suffix}", "yaxis": f"y{suffix}"})
    layout["annotations"] = annotations
    return unvalidated_figure(data, layout)


def _bar_range(p: np.ndarray, range_max: float) -> list[float]:
    return [min(0.0, float(p.min())), max(range_max, float(p.max()))]


def _bars(p: np.ndarray, labels: Sequence[str], highlight: int | None, colors: Sequence[str] | None) -> dict:
    """One horizontal bar trace with the top (or `highlight`) class marked and each value written on its bar."""
    top = int(np.argmax(p)) if highlight is None else highlight
    bar_colors = list(colors) if colors is not None else [ACCENT if i == top else BASE for i in range(len(p))]
    return {
        "type": "bar",
        "x": p.tolist(),
        "y": [str(label) for label in labels],
        "orientation": "h",
        "marker": {
            "color": bar_colors,
            "line": {"color": ["black" if i == top else "rgba(0,0,0,0)" for i in range(len(p))], "width": 2},
        },
        "text": [f"{v:.3f}" for v in p],
        "textposition": "auto",
    }


def unvalidated_figure(data: list[dict], layout: dict) -> go.Figure:
    """A Figure from plain dicts without plotly's per-property validation. Validation cost ~5 ms per bar chart, and
    the live pages draw up to four on every colour pick or stroke; these builders' dicts are checked against the
    validating constructor in the tests (tests/unit/test_figures.py), so nothing invalid reaches the browser."""
    return go.Figure(data=data, layout=layout, _validate=False)


def heatmap(
    matrix, title: str = "", x_labels=None, y_labels=None, colorscale: str = "RdBu", zmid: float | None = 0.0
) -> go.Figure:
    m = np.asarray(matrix, dtype=float)
    fig = go.Figure(go.Heatmap(z=m, x=x_labels, y=y_labels, colorscale=colorscale, zmid=zmid))
    fig.update_layout(title=title, height=320, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def count_heatmap(
    counts,
    x_labels: Sequence[str],
    y_labels: Sequence[str],
    *,
    title: str,
    x_title: str,
    y_title: str,
    hover: str,
    colorscale: str = "Blues",
    base_height: int = 120,
) -> go.Figure:
    """A grid of whole counts with each cell's number written in; rows read top to bottom."""
    m = np.asarray(counts, dtype=int)
    fig = go.Figure(
        go.Heatmap(
            z=m,
            x=list(x_labels),
            y=list(y_labels),
            colorscale=colorscale,
            text=m,
            texttemplate="%{text}",
            hovertemplate=hover,
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title=x_title,
        yaxis_title=y_title,
        height=base_height + 30 * len(y_labels),
        margin=dict(l=10, r=10, t=40, b=10),
    )
    fig.update_yaxes(autorange="reversed")
    return fig


def confusion_heatmap(confusion, labels: Sequence[str], title: str = "Confusion matrix") -> go.Figure:
    """Rows are the true class, columns the predicted class; each cell shows its count."""
    return count_heatmap(
        confusion,
        labels,
        labels,
        title=title,
        x_title="predicted",
        y_title="true",
        hover="true %{y}<br>predicted %{x}<br>%{z} samples<extra></extra>",
    )


def per_class_bars(
    values: dict[str, float], title: str = "Accuracy per class", compare: dict[str, float] | None = None
) -> go.Figure:
    fig = go.Figure(go.Bar(x=list(values), y=list(values.values()), name="this model", marker_color=BASE))
    if compare:
        fig.add_trace(go.Bar(x=list(compare), y=list(compare.values()), name="before", marker_color="#bbbbbb"))
    fig.update_layout(title=title, yaxis_range=[0, 1], height=300, barmode="group", margin=dict(l=10, r=10, t=40, b=10))
    return fig
