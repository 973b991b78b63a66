"""The Teach page's sections: gathering samples per class (webcam, microphone, canvas, uploads), the last training's
results, the live preview, the experiments and the export (transfer learning's insides: ui/teach_hood.py). Used by pages/7_Teach.py; all state is its TeachState."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import streamlit as st

from core.engine.jobs import JobQueue, JobSnapshot
from core.families.teach import data as teach_data
from core.families.teach import figures as teach_fig
from core.families.teach import projects as teach_store
from core.families.teach import saved as teach_saved
from core.families.teach import transfer
from core.families.teach.data import TeachError
from core.figures import common as common_figures
from core.figures import training as training_figures
from core.store import access, export, identity, samples
from ui.canvas import CanvasError, canvas_rgba, decode_canvas_url, drawing_canvas, take_drawing_button
from ui.common import guarded
from ui.confirm import confirm_delete
from ui.inspect_views import inspect_state
from ui.job_panel import PanelText, job_panel
from ui.models import load_model_folder
from ui.teach_capture import add_burst, burst_recorder, live_preview

SHOWN_PER_CLASS = 24  # newest samples drawn per class; the count says how many there are in all
CANVAS_PX = 280
CANVAS_FIT_KEY = "teach-canvas-fit"  # the container of the sample canvas: the Add button finds the canvas by it
IMAGE_TYPES = ["png", "jpg", "jpeg"]
TRAINING_PANEL = PanelText(
    key="teach",
    name="The training",
    finishing="Trained: scoring the model on the held-out samples, then saving the version…",
    curves=True,
)
EXPERIMENT_PANEL = PanelText(key="teach.experiment", name="The experiment", cancel="Cancel the experiment", unit="Step")


@dataclass
class TeachState:
    """Everything the Teach page remembers, under st.session_state["teach"]."""

    owner: str = ""  # whose projects: the user's identity (ui.identity.owner())
    project: str | None = None
    round: int = 0  # part of the input widgets' keys: a new round gives an empty uploader, camera and canvas
    messages: list[tuple[str, str]] = field(default_factory=list)  # ("error" | "success", text), shown once
    last_sound: list[str] = field(default_factory=list)  # the last recording's sample ids, shown as spectrograms
    job_project: str | None = None  # the project the session's training job trains
    experiments: dict[str, dict] = field(default_factory=dict)  # "<project>.<which>" -> the experiment's result
    preview: dict | None = None  # {"project", "probs"}: the last live prediction
    last_taken: str | None = None  # the last drawing the Add button sent (a data URL), taken once
    last_burst: str | None = None  # the id of the last burst the capture component sent, added once
    live: dict | None = None  # the live preview's newest answer: {"key", "id", "served", "probs", "seconds", "error"}

    @property
    def queue_id(self) -> str:
        """The session's key in the training queue for Teach trainings (apart from its Retrain jobs)."""
        return f"teach-{self.owner}"

    @property
    def experiment_queue_id(self) -> str:
        return f"teach-experiments-{self.owner}"


def show_messages(state: TeachState) -> None:
    # Always one container, messages or not, so the canvas below keeps its place in the page and is never remounted
    # by a message coming or going (a remount would drop a stroke drawn at that moment).
    with st.container(key="teach-messages"):
        for level, text in state.messages:
            (st.error if level == "error" else st.success)(text)
    state.messages = []


# ---------------------------------------------------------------- gathering samples


def _add(state: TeachState, project, target: str, items: list[tuple[str, bytes | np.ndarray]]) -> None:
    """Store each item; a bad one is named and skipped (the others are kept). Then a fresh round of inputs."""
    added, sound_ids = 0, []
    for i, (name, data) in enumerate(items):
        try:
            ids = teach_store.add_sample(state.owner, project.name, target, data)
        except teach_store.PartlyAdded as exc:  # the message gives the exact count kept
            state.messages.append(("error", f"{name}: {exc}"))
            ids = exc.kept
        except teach_store.ClassFull as exc:  # so is every file after it: one message, none of them read
            rest = len(items) - i - 1
            also = f" The other {rest} file(s) of this upload were not added either." if rest else ""
            state.messages.append(("error", f"{name}: {exc}{also}"))
            break
        except TeachError as exc:  # add_sample is all-or-nothing: this is true
            said = str(exc)
            state.messages.append(
                ("error", f"{name}: {said}" + ("" if "Nothing" in said else " Nothing from it was added."))
            )
            continue
        added += len(ids)
        sound_ids += ids if project.kind == "sound" else []
    if added:
        state.messages.append(("success", f"Added {added} sample(s) to “{target}”."))
    if sound_ids:
        state.last_sound = sound_ids[-10:]
    state.round += 1
    st.rerun()


