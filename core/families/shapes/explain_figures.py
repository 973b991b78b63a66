"""Figures for the Draw page's layer-by-layer view (CNN Explainer style): a layer's feature maps as one picture, one
feature map as a clickable heatmap, and one cell's arithmetic (input window, kernel, products; a pool cell's max)."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.families.shapes.explain import ConvCell, PoolCell
from core.families.shapes.explain_dense import DenseUnit, SoftmaxStep
from core.families.shapes.figures import feature_map_mosaic

__all__ = [
    "layer_mosaic",
    "feature_map_figure",
    "clicked_cell",
    "conv_cell_figure",
    "channel_shares_figure",
    "pool_cell_figure",
    "dense_layer_figure",
    "dense_terms_figure",
    "softmax_figure",
]

MARK = "#e4572e"  # the selected cell's outline, the chosen channel's bar
BASE = "#4c78a8"


def layer_mosaic(maps: np.ndarray, width_px: int = 240) -> np.ndarray:
    """(H, W, filters) -> an RGB picture about `width_px` wide, one tile per filter (8 columns up to 32 filters,
    16 beyond), each tile scaled to its own maximum."""
    maps = np.asarray(maps)
    h, w, n = maps.shape
    columns = min(n, 8 if n <= 32 else 16)
    scale = max(1, width_px // (columns * (w + 1)))
    return feature_map_mosaic(maps, columns=columns, scale=scale)


def _cell_box(row: int, col: int, color: str = MARK) -> dict:
    """A rectangle around cell (row, col), 0-based, on axes that number cells from 1."""
    return dict(type="rect", x0=col + 0.5, x1=col + 1.5, y0=row + 0.5, y1=row + 1.5, line=dict(color=color, width=3))


def feature_map_figure(values: np.ndarray, selected: tuple[int, int] | None = None, title: str = "") -> go.Figure:
    """One (H, W) feature map as a heatmap, rows and columns numbered from 1, the selected cell (0-based) outlined.

    A heatmap cannot be selected in plotly.js, so an invisible marker sits on every cell: clicking a cell selects
    its marker, which Streamlit reports (`on_select`); `clicked_cell` reads the cell back from that report."""
    values = np.asarray(values, dtype=float)
    h, w = values.shape
    rows, cols = np.divmod(np.arange(h * w), w)
    fig = go.Figure(
        go.Heatmap(
            z=values,
            x=np.arange(1, w + 1),
            y=np.arange(1, h + 1),
            colorscale="Viridis",
            zmin=0.0,
            zmax=max(float(values.max()), 1e-9),
            hoverinfo="skip",
            colorbar=dict(thickness=10),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=cols + 1,
            y=rows + 1,
            mode="markers",
            marker=dict(symbol="square", size=max(6, 300 // max(h, w)), color="rgba(0,0,0,0)"),
            selected=dict(marker=dict(opacity=1)),
            unselected=dict(marker=dict(opacity=1)),  # plotly would dim the others; they are invisible anyway
            text=[f"row {r + 1}, column {c + 1}: {v:.4f}" for r, c, v in zip(rows, cols, values.ravel())],
            hovertemplate="%{text}<extra></extra>",
            showlegend=False,
        )
    )
    if selected is not None:
        fig.add_shape(_cell_box(*selected))
    fig.update_layout(title=title, height=380, margin=dict(l=10, r=10, t=40 if title else 10, b=10))
    fig.update_xaxes(title="column", range=[0.5, w + 0.5], constrain="domain", showgrid=False, zeroline=False)
    fig.update_yaxes(title="row", range=[h + 0.5, 0.5], scaleanchor="x", showgrid=False, zeroline=False)  # row 1 on top
    return fig


def clicked_cell(event, shape: tuple[int, int]) -> tuple[int, int] | None:
    """The 0-based (row, col) a click on `feature_map_figure` selected, from Streamlit's selection report (an
    object or dict with selection.points[].x/y); None when the report holds no cell of an (H, W) map."""
    try:
        selection = event["selection"] if isinstance(event, dict) else event.selection
        points = selection["points"] if isinstance(selection, dict) else selection.points
        point = points[-1]
        x, y = float(point["x"]), float(point["y"])
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):
        return None
    if not (math.isfinite(x) and math.isfinite(y)):
        return None
    row, col = round(y) - 1, round(x) - 1
    return (row, col) if 0 <= row < shape[0] and 0 <= col < shape[1] else None


def _numbers(values: np.ndarray, digits: int = 3) -> np.ndarray:
    """Each value written with `digits` decimals, never as -0.000."""

    def write(value: float) -> str:
        text = f"{value:.{digits}f}"
        return text[1:] if text.startswith("-") and float(text) == 0 else text

    return np.vectorize(write)(values)


def _grid_heatmap(values, text, colorscale: str, zmid: float | None, zmin=None, zmax=None) -> go.Heatmap:
    values = np.asarray(values, dtype=float)
    kh, kw = values.shape
    return go.Heatmap(
        z=values,
        x=np.arange(1, kw + 1),
        y=np.arange(1, kh + 1),
        text=text,
        texttemplate="%{text}",
        colorscale=colorscale,
        zmid=zmid,
        zmin=zmin,
        zmax=zmax,
        showscale=False,
        hoverinfo="skip",
    )


def conv_cell_figure(cell: ConvCell, channel: int) -> go.Figure:
    """Input channel `channel` (0-based) of a conv cell: the input window (zero padding marked), the kernel slice
    and their products, side by side with every number written in."""
    window, kernel = cell.window[:, :, channel], cell.kernel[:, :, channel]
    products = cell.products[:, :, channel]
    window_text = np.where(cell.outside, "0 (pad)", _numbers(window))
    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=("input window", "kernel weights", "window × kernel"),
        horizontal_spacing=0.06,
    )
    top = max(float(window.max()), 1e-9)
    fig.add_trace(_grid_heatmap(window, window_text, "Viridis", None, 0.0, top), 1, 1)
    fig.add_trace(_grid_heatmap(kernel, _numbers(kernel), "RdBu", 0.0), 1, 2)
    fig.add_trace(_grid_heatmap(products, _numbers(products), "RdBu", 0.0), 1, 3)
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=40, b=10))
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    for i in (2, 3):
        fig.update_yaxes(scaleanchor=f"x{i}", row=1, col=i)
    return fig


def channel_shares_figure(cell: ConvCell, chosen: int | None = None) -> go.Figure:
    """Each input channel's share of a conv cell (its window × kernel products summed), then the bias: the bars
    add up to the pre-activation."""
    shares = np.asarray(cell.channel_sums, dtype=float)
    labels = [f"ch {i + 1}" for i in range(len(shares))] + ["bias"]
    values = [*shares, cell.bias]
    colors = [MARK if i == chosen else BASE for i in range(len(shares))] + ["#888888"]
    fig = go.Figure(go.Bar(x=labels, y=values, marker_color=colors, hovertemplate="%{x}: %{y:.4f}<extra></extra>"))
    fig.update_layout(
        title=f"Each input channel's share, and the bias: they add up to {cell.pre_activation:.4f}",
        height=260,
        margin=dict(l=10, r=10, t=40, b=10),
    )
    fig.update_xaxes(tickangle=-90 if len(labels) > 20 else 0, tickfont=dict(size=9))
    return fig


def pool_cell_figure(cell: PoolCell) -> go.Figure:
    """A max-pool cell's window with its values written in and the maximum outlined."""
    text = np.where(cell.outside, "outside", _numbers(cell.window, 4))
    shown = np.where(cell.outside, np.nan, cell.window)
    fig = go.Figure(_grid_heatmap(shown, text, "Viridis", None, 0.0, max(cell.output, 1e-9)))
    fig.add_shape(_cell_box(*cell.argmax))
    fig.update_layout(title=f"max = {cell.output:.4f}", height=260, width=300, margin=dict(l=10, r=10, t=40, b=10))
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    return fig


