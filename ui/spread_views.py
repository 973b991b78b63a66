"""The Retrain studio's run-to-run section: the same quick training N times with different seeds, as a job with
progress and Cancel, and the spread of the accuracies as a plot (core.seed_spread)."""

from __future__ import annotations

import streamlit as st

from core.engine import seed_spread
from core.families.teach import figures as teach_figures
from ui.common import guarded


@guarded("The run-to-run section")
def spread_panel(family: str, label: str, owner: str, queue) -> None:
    st.subheader("Run to run: the same training, different seeds")
    st.caption(
        f"Train the {label.lower()} model's quick recipe several times, changing only the random seed (the start "
        "weights and the order of the batches). The data and the settings stay the same: the spread is the "
        "luck of one run."
    )
    key = f"spread-{owner}"
    job = queue.job_for(key)
    running = job is not None and job.active
    left, right = st.columns([1, 3], vertical_alignment="bottom")
    n = left.number_input("Runs", 2, seed_spread.MAX_RUNS, 5, key=f"retrain.spread_n.{family}", disabled=running)
    if right.button(f"Train {int(n)} times", key=f"retrain.spread.{family}", disabled=running):
        try:
            seed_spread.start_spread(family, int(n), owner, queue)
            st.rerun()
        except ValueError as exc:
            st.error(str(exc))
    st.fragment(run_every=1.0 if running else None)(_status)(queue, key, family, running)


def _status(queue, key: str, family: str, was_running: bool) -> None:
    job = queue.job_for(key)
    if job is None:
        return
    snap = job.snapshot()
    if was_running and not job.active:
        st.rerun()  # finished: redraw the section once, without the poller
    if job.active:
        runs = snap.epochs or 0
        st.progress(snap.progress, text=f"{snap.title} · run {min(snap.steps_done + 1, runs)} of {runs}")
        if st.button("Cancel the runs", key="retrain.spread.cancel"):
            queue.cancel(key)
            st.rerun(scope="fragment")
        return
    if snap.status in ("failed", "cancelled"):
        (st.error if snap.status == "failed" else st.warning)(snap.message)
        return
    result = job.result or {}
    if result.get("family") != family:
        return
    r = result["recipe"]
    st.plotly_chart(
        teach_figures.seed_spread_figure(result, f"{result['n_runs']} runs of the same recipe"),
        key=f"retrain.spread_fig.{family}",
    )
    st.markdown(
        f"Validation accuracy from **{result['min']:.1%}** to **{result['max']:.1%}** (mean {result['mean']:.1%}, "
        f"standard deviation {result['std']:.1%}) over {result['n_runs']} runs of {r['epochs']} epoch(s), batch "
        f"{r['batch_size']}, learning rate {r['learning_rate']:g}."
    )
