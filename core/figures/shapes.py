"""Figures for the Draw page: the first conv layer's feature maps as a grid, and galleries of 28x28 drawings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

__all__ = ["feature_map_grid", "tile_images", "drawing_gallery"]


def tile_images(images: np.ndarray, columns: int, gap: int = 1, fill: float = np.nan) -> np.ndarray:
    """(N, H, W) -> one (rows*(H+gap), columns*(W+gap)) mosaic; the gaps hold `fill` (NaN shows as blank)."""
    images = np.asarray(images, dtype=float)
    n, h, w = images.shape
    rows = max(1, -(-n // columns))
    out = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap), fill)
    for i in range(n):
        r, c = divmod(i, columns)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = images[i]
    return out


def feature_map_grid(maps: np.ndarray, title: str = "conv_1 feature maps", columns: int = 8) -> go.Figure:
    """(H, W, filters) activations -> a grid with one tile per filter, each tile scaled to its own maximum so weak
    filters stay visible (the hover shows the raw activation)."""
    maps = np.asarray(maps, dtype=float)
    tiles = np.moveaxis(maps, -1, 0)  # (filters, H, W)
    peak = tiles.reshape(len(tiles), -1).max(axis=1)
    scaled = tiles / np.where(peak > 0, peak, 1.0)[:, None, None]
    columns = min(columns, len(tiles))
    mosaic = tile_images(scaled, columns)
    raw = tile_images(tiles, columns)
    fig = go.Figure(
        go.Heatmap(
            z=mosaic,
            customdata=raw,
            colorscale="Viridis",
            showscale=False,
            hovertemplate="activation %{customdata:.2f}<extra></extra>",
        )
    )
    rows = mosaic.shape[0] / (maps.shape[0] + 1)
    fig.update_layout(title=title, height=int(60 + 90 * rows), margin=dict(l=5, r=5, t=35, b=5), plot_bgcolor="white")
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    return fig


def drawing_gallery(images: np.ndarray, titles: Sequence[str] | None = None, columns: int = 10) -> go.Figure:
    """28x28 white-on-black drawings side by side, e.g. the saved samples of one class."""
    images = np.asarray(images, dtype=float).reshape(-1, 28, 28)
    columns = max(1, min(columns, len(images)))
    fig = go.Figure(
        go.Heatmap(z=tile_images(images, columns, gap=2), colorscale="gray", showscale=False, hoverinfo="skip")
    )
    rows = -(-len(images) // columns)
    fig.update_layout(height=int(40 + 70 * rows), margin=dict(l=5, r=5, t=25, b=5), title=", ".join(titles or []))
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    return fig