def dense_layer_figure(values: np.ndarray, chosen: int | None = None, title: str = "") -> go.Figure:
    """A Dense layer's outputs as bars, one per unit, the chosen unit marked (click a bar to choose it)."""
    values = np.asarray(values, dtype=float)
    colors = [MARK if i == chosen else BASE for i in range(len(values))]
    fig = go.Figure(
        go.Bar(
            x=list(range(1, len(values) + 1)),
            y=values,
            marker_color=colors,
            hovertemplate="unit %{x}: %{y:.4f}<extra></extra>",
        )
    )
    fig.update_layout(title=title, height=240, margin=dict(l=10, r=10, t=40, b=10), xaxis_title="unit")
    return fig


def dense_terms_figure(cell: DenseUnit) -> go.Figure:
    """The largest input × weight terms of one unit, the rest together and the bias: the bars add up to its
    weighted sum (the pre-activation)."""
    top = list(cell.top)
    rest = float(cell.products.sum() - cell.products[top].sum())
    labels = [f"{cell.source}[{int(i) + 1}]" for i in top] + [f"other {cell.products.size - len(top)}", "bias"]
    values = [float(cell.products[i]) for i in top] + [rest, cell.bias]
    colors = [MARK if v > 0 else BASE for v in values[:-2]] + ["#bbbbbb", "#888888"]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=labels,
            orientation="h",
            marker_color=colors,
            text=[f"{v:.3f}" for v in values],
            textposition="auto",
            hovertemplate="%{y}: %{x:.4f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"{cell.layer} unit {cell.unit + 1}: the terms add up to {cell.pre_activation:.4f}",
        height=60 + 24 * len(labels),
        margin=dict(l=10, r=10, t=40, b=10),
    )
    fig.update_yaxes(autorange="reversed")
    return fig


def softmax_figure(step: SoftmaxStep, class_names: list[str]) -> go.Figure:
    """Logits on the left, probabilities on the right, every bar with its number: what the softmax did."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("logits (weighted sums)", "softmax: probabilities"))
    best = int(np.argmax(step.probabilities))
    colors = [MARK if i == best else BASE for i in range(len(class_names))]
    fig.add_trace(
        go.Bar(x=step.logits, y=class_names, orientation="h", marker_color=colors,
               text=[f"{v:.2f}" for v in step.logits], textposition="auto"),
        row=1, col=1,
    )  # fmt: skip
    fig.add_trace(
        go.Bar(x=step.probabilities, y=class_names, orientation="h", marker_color=colors,
               text=[f"{v:.1%}" for v in step.probabilities], textposition="auto"),
        row=1, col=2,
    )  # fmt: skip
    fig.update_layout(showlegend=False, height=60 + 26 * len(class_names), margin=dict(l=10, r=10, t=40, b=10))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(range=[0, 1], row=1, col=2)
    return fig
