"""The Teach job: what the Teach page and `python -m core teach` call. Check a request, load the project folder,
train a new model in a background job (core.jobs), measure it on the held-out samples, save it as a version of
teach-<kind>, and predict one raw sample (photo bytes, WAV bytes or a canvas).

Two methods: "transfer" (the default, as Teachable Machine: a frozen extractor + a small head, core.families.teach.
transfer, seconds) and "scratch" (the expert option: the small CNN of core.families.teach.model, learnt from nothing)."""

from __future__ import annotations

import functools
import time
from dataclasses import asdict, dataclass

import numpy as np

from core.engine import job_codec, queues
from core.engine.jobs import finish_if_stopped
from core.engine.training import Trained, TrainingError, TrainResult, check_hyperparameters
from core.families.teach import data as td
from core.families.teach import transfer
from core.families.teach.data import (
    TeachError,
    check_kind,
    cut_chunks,
    decode_drawing,
    decode_image,
    decode_wav,
    encode_png,
    load_folder,
    log_mel,
    scan_folder,
)
from core.families.teach.model import (
    TeachConfig,
    evaluate_probabilities,
    split_data,
    steps_per_epoch,
    train_teach_model,
)
from core.families.teach.transfer import TransferConfig
from core.settings import get_settings
from core.store import models as store
from core.store import topology as store_topology

METHODS = ("transfer", "scratch")  # the default first
METHOD_LABELS = {
    "transfer": "Transfer learning: a frozen feature extractor + a small head (seconds; Teachable Machine's way)",
    "scratch": "From scratch (expert): a small CNN learnt from your samples alone (a minute or more)",
}
MAX_EXAMPLES = 24  # misclassified sample files kept per confusion cell, as in the Retrain studio
BATCH_EVERY = 5  # batch reports for the live curve; a Teach batch takes milliseconds, so not every one


@dataclass(frozen=True)
class TeachRequest:
    """Everything the Teach page's form chooses. `samples_dir` is the project folder (one subfolder per class)."""

    kind: str
    samples_dir: str
    epochs: int = 50
    batch_size: int = 16
    learning_rate: float = 0.001
    seed: int = 0
    version_name: str = "teach"
    owner: str = ""  # the session that asked; recorded so only it may delete the version
    project: str = ""  # the Teach project it learns (recorded: the page finds the project's last model after a reload)
    method: str = "transfer"  # "transfer" (extractor + head) or "scratch" (the CNN; epochs, batch and rate apply)


def family_name(kind: str) -> str:
    """The store family a Teach model of `kind` is saved under: teach-image, teach-sound, teach-drawing."""
    return f"teach-{check_kind(kind)}"


def request_config(req: TeachRequest) -> TeachConfig:
    return TeachConfig(
        kind=req.kind,
        epochs=req.epochs,
        batch_size=req.batch_size,
        learning_rate=req.learning_rate,
        seed=req.seed,
    )


def check_method(method: str) -> str:
    if method not in METHODS:
        raise TeachError(f"Unknown training method {method!r}: use one of {', '.join(METHODS)}.")
    return method


def _check_settings(req: TeachRequest) -> None:
    check_kind(req.kind)
    check_method(req.method)
    try:
        store.check_name(req.version_name, "version name")
    except store_topology.StoreError as exc:
        raise TeachError(str(exc)) from None
    if not isinstance(req.seed, (int, np.integer)) or isinstance(req.seed, bool):
        raise TeachError(f"The seed must be a whole number (got {req.seed!r}).")
    try:
        # The batch is capped at the data later (a tiny project trains in one batch), so only its type and sign count
        # here: the sample count given is the largest, never the reason for a refusal.
        check_hyperparameters(req.epochs, req.batch_size, req.learning_rate, 2**31, get_settings().max_epochs)
    except TrainingError as exc:
        raise TeachError(str(exc)) from None


def check_teach_request(req: TeachRequest) -> None:
    """Plain TeachError before anything queues: the settings, then the folder from the file system alone (2-10
    classes with samples, a background class for sound, the file count and size caps). Nothing is decoded here: the
    queued job reads and decodes the samples in its own process, and a broken file fails the job in plain words."""
    _check_settings(req)
    scan_folder(req.kind, req.samples_dir)


def _stopped(job, result) -> bool:

    return finish_if_stopped(job, result)


def _cell_files(y_true, y_pred, files: list[str]) -> dict[str, list[str]]:
    """{"true,pred": [sample file, ...]} for every off-diagonal cell, at most MAX_EXAMPLES each (unique files)."""
    cells: dict[str, list[str]] = {}
    for t, p, f in zip(np.asarray(y_true), np.asarray(y_pred), files):
        if t != p:
            items = cells.setdefault(f"{int(t)},{int(p)}", [])
            if len(items) < MAX_EXAMPLES and f not in items:
                items.append(f)
    return cells