def _taken_drawing(taken: str, where) -> np.ndarray | None:
    """The RGBA image the Add button took off the canvas, or None with a plain message in `where` (none, blank,
    or not a small PNG)."""
    try:
        rgba = decode_canvas_url(taken) if taken else None
    except CanvasError as exc:
        where.error(str(exc))
        return None
    if rgba is None or not (rgba[..., :3] < 128).any():
        where.warning("There is no drawing yet: draw on the canvas first.")
        return None
    return rgba


def gather(state: TeachState, project) -> None:
    """The inputs of the project's kind, each adding to the chosen class."""
    classes = project.classes
    target = st.radio("Add samples to", classes, horizontal=True, key=f"teach.target.{project.name}")
    r = f"{project.name}.{state.round}"
    left, right = st.columns(2)
    if project.kind in ("image", "sound"):
        with left:  # hold to record: one key per project, so the webcam or microphone stays on across adds
            _burst(state, project, target, burst_recorder(project.kind, target, key=f"teach.burst.{project.name}"))
    if project.kind == "image":
        with left.expander("…or one photo at a time"):
            photo = st.camera_input(f"Take a photo of “{target}” with your webcam", key=f"teach.camera.{r}")
        files = right.file_uploader(
            f"…or upload photos of “{target}” (PNG or JPEG, up to {teach_store.MAX_UPLOAD_BYTES / 2**20:g} MB each)",
            type=IMAGE_TYPES,
            accept_multiple_files=True,
            key=f"teach.upload.{r}",
        )
        items = ([("the photo", photo.getvalue())] if photo else []) + [(f.name, f.getvalue()) for f in files or []]
    elif project.kind == "sound":
        with left.expander("…or press to record, press to stop"):
            rec = st.audio_input(f"Record “{target}” with your microphone", key=f"teach.mic.{r}")
        files = right.file_uploader(
            f"…or upload WAV recordings of “{target}” (cut into 1-second samples)",
            type=["wav"],
            accept_multiple_files=True,
            key=f"teach.upload.{r}",
        )
        items = ([("the recording", rec.getvalue())] if rec else []) + [(f.name, f.getvalue()) for f in files or []]
        left.caption("A longer recording is cut into 1-second samples, as Teachable Machine does.")
    else:
        # One canvas per project, never re-keyed: the Add button empties it in the browser (take_drawing_button), so
        # a stroke drawn right after a click is kept for the next sample instead of vanishing with a new canvas.
        with left:
            drawing_canvas(f"teach.canvas.{project.name}", CANVAS_FIT_KEY, CANVAS_PX)
        with right:
            taken = take_drawing_button(
                f"Add this drawing to “{target}”", CANVAS_FIT_KEY, CANVAS_PX, key=f"teach.add_drawing.{project.name}"
            )
        if taken is not None and taken == state.last_taken:
            taken = None  # one click is one sample, however many reruns still hold its value
        if taken is not None:
            state.last_taken = taken
        rgba = _taken_drawing(taken, right) if taken is not None else None
        items = [("the drawing", rgba)] if rgba is not None else []
        right.caption("Each drawing becomes a 28×28 bitmap, white on black, as on the Draw page.")
    if items:
        _add(state, project, target, items)


def _burst(state: TeachState, project, target: str, value: dict | None) -> None:
    """Add a burst the capture component sent (once: a rerun may still hold it), then redraw the page."""
    if value is None or str(value.get("id")) == state.last_burst:
        return
    state.last_burst = str(value.get("id"))
    ids, messages = add_burst(state.owner, project, target, value)
    state.messages.extend(messages)
    if project.kind == "sound" and ids:
        state.last_sound = ids[-10:]
    st.rerun()


def _delete(state: TeachState, project: str, class_name: str, sample_id: str) -> None:
    try:
        teach_store.delete_sample(state.owner, project, class_name, sample_id)
    except TeachError as exc:
        state.messages.append(("error", str(exc)))


def _spectrogram(path: Path, title: str):
    chunk = teach_data.decode_wav(path.read_bytes())
    return teach_fig.spectrogram_figure(teach_data.log_mel(chunk), title)


