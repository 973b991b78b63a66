"""The class's runs side by side: one dot per run, per model, so the spread of 30 runs of the same recipe is visible."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

__all__ = ["class_runs_strip"]


def class_runs_strip(rows: list[dict], highlight: str = "") -> go.Figure:
    """Accuracy of every recorded run (x) per model (rows), with a little vertical jitter so equal runs stay apart;
    the runs of `highlight` (a nickname) are drawn in the accent colour."""
    fig = go.Figure()
    families = sorted({r["family"] for r in rows})
    rng = np.random.default_rng(0)  # fixed: the picture must not move on every rerun
    for mine in (False, True):
        chosen = [r for r in rows if (r["nickname"] == highlight) == mine]
        if not chosen:
            continue
        y = [families.index(r["family"]) + rng.uniform(-0.18, 0.18) for r in chosen]
        fig.add_trace(
            go.Scatter(
                x=[r["accuracy"] for r in chosen],
                y=y,
                mode="markers",
                name="your runs" if mine else "the class's runs",
                marker=dict(size=12 if mine else 9, color="#e4572e" if mine else "#4c78a8", opacity=0.8),
                text=[
                    f"{r['nickname']}: {r['accuracy']:.1%} ({r['epochs']} epochs, batch {r['batch_size']}, "
                    f"lr {r['learning_rate']:g}, seed {r['seed']})"
                    for r in chosen
                ],
                hoverinfo="text",
            )
        )
    fig.update_layout(
        xaxis=dict(title="validation accuracy", range=[0, 1], tickformat=".0%"),
        yaxis=dict(tickvals=list(range(len(families))), ticktext=families, range=[-0.6, len(families) - 0.4]),
        height=140 + 70 * max(1, len(families)),
        margin=dict(l=10, r=10, t=30, b=10),
        title="Every run in the class",
    )
    return fig