def train_transfer(cfg: TeachConfig, data: dict, on_epoch_end=None, should_stop=None, **_ignored) -> Trained:
    """A transfer model on data["x_train"] (extractor + head, core.families.teach.transfer) as a Trained, like the
    CNN's: result.history holds the head's loss and accuracy per step (each a full-batch epoch)."""
    started = time.perf_counter()
    model = transfer.fit(
        data["kind"],
        data["x_train"],
        data["y_train"],
        len(data["class_names"]),
        transfer.head_config(data["kind"], cfg.seed),
        on_step=on_epoch_end,
        should_stop=should_stop,
    )
    seconds = time.perf_counter() - started
    history = {k: [float(v) for v in values] for k, values in model.teach_history.items()}
    stopped = should_stop is not None and should_stop()
    result = TrainResult(
        history=history,
        seconds=seconds,
        epochs_run=len(history["loss"]),
        cancelled=stopped,
        message="Cancelled. Nothing was saved." if stopped else "",
        steps_per_epoch=1,
    )
    return Trained(model, result, {**data, "n_train_augmented": len(data["x_train"])})


def train_and_measure(cfg: TeachConfig, loaded: dict, method: str = "transfer", **hooks) -> tuple:
    """Split `loaded` (load_folder's dict), train by `method`, evaluate on the held-out samples (or, with none held
    out, on the training samples, said so). Returns (Trained, report, measured_on, notes, split)."""
    split = split_data(loaded["x"], loaded["y"], cfg, groups=loaded["files"])
    data = {**split, "class_names": loaded["class_names"], "kind": loaded["kind"]}
    trainer = train_transfer if check_method(method) == "transfer" else train_teach_model
    trained = trainer(cfg, data, **hooks)
    notes = []
    if len(split["y_val"]):
        x, y, rows = split["x_val"], split["y_val"], split["val_index"]
        measured_on = f"{len(y)} held-out samples ({cfg.validation_fraction:.0%} of each class, never trained on)"
    else:
        x, y, rows = split["x_train"], split["y_train"], split["train_index"]
        measured_on = f"the {len(y)} training samples (too few per class to hold any out)"
        notes.append(
            "Every class is too small to hold samples out, so the accuracy is on the training samples: it "
            "says how well the model learnt them, not how well it will do on new ones."
        )
    if trained.result.ok:
        report = evaluate_model(loaded["kind"], trained.model, x, y, loaded["class_names"])
        report["files"] = [loaded["files"][i] for i in rows]
        report["y_true"] = [int(v) for v in y]
    else:
        report = None
    return trained, report, measured_on, notes, split


def _counts(names: list[str], split: dict) -> dict:
    return {
        name: {"train": int((split["y_train"] == i).sum()), "held_out": int((split["y_val"] == i).sum())}
        for i, name in enumerate(names)
    }


def run_teach(req: TeachRequest, job) -> dict | None:
    """The work function of a Teach job (a worker process or thread); returns the outcome, or None when stopped."""
    _check_settings(req)
    cfg = request_config(req)
    if req.method == "transfer":
        # Declared before the samples load, so the panel shows a progress bar from the job's first second: a head
        # step is a full-batch epoch, reported every transfer.REPORT_EVERY.
        job.plan(TransferConfig().epochs, 1)
    loaded = load_folder(req.kind, req.samples_dir)
    names = loaded["class_names"]
    if job.should_stop():
        _stopped(job, None)
        return None
    if req.method == "scratch":
        n_train = len(split_data(loaded["x"], loaded["y"], cfg, groups=loaded["files"])["y_train"])
        job.plan(cfg.epochs, steps_per_epoch(n_train, cfg))
    trained, report, measured_on, notes, split = train_and_measure(cfg, loaded, req.method, **job.hooks(BATCH_EVERY))
    result = trained.result
    if _stopped(job, result):
        return None
    counts = _counts(names, split)
    if loaded["skipped"]:
        notes.append(f"{len(loaded['skipped'])} file(s) that are not {req.kind} samples were left out.")
    per_class = {
        name: {**report["per_class"][name], "train": counts[name]["train"], "held_out": counts[name]["held_out"]}
        for name in names
    }
    metrics = {
        "accuracy": report["accuracy"],
        "balanced_accuracy": report["balanced_accuracy"],
        "mean_confidence": report["mean_confidence"],
        "n": report["n"],
        "measured_on": measured_on,
        "per_class": per_class,
    }
    # What the page shows beyond the metrics, saved with the model so a reload rebuilds the result (core.families.
    # teach.saved).
    shown = {
        "epochs_run": result.epochs_run,
        "counts": counts,
        "confusion": report["confusion"],
        "examples": _cell_files(report["y_true"], report["predicted"], report["files"]),
        "notes": notes,
    }
    metadata = {
        "family": family_name(req.kind),
        "project": req.project,
        "shown": shown,
        "kind": req.kind,
        "class_names": names,
        "input": model_input_description(req.kind, req.method),
        "method": req.method,
        "config": asdict(cfg) if req.method == "scratch" else asdict(transfer.head_config(req.kind, cfg.seed)),
        "training_data": f"{len(split['y_train'])} of your samples in {len(names)} classes",
        "metrics": metrics,
        "history": result.history,
        "owner": req.owner,
        "train_seconds": round(result.seconds, 2),
    }
    version = store.save_version(trained.model, family_name(req.kind), req.version_name, metadata)
    return {
        "kind": req.kind,
        "method": req.method,
        "class_names": names,
        "history": result.history,
        "seconds": round(result.seconds, 2),
        **metrics,  # accuracy, balanced accuracy, mean confidence, n, what it was measured on, per class
        **shown,  # epochs run, counts, confusion, examples, notes
        "version_id": version.version_id,
        "version_path": str(version.path),
    }