@guarded("The samples")
def samples_browser(state: TeachState, project) -> None:
    """Every class's newest samples with a delete button each; a sound project's last recording as spectrograms."""
    paths = teach_store.sample_paths(state.owner, project.name)
    if project.kind == "sound" and state.last_sound:
        by_id = {p.stem: p for files in paths.values() for p in files}
        shown = [by_id[i] for i in state.last_sound if i in by_id]
        if shown:
            st.markdown(f"**Your last recording: {len(shown)} one-second sample(s)**")
            for col, (n, path) in zip(st.columns(min(len(shown), 3)) * 4, enumerate(shown)):
                col.plotly_chart(_spectrogram(path, f"second {n + 1}"), key=f"teach.spec.{path.stem}")
    tabs = st.tabs([f"{c} ({len(paths[c])})" for c in project.classes])
    for tab, class_name in zip(tabs, project.classes):
        files = paths[class_name]
        with tab:
            if not files:
                st.caption("No samples yet.")
                continue
            if len(files) > SHOWN_PER_CLASS:
                st.caption(f"The newest {SHOWN_PER_CLASS} of {len(files)} samples.")
            columns = st.columns(8 if project.kind != "sound" else 4)
            for i, path in enumerate(files[-SHOWN_PER_CLASS:][::-1]):
                col = columns[i % len(columns)]
                if project.kind == "sound":
                    col.audio(str(path), format="audio/wav")
                else:
                    col.image(str(path), width=64 if project.kind == "image" else 56)
                col.button(
                    "✕",
                    key=f"teach.delete.{path.stem}",
                    help="Delete this sample",
                    on_click=_delete,
                    args=(state, project.name, class_name, path.stem),
                )


# ---------------------------------------------------------------- deleting a project or a model


def delete_project_control(state: TeachState, project) -> None:
    """Delete the project with its samples and its trained models, after asking once more."""
    n = len(teach_saved.models(state.owner, project))

    def delete() -> None:
        teach_saved.delete_project(state.owner, project.name)
        state.project = None
        st.toast(f"Deleted the project “{project.name}”.")

    st.caption(f"Its samples and its {n} trained model(s) go with it.")
    confirm_delete(st, f"the project “{project.name}”", "teach.delete_project", delete)


def share_project_control(state: TeachState, project) -> None:
    """Share the project with the owner's class (its members see its classes and sample counts, read-only on the
    Class page), or make it private again. The store checks that it is the caller's own (access.NotYours)."""
    try:
        shared = access.teach_project_share(state.owner, project.name)
        code = identity.class_code(state.owner)
        if shared:
            st.caption(f"Shared with your class {shared}: its members see the classes and sample counts, read-only.")
            if st.button("Stop sharing", key="teach.unshare"):
                access.unshare_teach_project(state.owner, project.name)
                st.rerun()
        elif code:
            st.caption("Private: only you see it. Sharing shows its classes and sample counts to your class.")
            if st.button(f"Share with my class ({code})", key="teach.share"):
                access.share_teach_project(state.owner, project.name, code)
                st.rerun()
        else:
            st.caption("Private. Join a class on the Class page to share this project with it.")
    except (ValueError, samples.SampleStoreError, OSError) as exc:
        st.error(str(exc))


def delete_model_control(state: TeachState, project, outcome: dict) -> None:
    """Delete the model shown (the project's newest): the page then shows the one before it, if any."""
    older = len(teach_saved.models(state.owner, project)) - 1
    st.caption(
        f"This project has {older} older model(s): deleting this one shows the one before it."
        if older
        else "This is the project's only model: deleting it leaves the samples, ready to train again."
    )
    version_id = outcome["version_id"]
    confirm_delete(
        st,
        f"the model {version_id}",
        "teach.delete_model",
        lambda: teach_saved.delete_model(state.owner, project, version_id),
    )


# ---------------------------------------------------------------- the last training


def _show_cell(outcome: dict, true_i: int, pred_i: int) -> None:
    names, kind = outcome["class_names"], outcome["kind"]
    files = [Path(f) for f in outcome["examples"].get(f"{true_i},{pred_i}", []) if Path(f).is_file()]
    st.markdown(f"**True {names[true_i]}, predicted {names[pred_i]}** ({len(files)} shown)")
    if kind == "sound":
        for f in files[:6]:
            st.audio(str(f), format="audio/wav")
    elif files:
        st.image([str(f) for f in files], width=64)
    else:
        st.caption("Those samples have been deleted since.")


