"""Figures for the Colors page: the model's decision regions over a flat slice of RGB space, beside the colours of
that slice themselves."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

if TYPE_CHECKING:
    from core.families.colors.model import DecisionGrid

__all__ = ["decision_regions", "family_colorscale"]

# A cell's family colour is washed towards white as the model grows unsure: 75% white at a uniform guess
# (confidence 1/9), none at certainty, so the borders between families show up as pale bands.
UNSURE_WASH = "rgba(255,255,255,0.75)"
SURE_WASH = "rgba(255,255,255,0)"


def family_colorscale(family_colors: Sequence[str]) -> list[list]:
    """A stepped plotly colour scale: class index k (with zmin=-0.5, zmax=K-0.5) gets exactly family_colors[k]."""
    k = len(family_colors)
    scale = []
    for i, color in enumerate(family_colors):
        scale += [[i / k, color], [(i + 1) / k, color]]
    return scale


def decision_regions(
    grid: DecisionGrid,
    class_names: Sequence[str],
    family_colors: Sequence[str],
    marker_rgb: Sequence[int] | None = None,
) -> go.Figure:
    """Two panels over the same slice: the real colours, and each cell painted in its argmax family's colour (paler
    where the top probability is lower; hover shows family and probability). `marker_rgb` is ringed on both."""
    n_classes = len(class_names)
    steps = len(grid.values)
    x_name, y_name = grid.axes
    span = 255 / (steps - 1)  # cell spacing in 0-255 units, for the image panel
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        horizontal_spacing=0.04,
        subplot_titles=(f"The colours ({grid.fixed_channel} = {grid.fixed_value})", "What the model calls them"),
    )
    fig.add_trace(
        go.Image(
            z=np.asarray(grid.rgb, dtype=np.uint8),  # (S, S, 3), row 0 is y = 0
            x0=0,
            dx=span,
            y0=0,
            dy=span,
            hovertemplate=f"{x_name} %{{x:.0f}}, {y_name} %{{y:.0f}}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Heatmap(
            z=grid.family,
            x=grid.values,
            y=grid.values,
            colorscale=family_colorscale(family_colors),
            zmin=-0.5,
            zmax=n_classes - 0.5,
            showscale=False,
            hoverinfo="skip",
        ),
        row=1,
        col=2,
    )
    names = np.asarray(class_names, dtype=object)[grid.family]  # (S, S) the argmax family's name per cell
    fig.add_trace(
        go.Heatmap(
            z=grid.confidence,
            x=grid.values,
            y=grid.values,
            colorscale=[[0, UNSURE_WASH], [1, SURE_WASH]],
            zmin=1 / n_classes,
            zmax=1,
            showscale=False,
            customdata=names,
            hovertemplate=f"{x_name} %{{x}}, {y_name} %{{y}}<br>%{{customdata}}: %{{z:.1%}}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    for k in np.unique(grid.family):  # a legend entry per family present in this slice
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                marker=dict(size=12, symbol="square", color=family_colors[k]),
                name=str(class_names[k]),
            ),
            row=1,
            col=2,
        )
    if marker_rgb is not None:
        _mark_colour(fig, grid, [int(v) for v in marker_rgb])
    fig.update_xaxes(title_text=x_name, range=[-span / 2, 255 + span / 2], constrain="domain")
    fig.update_yaxes(range=[-span / 2, 255 + span / 2], autorange=False)
    fig.update_yaxes(title_text=y_name, row=1, col=1)
    fig.update_layout(height=440, margin=dict(l=10, r=10, t=40, b=10), legend=dict(itemclick=False))
    return fig


def _mark_colour(fig: go.Figure, grid: DecisionGrid, rgb: list[int]) -> None:
    """Ring the user's colour on both panels; say so when it lies off this slice."""
    channels = ("R", "G", "B")
    fixed = channels.index(grid.fixed_channel)
    x, y = rgb[channels.index(grid.axes[0])], rgb[channels.index(grid.axes[1])]
    off = "" if rgb[fixed] == grid.fixed_value else f" (off this slice: {grid.fixed_channel} = {rgb[fixed]})"
    for col in (1, 2):
        fig.add_trace(
            go.Scatter(
                x=[x],
                y=[y],
                mode="markers",
                marker=dict(
                    size=16,
                    color="rgb({},{},{})".format(*rgb),
                    symbol="circle" if not off else "circle-open",
                    line=dict(width=3, color="black"),
                ),
                name="your colour" + off,
                showlegend=col == 2,
                hovertemplate=f"your colour RGB ({rgb[0]}, {rgb[1]}, {rgb[2]}){off}<extra></extra>",
            ),
            row=1,
            col=col,
        )
