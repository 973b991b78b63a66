"""The one panel of a background job (Retrain, Teach and its experiments, the run-to-run spread): queue place and
wait, progress, live curves, Cancel, and a plain line when the job failed or was cancelled. A polled fragment that
reads only typed snapshots (core.engine.jobs.JobSnapshot)."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from core.engine.jobs import JobQueue, JobSnapshot
from core.figures import training as training_figures
from ui.common import guarded

# Polled once a second while it trains, every 3 s while it only waits in the queue (30 waiting panels would
# otherwise cost the server ~0.6 s of CPU per second: bench --only class).
RUNNING_POLL_SECONDS = 1.0
QUEUED_POLL_SECONDS = 3.0


@dataclass(frozen=True)
class PanelText:
    """What one job panel says and the keys of its widgets."""

    key: str  # prefix of its widgets' keys: "retrain" gives "retrain.cancel"
    name: str  # the job in a sentence: "The training", "The experiment"
    cancel: str = "Cancel training"  # the Cancel button's label
    heading: str = ""  # a subheader while the job is active ("" none)
    unit: str = "Epoch"  # what the work counts in the progress line: "Epoch 3 of 5"
    finishing: str = ""  # the progress line once every epoch is done and the job is scoring and saving ("" as usual)
    curves: bool = False  # draw the live loss and accuracy curves while it trains


def poll_seconds(snap: JobSnapshot | None) -> float | None:
    """How often the panel looks again: while queued every 3 s, while running every second, otherwise never."""
    if snap is None or not snap.active:
        return None
    return QUEUED_POLL_SECONDS if snap.status == "queued" else RUNNING_POLL_SECONDS


def eta_text(seconds: float | None) -> str:
    if seconds is None:
        return "estimating…"
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d} left"


def duration_text(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def queue_text(snap: JobSnapshot) -> str:
    """Where a queued job stands, in one sentence (its estimate comes from `JobQueue.snapshot`)."""
    est = snap.estimate
    if est is None or not est.position:
        return "⏳ Waiting in the queue: your turn comes next."
    wait = est.wait_seconds
    return (
        f"⏳ Waiting in the queue: you are number **{est.position}**"
        + (f", your turn in about **{duration_text(wait)}**" if wait is not None else "")
        + f". This server trains {est.limit} model(s) at once here ({est.running} running, {est.waiting} waiting); "
        "the wait is estimated from how long recent trainings took."
    )


def progress_text(snap: JobSnapshot, text: PanelText) -> str:
    if snap.progress >= 1.0 and text.finishing:
        return text.finishing
    return f"{text.unit} {snap.epoch} of {snap.epochs} · {snap.progress:.0%} · {eta_text(snap.eta_seconds)}"


def training_curves(snap: JobSnapshot, key: str) -> None:
    """The loss and accuracy curves so far, side by side (every reported batch and every finished epoch)."""
    left, right = st.columns(2)
    args = dict(
        epoch_logs=snap.epoch_logs,
        batch_logs=snap.batch_logs,
        steps_per_epoch=snap.steps_per_epoch,
        epochs=snap.epochs,
    )
    left.plotly_chart(training_figures.training_curves(metric="loss", title="Loss", **args), key=f"{key}.loss")
    right.plotly_chart(training_figures.training_curves(metric="accuracy", title="Accuracy", **args), key=f"{key}.acc")


def ended_message(snap: JobSnapshot, text: PanelText) -> None:
    """One plain line for a job that failed, was cancelled or diverged; nothing for a running or done one."""
    if snap.status == "failed":
        st.error(snap.message or f"{text.name} failed.")
    elif snap.status == "cancelled":
        st.warning(snap.message or f"{text.name} was cancelled. Nothing was saved.")
    elif snap.status == "diverged":
        st.error(f"📉 Training diverged. {snap.message}")


def job_panel(queue: JobQueue, key: str, seen: JobSnapshot | None, text: PanelText, show_ended: bool = True) -> None:
    """The job of `key` in `queue` as a fragment, polled while it is active (`poll_seconds`).

    `seen` is the snapshot the page drew itself from (e.g. its form locked while the job is active): when the job's
    status moves on from it, the whole page runs once more, so the form, the results and the poll rate follow.
    `show_ended` draws the plain line of a failed or cancelled job (off where the page shows it once elsewhere)."""
    status = seen.status if seen is not None else None
    st.fragment(run_every=poll_seconds(seen))(_panel)(queue, key, status, text, show_ended)


@guarded("The job panel")
def _panel(queue: JobQueue, key: str, seen_status: str | None, text: PanelText, show_ended: bool) -> None:
    snap = queue.snapshot(key)
    if snap is None:
        return
    if seen_status is not None and snap.status != seen_status:
        st.rerun()  # started or finished: redraw the whole page once, with the right poll rate or without the poller
    if not snap.active:
        if show_ended:
            ended_message(snap, text)
        return
    # Cancel first, in one row with the status line: right under the Start button that began the job, not below the
    # live curves (at 1280×800 it used to sit ~540 px under Start, off the screen).
    cancel_col, status_col = st.columns([1, 3], vertical_alignment="center")
    with cancel_col:
        if snap.cancel_requested:
            st.warning("Cancelling… (the current batch finishes first)")
        else:
            # A callback runs before the rerun the click causes, so that rerun already draws "Cancelling…".
            st.button(text.cancel, key=f"{text.key}.cancel", type="secondary", on_click=queue.cancel, args=(key,))
    with status_col:
        st.caption(snap.title)
        if snap.status == "queued":
            st.info(queue_text(snap))
        elif snap.epochs == 0:
            st.info(
                "Starting the training process and preparing the data… (a few seconds; generated drawings take "
                "longer the first time)"
            )
        else:
            st.progress(snap.progress, text=progress_text(snap, text))
    if text.heading:  # under the Cancel row, above the curves
        st.subheader(text.heading)
    if snap.status != "queued" and snap.epochs and text.curves:
        training_curves(snap, f"{text.key}.live")