@guarded("The training results")
def results(outcome: dict, key: str) -> None:
    """The under-the-hood panel: curves, accuracy per class with its count, the confusion matrix and its samples."""
    how = (
        f"by transfer learning ({outcome['epochs_run']} steps of the head)"
        if outcome.get("method", "scratch") == "transfer"
        else f"from scratch ({outcome['epochs_run']} epochs)"
    )
    st.success(
        f"Trained in {outcome['seconds']:.1f} s {how}, saved as version "
        f"**{outcome['version_id']}**. Accuracy {outcome['accuracy']:.0%} on {outcome['measured_on']}."
    )
    for note in outcome.get("notes", []):
        st.info(note)
    history, names = outcome["history"], outcome["class_names"]
    left, right = st.columns(2)
    left.plotly_chart(
        training_figures.history_curves(history, "accuracy", "Accuracy per epoch"), key=f"teach.acc.{key}"
    )
    right.plotly_chart(training_figures.history_curves(history, "loss", "Loss per epoch"), key=f"teach.loss.{key}")
    per_class = outcome["per_class"]
    labelled = {f"{n} ({per_class[n]['held_out']} held out, {per_class[n]['train']} trained)": n for n in names}
    st.plotly_chart(
        training_figures.before_after_bars({k: per_class[n]["accuracy"] for k, n in labelled.items()}, None),
        key=f"teach.perclass.{key}",
    )
    conf = outcome["confusion"]
    left, right = st.columns([3, 2])
    left.plotly_chart(
        common_figures.confusion_heatmap(conf, names, "Confusion matrix (held-out samples)"), key=f"teach.cm.{key}"
    )
    cells = sorted(
        ((t, p) for t in range(len(names)) for p in range(len(names)) if t != p and conf[t][p]),
        key=lambda c: -conf[c[0]][c[1]],
    )
    with right:
        if not cells:
            st.success("No held-out sample was misclassified.")
            return
        cell = st.selectbox(
            "Misclassified samples",
            cells,
            key=f"teach.cell.{key}",
            format_func=lambda c: f"true {names[c[0]]} → predicted {names[c[1]]} ({conf[c[0]][c[1]]})",
        )
        _show_cell(outcome, *cell)


# ---------------------------------------------------------------- preview, experiments, export


@st.fragment
@guarded("The preview")
def preview(state: TeachState, outcome: dict) -> None:
    """A new snapshot, recording or drawing through the trained model, with its softmax bars (a fragment)."""
    from core.families.teach import job as teach

    kind, names = outcome["kind"], outcome["class_names"]
    key = f"teach.preview.{outcome['version_id']}"
    if kind in ("image", "sound"):
        live_preview(state, outcome, key=f"{key}.live")
    left, right = st.columns(2)
    with left:
        if kind == "image":
            with st.expander("…or one snapshot"):
                shot = st.camera_input("A new photo to classify", key=f"{key}.camera")
            upload = st.file_uploader("…or a photo file", type=IMAGE_TYPES, key=f"{key}.upload")
            raw = (shot or upload).getvalue() if (shot or upload) else None
        elif kind == "sound":
            with st.expander("…or one recording"):
                rec = st.audio_input("A new recording to classify", key=f"{key}.mic")
            upload = st.file_uploader("…or a WAV file", type=["wav"], key=f"{key}.upload")
            raw = (rec or upload).getvalue() if (rec or upload) else None
        else:
            result = drawing_canvas(f"{key}.canvas", "teach-preview-canvas-fit", CANVAS_PX)
            raw = canvas_rgba(result)
    with right:
        if raw is None:
            st.caption("The model's answer appears here.")
            return
        if isinstance(raw, bytes) and len(raw) > teach_store.MAX_UPLOAD_BYTES:
            st.error(f"The file is larger than {teach_store.MAX_UPLOAD_BYTES / 2**20:g} MB.")
            return
        try:
            model = load_model_folder(outcome["version_path"]).model
            probs = teach.predict_sample(model, kind, raw)
        except TeachError as exc:
            st.warning(str(exc))
            return
        top = int(np.argmax(probs))
        st.markdown(f"It is **{names[top]}** ({probs[top]:.0%} sure).")
        st.plotly_chart(common_figures.probability_bars(probs, names, "Softmax over your classes"), key=f"{key}.bars")
        state.preview = {"project": state.project, "probs": [float(p) for p in probs]}


EXPERIMENT_TEXT = {
    "samples": "Accuracy & confidence vs samples per class",
    "variance": "Samples all alike vs varied samples",
    "seeds": "Train N times with different seeds",
}
METHOD_SHORT = {
    "transfer": "transfer learning (the frozen extractor + a new head each time)",
    "scratch": "from scratch (a new small CNN each time)",
}
EXPERIMENT_SEEDS = {"transfer": 10, "scratch": 3}  # a head trains in a tenth of a second: more seeds, a tighter band


