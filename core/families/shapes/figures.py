"""Figures for the Draw page: value pictures (the model input, the first conv layer's feature maps as a grid), and
galleries of 28x28 drawings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

__all__ = ["feature_map_mosaic", "value_image", "tile_images", "drawing_gallery"]


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


def _viridis_lut() -> np.ndarray:
    """Plotly's Viridis colour scale as a (256, 3) uint8 lookup table."""
    from plotly.colors import hex_to_rgb, sequential

    stops = np.array([hex_to_rgb(c) for c in sequential.Viridis], dtype=float)  # (K, 3)
    at = np.linspace(0, 1, len(stops))
    levels = np.linspace(0, 1, 256)
    return np.stack([np.interp(levels, at, stops[:, ch]) for ch in range(3)], axis=1).round().astype(np.uint8)


_LUT = _viridis_lut()


def value_image(values: np.ndarray, scale: int = 1) -> np.ndarray:
    """A 2-D array of values in 0..1 -> an RGB uint8 picture in Viridis (dark purple 0, yellow 1), each value a
    `scale` x `scale` square; NaN cells are white (the gaps of a mosaic)."""
    values = np.asarray(values, dtype=float)
    blank = np.isnan(values)
    idx = (np.clip(np.nan_to_num(values), 0.0, 1.0) * 255).round().astype(np.intp)
    rgb = _LUT[idx]  # (H, W, 3)
    rgb[blank] = 255
    return np.repeat(np.repeat(rgb, scale, axis=0), scale, axis=1)


def feature_map_mosaic(maps: np.ndarray, columns: int = 8, scale: int = 4) -> np.ndarray:
    """(H, W, filters) activations -> one RGB picture with a tile per filter in reading order, each tile scaled to its
    own maximum so weak filters stay visible. A picture, not a plotly heatmap: on the live Draw page it is a PNG of a
    few KB per update instead of ~300 KB of JSON for the browser to parse and draw."""
    tiles = np.moveaxis(np.asarray(maps, dtype=float), -1, 0)  # (filters, H, W)
    peak = tiles.reshape(len(tiles), -1).max(axis=1)
    scaled = tiles / np.where(peak > 0, peak, 1.0)[:, None, None]
    return value_image(tile_images(scaled, min(columns, len(tiles))), scale)


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
