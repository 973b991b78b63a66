"""Figures for the model inspector: the .bin strip chart, tensor histograms and heatmaps, the version diff, and the
layer graph."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from core.inspector.cost import BYTE_MAP_SEGMENTS

__all__ = ["byte_strip", "tensor_histogram_figure", "tensor_heatmap", "diff_bars", "layer_graph", "layer_graph_label"]


def byte_strip(
    manifest: Sequence[dict],
    title: str = "Which bytes of the weights file belong to which layer",
    max_segments: int = BYTE_MAP_SEGMENTS,
) -> go.Figure:
    """One horizontal strip per weights file; each tensor is a segment [offset, offset + length), coloured by layer.

    At most `max_segments` tensors are drawn (the largest, which are the ones wide enough to see); the title then says
    how many were left out. One pass groups the rows by layer, one trace per layer.
    """
    drawn = list(manifest)
    if len(drawn) > max_segments:
        largest = sorted(range(len(drawn)), key=lambda i: -drawn[i]["length"])[:max_segments]
        drawn = [drawn[i] for i in sorted(largest)]
        title += f" (the {max_segments:,} largest of {len(manifest):,} tensors drawn)"
    by_layer: dict[str, list[dict]] = {}
    for row in drawn:
        by_layer.setdefault(row["layer"], []).append(row)
    palette = qualitative.Plotly + qualitative.D3
    fig = go.Figure()
    for i, (layer, rows) in enumerate(by_layer.items()):
        fig.add_trace(
            go.Bar(
                name=layer,
                y=[r["shard"] for r in rows],
                x=[r["length"] for r in rows],
                base=[r["file_offset"] for r in rows],
                orientation="h",
                marker_color=palette[i % len(palette)],
                marker_line_color="white",
                marker_line_width=1,
                customdata=[
                    [r["name"], str(r["shape"]), r["file_offset"], r["file_offset"] + r["length"]] for r in rows
                ],
                hovertemplate="%{customdata[0]} %{customdata[1]}<br>bytes %{customdata[2]:,}–%{customdata[3]:,}"
                "<extra></extra>",
            )
        )
    fig.update_layout(
        title=title,
        barmode="overlay",
        height=110 + 40 * len({r["shard"] for r in drawn}),
        xaxis_title="byte offset",
        margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", y=-0.6),
    )
    return fig


def tensor_histogram_figure(counts, edges, title: str = "") -> go.Figure:
    """Bars over the bin edges of np.histogram."""
    counts, edges = np.asarray(counts), np.asarray(edges, dtype=float)
    centers = (edges[:-1] + edges[1:]) / 2 if edges.size > 1 else edges
    widths = np.diff(edges) if edges.size > 1 else None
    fig = go.Figure(go.Bar(x=centers, y=counts, width=widths, marker_color="#4c78a8"))
    fig.update_layout(
        title=title, xaxis_title="value", yaxis_title="count", height=280, margin=dict(l=10, r=10, t=40, b=10)
    )
    return fig


def tensor_heatmap(matrix, title: str = "", symmetric: bool = True, square_cells: bool = False) -> go.Figure:
    """A weight matrix (or a conv mosaic with NaN gaps) on a diverging scale centred on 0; square cells keep conv
    tiles square."""
    m = np.asarray(matrix, dtype=float)
    finite = m[np.isfinite(m)]
    bound = float(np.abs(finite).max()) if finite.size else 1.0
    fig = go.Figure(
        go.Heatmap(
            z=m,
            colorscale="RdBu_r",
            zmid=0.0 if symmetric else None,
            zmin=-bound if symmetric else None,
            zmax=bound if symmetric else None,
            hoverongaps=False,
            hovertemplate="row %{y}, column %{x}: %{z:.4g}<extra></extra>",
        )
    )
    height = int(min(700, max(180, 12 * m.shape[0] + 80)))
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40, b=10))
    fig.update_yaxes(autorange="reversed")
    if square_cells:
        fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def diff_bars(rows: Sequence[dict], title: str = "What retraining changed, per tensor") -> go.Figure:
    """Relative change ‖after − before‖ / ‖before‖ per tensor; hover shows the L2 norm of the change."""
    rows = [r for r in rows if r.get("relative_change") is not None]
    fig = go.Figure(
        go.Bar(
            x=[r["relative_change"] for r in rows],
            y=[r["name"] for r in rows],
            orientation="h",
            marker_color="#e4572e",
            customdata=[[r["l2_change"]] for r in rows],
            hovertemplate="%{y}<br>relative change %{x:.3g}<br>L2 of change %{customdata[0]:.4g}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title="relative change",
        height=80 + 28 * max(1, len(rows)),
        margin=dict(l=10, r=10, t=40, b=10),
    )
    fig.update_yaxes(autorange="reversed")
    return fig


def layer_graph_label(node: dict) -> str:
    """A graph node's text: name, class → output shape, parameters ('?' where the model could not be built)."""
    shape = node.get("output_shape") or "?"
    params = node.get("params")
    count = "? params" if params is None else f"{params:,} param" + ("" if params == 1 else "s")
    return f"<b>{node['name']}</b><br>{node['class']} → {shape}<br>{count}"


def layer_graph(nodes: Sequence[dict], title: str = "The layers as a graph") -> go.Figure:
    """A Sequential model as a chain, top to bottom: one node per layer (coloured by class, labelled with name,
    class, output shape and parameters) and an arrow from each layer to the next."""
    classes = list(dict.fromkeys(n["class"] for n in nodes))
    palette = qualitative.Plotly + qualitative.D3
    ys = [-float(i) for i in range(len(nodes))]
    fig = go.Figure()
    edge_x: list[float | None] = []
    edge_y: list[float | None] = []
    for upper, lower in zip(ys, ys[1:], strict=False):
        edge_x += [0.0, 0.0, None]
        edge_y += [upper, lower, None]
    fig.add_trace(
        go.Scatter(
            x=edge_x,
            y=edge_y,
            mode="lines",
            name="edges",
            line=dict(color="#999", width=2),
            hoverinfo="skip",
            showlegend=False,
        )
    )
    for upper, lower in zip(ys, ys[1:], strict=False):  # the arrowheads: data flows from each layer to the next
        fig.add_annotation(
            x=0.0,
            y=lower + 0.22,
            ax=0.0,
            ay=upper - 0.22,
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            showarrow=True,
            arrowhead=2,
            arrowsize=1.2,
            arrowcolor="#999",
            text="",
        )
    for cls in classes:
        members = [i for i, n in enumerate(nodes) if n["class"] == cls]
        fig.add_trace(
            go.Scatter(
                x=[0.0] * len(members),
                y=[ys[i] for i in members],
                mode="markers+text",
                name=cls,
                marker=dict(
                    symbol="square", size=22, color=palette[classes.index(cls) % len(palette)], line=dict(width=1)
                ),
                text=[layer_graph_label(nodes[i]) for i in members],
                textposition="middle right",
                customdata=[[i] for i in members],
                hovertemplate="layer %{customdata[0]}: %{text}<extra></extra>",
            )
        )
    fig.update_layout(
        title=title,
        height=90 + 78 * max(1, len(nodes)),
        margin=dict(l=10, r=10, t=40, b=10),
        showlegend=True,
        legend=dict(title="layer class"),
        plot_bgcolor="white",
    )
    fig.update_xaxes(visible=False, range=[-0.3, 2.2])
    fig.update_yaxes(visible=False, range=[-len(nodes) + 0.5, 0.6])
    return fig
