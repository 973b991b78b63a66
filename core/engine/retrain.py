"""The Retrain studio's core: check a retrain request, gather its data (built-in, the user's samples, uploaded text),
train a COPY of a model inside a background job, compare it with the model as it was on the same validation data,
and save the result as a new version. Uses each family's train_* contract; no UI here."""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from core.engine import job_codec, queues, warm
from core.engine import registry as families
from core.engine.checks import (
    _is_shipped,
    base_folder,
    check_base,
    check_data,
    check_dataset,
    check_request,
    check_size,
    check_version_name,
    version_name,
)
from core.engine.jobs import finish_if_stopped
from core.engine.retrain_outcome import Misclassified, RetrainOutcome, RunSettings
from core.engine.retrain_request import RetrainRequest, UserData, plain_request
from core.metrics import report_of
from core.store import models as store
from core.store import samples

MAX_EXAMPLES = 24  # misclassified samples kept per confusion cell: enough to see a pattern, small in memory


# ---------------------------------------------------------------- data per family


def read_user_data(family: str, owner: str | None = None, class_code: str = "") -> UserData:
    """The user's labelled colours or drawings from the sample database, or with `class_code` the class's pooled
    ones (every member's shared samples); SampleStoreError if the database cannot be read."""

    kind = families.get(family).user_samples
    if not kind:
        return UserData()
    rows = samples.class_samples(class_code, kind) if class_code else samples.owner_samples(owner, kind)
    if kind == samples.COLOR_LABELS:  # the sample tables' two shapes: (r, g, b, label) rows, or drawings
        return UserData(colors=rows)
    return UserData(drawings=[(img, lab) for _, img, lab, _ in rows])


def predict_classes(family: str, model, x) -> np.ndarray:
    predict = families.get(family).predict
    x = np.asarray(x, np.float32)
    return np.concatenate([np.atleast_2d(predict(model, x[i : i + 512])).argmax(axis=1) for i in range(0, len(x), 512)])


def predict_before(family: str, before, x) -> np.ndarray:
    """`predict_classes` for the model before the run (a loaded base model, never changed): a warm training process
    keeps its classes for each validation set it was asked about (core.engine.warm), as every quick run asks again."""
    x = np.asarray(x, np.float32)
    key = ("classes", family, x.shape, hashlib.blake2b(x.tobytes(), digest_size=16).hexdigest())
    return warm.memo_of(before.model, key, lambda: predict_classes(family, before.model, x))


def cell_examples(y_true, y_pred, render: Callable[[int], object]) -> tuple[Misclassified, ...]:
    """Every off-diagonal confusion cell, in (true, predicted) order, with its first MAX_EXAMPLES validation samples
    rendered by `render(index)`."""
    cells: dict[tuple[int, int], list] = {}
    for i, (t, p) in enumerate(zip(np.asarray(y_true), np.asarray(y_pred))):
        if t != p:
            items = cells.setdefault((int(t), int(p)), [])
            if len(items) < MAX_EXAMPLES:
                items.append(render(i))
    return tuple(Misclassified(t, p, tuple(items)) for (t, p), items in sorted(cells.items()))


# ---------------------------------------------------------------- the job


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    return max(1, math.ceil(n_train / batch_size))


def run_retrain(req: RetrainRequest, user: UserData, job) -> RetrainOutcome | None:
    """The work function of a retrain job (runs in a worker process or thread); returns the outcome, or None when
    stopped.

    The base model is loaded from its folder (kept from job to job only in a warm training process, keyed by its
    files' times and sizes, core.engine.warm; never a page's cached object) and training runs on a copy, so the
    active model stays as it was; nothing is saved unless training finished normally.
    """
    check_request(req)
    check_version_name(req)
    check_base(req)
    folder = base_folder(req)
    files = sorted(folder.iterdir()) if folder.is_dir() else [folder]  # the key: their times and sizes
    before = warm.memo(("base model", warm.file_key(*files)), lambda: store.load_model(folder))
    return families.get(req.family).retrain(req, user, job, before)