def start_experiment(state: TeachState, project, which: str, epochs: int, batch: int, lr: float, runs: int,
                     method: str = "transfer"):  # fmt: skip
    """Queue the experiment `which` for the project, every training by `method` (the project's)."""
    from core.engine import queues

    how = f"{epochs} epochs per training" if method == "scratch" else "transfer learning"
    title = f"{EXPERIMENT_TEXT[which]} ({project.name}, {how})"
    job = teach_store.queue_experiment(
        queues.get_queue(), state.experiment_queue_id, title, state.owner, project, which, epochs, batch, lr, runs,
        method=method,
    )  # fmt: skip
    state.experiments[f"{project.name}.pending"] = {"which": which, "job": job.id}
    return job


def experiment_figure(result: dict):
    """The experiment's plot, its title saying which method trained (results from before methods were recorded
    were all from scratch); the samples curve has the nearest-neighbour baseline beside it."""
    which, rows = result["which"], result["rows"]
    method = result.get("method", "scratch")
    title = f"{EXPERIMENT_TEXT[which]}: {METHOD_SHORT[method]}"
    if which == "samples":
        return teach_fig.samples_curve_figure(rows, title, result.get("baseline", "nearest neighbour"))
    if which == "variance":
        return teach_fig.variance_figure(rows, title)
    return teach_fig.seed_spread_figure(rows, title)


def show_experiment(result: dict, key: str) -> None:
    """The experiment's plot and what to read in it."""
    st.plotly_chart(experiment_figure(result), key=key)
    method = result.get("method", "scratch")
    if result["which"] == "samples" and "baseline" in result:
        st.caption(
            f"The dotted line is the simplest rule on the same samples: {result['baseline']} (each held-out sample "
            "gets the class of the most similar training sample). A method worth training sits above it."
        )
    elif result["which"] == "seeds" and method == "transfer":
        st.caption(
            "With transfer learning a seed only changes the head's starting weights, and the head's training has one "
            "best answer, so the runs barely differ; a CNN learnt from scratch (the expert option) differs far more."
        )


EXPORT_NOTE = {
    "drawing": "The download is the whole model: the frozen drawing backbone and your head, one TF.js model from "
    "a 28×28 drawing (white strokes on black, 0 to 1) to your classes' probabilities.",
    "sound": f"The download is **the head only**: it takes the {transfer.SOUND_FEATURES} sound features "
    "(`transfer.sound_features`, computed in Python from a second's log-mel spectrogram), not raw audio. A web app "
    "would have to compute those features in JavaScript first; train “From scratch (expert)” for a model that "
    "takes the spectrogram itself.",
    "image": f"The download is **the head only**: it takes the {transfer.IMAGE_FEATURES} colour and edge features "
    "(`transfer.image_features`, computed in Python from the photo), not the photo. A web app would have to compute "
    "those features in JavaScript first; train “From scratch (expert)” for a model that takes the photo itself.",
}


def export_buttons(outcome: dict, project_name: str) -> None:
    """Download the model as a TF.js folder zip, or open it on the Inspect page; says what a transfer export holds."""
    if outcome.get("method", "scratch") == "transfer":
        st.info(EXPORT_NOTE[outcome["kind"]])
    left, right = st.columns(2)
    try:
        left.download_button(
            "Download for TensorFlow.js (.zip: model.json + weights)",
            data=export.tfjs_zip(outcome["version_path"]),
            file_name=f"{project_name}-{outcome['version_id']}-tfjs.zip",
            mime="application/zip",
            key=f"teach.download.{outcome['version_id']}",
        )
    except (ValueError, OSError) as exc:
        left.error(f"The model cannot be exported: {exc}")
    if right.button("Open it in Inspect", key=f"teach.inspect.{outcome['version_id']}", icon="🔬"):
        st.session_state["inspect.source"] = "A saved model"
        inspect_state().open_path = str(outcome["version_path"])  # Inspect selects this folder when it opens
        st.switch_page("pages/5_Inspect.py")


@guarded("The experiment")
def experiment_panel(state: TeachState, project, queue: JobQueue, seen: JobSnapshot | None) -> None:
    """The session's experiment job for this project: its job panel (queue place, progress, Cancel, how it ended),
    then, once it is done, its result kept for the plot. Drawn for the project that started it only."""
    pending = state.experiments.get(f"{project.name}.pending")
    if seen is None or pending is None or pending["job"] != seen.id:
        return
    job_panel(queue, state.experiment_queue_id, seen, EXPERIMENT_PANEL)
    if seen.active:
        return
    if seen.status == "done" and seen.result:
        state.experiments[f"{project.name}.{seen.result['which']}"] = seen.result
    state.experiments.pop(f"{project.name}.pending", None)  # said once: the panel's line for a failed or cancelled one