def model_input_description(kind: str, method: str = "scratch") -> str:
    """What the saved model takes: the kind's model input, or for a transfer head on NumPy features, those features."""
    if method == "transfer" and kind != "drawing":
        return {
            "sound": f"{transfer.SOUND_FEATURES} sound features (transfer.sound_features of the {td.N_FRAMES}x"
            f"{td.N_MELS} log-mel second): the head only; the features are computed in Python",
            "image": f"{transfer.IMAGE_FEATURES} colour and gradient histogram features (transfer.image_features of "
            f"the {td.IMAGE_SIZE}x{td.IMAGE_SIZE} photo): the head only; the features are computed in Python",
        }[kind]
    return {
        "image": f"{td.IMAGE_SIZE}x{td.IMAGE_SIZE}x3 float 0-1, the photo centre-cropped to a square (teach_data.decode_image)",
        "drawing": "28x28 float 0-1, white strokes on black, Quick, Draw! bitmap convention (teach_data.decode_drawing)",
        "sound": f"{td.N_FRAMES}x{td.N_MELS} ln mel-band power of 1 s at {td.SAMPLE_RATE} Hz (teach_data.log_mel)",
    }[kind]


job_codec.allow(run_teach, TeachRequest)


def start_teach(req: TeachRequest, session_id: str, queue=None):
    """Check the request and its folder now (plain errors before anything queues), then queue the training job."""

    check_teach_request(req)
    queue = queue or queues.get_queue()
    if req.method == "transfer":
        title = f"Teach {req.kind}: transfer learning (a frozen extractor + a small head)"
    else:
        title = f"Teach {req.kind} from scratch: {req.epochs} epoch(s), batch {req.batch_size}, learning rate {req.learning_rate:g}"
    # A partial of a registered top-level function crosses to a worker process as JSON.
    return queue.submit(session_id, title, functools.partial(run_teach, req), owner=req.owner or session_id)


# ---------------------------------------------------------------- one sample


def sample_inputs(kind: str, data: bytes | np.ndarray) -> np.ndarray:
    """The model input rows of one raw sample: one row for a photo or a drawing, one per second for a recording.

    Photos: encoded bytes, or an (H, W, 3) uint8 array. Drawings: PNG bytes or the canvas' RGBA array. Sounds: WAV
    bytes, or mono float samples at SAMPLE_RATE."""
    check_kind(kind)
    if kind == "image":
        if isinstance(data, np.ndarray):
            data = encode_png(data)  # one path for arrays and uploads: the same crop and resize
        return decode_image(data)[None]
    if kind == "drawing":
        return decode_drawing(data)[None]
    samples = data if isinstance(data, np.ndarray) else decode_wav(data)
    return np.stack([log_mel(c) for c in cut_chunks(samples)])


def predict_sample(model, kind: str, data: bytes | np.ndarray) -> np.ndarray:
    """(C,) probabilities for one raw sample. A recording longer than a second is cut into seconds like the
    training data, and the answer is the mean of the seconds' probabilities (the whole clip's average)."""
    return transfer.predict_proba(kind, model, sample_inputs(kind, data)).mean(axis=0)


def evaluate_model(kind: str, model, x, y, class_names) -> dict:
    """model.evaluate_probabilities for a CNN, a whole transfer model or a head on features (features taken first)."""
    return evaluate_probabilities(transfer.predict_proba(kind, model, x), y, class_names)