job_codec.allow(run_retrain)


def stopped(job, result) -> bool:

    return finish_if_stopped(job, result)


def ready(job, req: RetrainRequest, n_train: int) -> bool:
    """Check the data size, honour a cancel that came during data preparation, and plan the progress bar."""
    check_size(n_train, req)
    if job.should_stop():
        stopped(job, None)
        return False
    job.plan(req.epochs, steps_per_epoch(n_train, req.batch_size))
    return True


def outcome_of(
    req: RetrainRequest,
    before,
    names: Sequence[str],
    y_true,
    after_pred,
    before_pred,
    result,
    misclassified: tuple[Misclassified, ...] = (),
    notes: Sequence[str] = (),
    before_seen: str = "",
) -> RetrainOutcome:
    """The run's outcome, not yet saved: both models scored on the same validation labels `y_true` (`before_pred`
    None: the model before cannot be scored on them), with the misclassified cells (cell_examples) and notes.
    `before_seen` is the family's plain sentence when the model before was trained on (some of) these validation
    samples, so its score is no fair comparison ("" when it never saw them)."""
    return RetrainOutcome(
        family=req.family,
        class_names=tuple(names),
        history=result.history,
        seconds=round(result.seconds, 1),
        epochs_run=result.epochs_run,
        after=report_of(y_true, after_pred, names),
        before=report_of(y_true, before_pred, names) if before_pred is not None else None,
        base="shipped model" if _is_shipped(before.path, req.family) else f"version {Path(before.path).name}",
        fresh=req.fresh,
        settings=RunSettings(
            epochs=int(req.epochs),
            batch_size=int(req.batch_size),
            learning_rate=float(req.learning_rate),
            optimizer=req.optimizer,
            seed=int(req.seed),
        ),
        notes=tuple(notes),
        misclassified=tuple(misclassified),
        before_seen=str(before_seen),
    )


def save_run(req: RetrainRequest, model, outcome: RetrainOutcome, result, metadata: dict) -> RetrainOutcome:
    """Save a new version (never over a shipped model); returns the outcome with the version's id and path."""
    name = version_name(req)
    metrics = dict(metadata.get("metrics") or {})
    metrics.update(
        val_accuracy=outcome.after.accuracy,
        val_n=outcome.after.n,
        before_val_accuracy=outcome.before.accuracy if outcome.before is not None else None,
    )
    metadata = {
        **metadata,
        "history": result.history,
        "metrics": metrics,
        "retrained_from": outcome.base if not req.fresh else f"a fresh model (compared with the {outcome.base})",
        "owner": req.owner,
        "studio": {
            "epochs": req.epochs,
            "batch_size": req.batch_size,
            "learning_rate": req.learning_rate,
            "optimizer": req.optimizer,
            "validation_fraction": req.validation_fraction,
            "seed": req.seed,
            "builtin_data": req.use_builtin,
            "user_samples": req.use_user_samples,
            "fresh": req.fresh,
            "train_seconds": round(result.seconds, 1),
        },
    }
    version = store.save_version(model, req.family, name, metadata)
    return replace(outcome, version_id=version.version_id, version_path=str(version.path))


def start_retrain(req: RetrainRequest, user: UserData, session_id: str, queue=None):
    """Check the request and its data now (plain errors before anything queues), then queue the training job."""

    check_request(req)
    check_version_name(req)
    notes = check_dataset(req, user)
    check_data(req, user, check_base(req))  # what the run would check after preparing its data, or at its end
    queue = queue or queues.get_queue()
    title = (
        f"Retrain {req.family}: {req.epochs} epoch(s), batch {req.batch_size}, {req.optimizer} {req.learning_rate:g}"
    )
    # A partial of a top-level function (not a lambda), registered with the job codec, crosses to a worker as JSON.
    # The kind groups runs of one recipe for the queue's wait estimate, so quick presets are not mixed with long runs.
    work = functools.partial(run_retrain, req, user)
    return queue.submit(session_id, title, work, kind=title, request=plain_request(req), notes=notes)
