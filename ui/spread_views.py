"""The Retrain studio's run-to-run section: the same quick training N times with different seeds, as a job with
progress and Cancel, and the spread of the accuracies as a plot (core.seed_spread)."""

from __future__ import annotations

import streamlit as st

from core.engine import seed_spread
from core.engine.jobs import JobQueue
from core.families.teach import figures as teach_figures
from ui.common import guarded
from ui.job_panel import PanelText, job_panel

SPREAD_PANEL = PanelText(key="retrain.spread", name="The runs", cancel="Cancel the runs", unit="Run")


@guarded("The run-to-run section")
def spread_panel(family: str, label: str, owner: str, queue: JobQueue) -> None:
    """The section: how many runs, the button that queues them, their job panel, and the spread once done."""
    st.subheader("Run to run: the same training, different seeds")
    st.caption(
        f"Train the {label.lower()} model's quick recipe several times, changing only the random seed (the start "
        "weights and the order of the batches). The data and the settings stay the same: the spread is the "
        "luck of one run."
    )
    key = f"spread-{owner}"
    seen = queue.snapshot(key)
    running = seen is not None and seen.active
    left, right = st.columns([1, 3], vertical_alignment="bottom")
    n = left.number_input("Runs", 2, seed_spread.MAX_RUNS, 5, key=f"retrain.spread_n.{family}", disabled=running)
    if right.button(f"Train {int(n)} times", key=f"retrain.spread.{family}", disabled=running):
        try:
            seed_spread.start_spread(family, int(n), owner, queue)
            st.rerun()
        except ValueError as exc:
            st.error(str(exc))
    job_panel(queue, key, seen, SPREAD_PANEL)
    if seen is not None and seen.status == "done" and seen.result is not None:
        _spread(seen.result, family)


def _spread(result: seed_spread.SeedSpread, family: str) -> None:
    """The finished runs' accuracies as a plot and one sentence (only under the family they trained)."""
    if result.family != family:
        return
    r = result.recipe
    st.plotly_chart(
        teach_figures.seed_spread_figure(result.to_dict(), f"{result.n_runs} runs of the same recipe"),
        key=f"retrain.spread_fig.{family}",
    )
    st.markdown(
        f"Validation accuracy from **{result.min:.1%}** to **{result.max:.1%}** (mean {result.mean:.1%}, "
        f"standard deviation {result.std:.1%}) over {result.n_runs} runs of {r.epochs} epoch(s), batch "
        f"{r.batch_size}, learning rate {r.learning_rate:g}."
    )
