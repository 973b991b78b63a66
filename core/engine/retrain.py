"""The Retrain studio's core: check a retrain request, gather its data (built-in, the user's samples, uploaded text),
train a COPY of a model inside a background job, compare it with the model as it was on the same validation data,
and save the result as a new version. Uses each family's train_* contract; no UI here."""

from __future__ import annotations

import functools
import math
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from core.engine import registry as families
from core.engine.checks import (
    _is_shipped,
    base_folder,
    check_base,
    check_data,
    check_dataset,
    check_request,
    check_version_name,
    config_from_metadata,
    epoch_cap,
    version_name,
)
from core.engine.training import TrainingError, chance_loss, check_hyperparameters
from core.families.colors.config import ColorConfig
from core.families.shapes.config import ShapeConfig
from core.families.text import generate as text_generate
from core.metrics import classification_report
from core.settings import REPO_ROOT, get_settings
from core.store import models as store
from core.store import topology as store_topology

MAX_EXAMPLES = 24  # misclassified samples kept per confusion cell: enough to see a pattern, small in memory
TEXT_TOP_CHARS = 12  # the text confusion matrix shows the most frequent characters plus "other"
TEXT_BATCH_EVERY = 2  # LSTM batches take ~1 s each, so report every other one; the others are epoch-level
SHAPES_BATCH_EVERY = 10


@dataclass(frozen=True)
class RetrainRequest:
    """Everything the studio's setup form chooses. `base_path` is the model to copy (the session's active one)."""

    family: str
    epochs: int
    batch_size: int
    learning_rate: float
    optimizer: str
    validation_fraction: float
    seed: int
    base_path: str | None = None  # None: the shipped model
    fresh: bool = False  # build a new, untrained model instead of copying the base
    use_builtin: bool = True
    use_user_samples: bool = True
    text: str = ""  # uploaded text for the LSTM, already checked by core.text.check_corpus_upload
    text_name: str = ""
    samples_per_class: int | None = None  # shapes: generated drawings per class
    text_chars: int | None = None  # text: characters to train on (the last ones); None: this server's cap
    version_name: str = "retrain"
    owner: str = ""  # the session that asked; recorded so only it may delete the version


@dataclass
class UserData:
    """The user's own samples, read once (in the page's thread) from core.samples."""

    colors: list[tuple[int, int, int, str]] = field(default_factory=list)
    drawings: list[tuple[np.ndarray, str]] = field(default_factory=list)


# ---------------------------------------------------------------- data per family


def read_user_data(family: str, owner: str | None = None, class_code: str = "") -> UserData:
    """The user's labelled colours or drawings from the sample database, or with `class_code` the class's pooled
    ones (every member's shared samples); SampleStoreError if the database cannot be read."""
    from core.store import samples

    kind = families.get(family).user_samples
    if kind == "colors":
        rows = samples.class_color_labels(class_code) if class_code else samples.color_labels(owner=owner)
        return UserData(colors=rows)
    if kind == "drawings":
        rows = samples.class_drawings(class_code) if class_code else samples.drawings(owner=owner)
        return UserData(drawings=[(img, lab) for _, img, lab, _ in rows])
    return UserData()


def builtin_corpus_path() -> Path | None:
    """Where the corpus the shipped text model learnt from is on this server, if it is (None when offline)."""
    from core.families.text import model as text

    candidates = [
        REPO_ROOT / "core" / "data" / text.SHAKESPEARE_FILE,
        get_settings().user_data_dir / "datasets" / text.SHAKESPEARE_FILE,  # where the Text page downloads it
        Path.home() / ".keras" / "datasets" / text.SHAKESPEARE_FILE,
    ]
    return next((p for p in candidates if p.is_file()), None)


def builtin_corpus() -> tuple[str, str] | None:
    """(text, name) of the built-in corpus, or None."""
    from core.families.text import model as text

    path = builtin_corpus_path()
    return (text.read_corpus(path), path.name) if path is not None else None


def text_corpus(req: RetrainRequest) -> tuple[str, list[str], dict]:
    """The training text (built-in and/or uploaded), cut to the server's cap; returns (text, notes, description)."""
    from core.families.text import model as text

    notes, parts, names = [], [], []
    if req.use_builtin:
        found = builtin_corpus()
        if found is None:
            raise TrainingError(
                "The built-in corpus is not available on this server (it is downloaded when the text model is "
                "rebuilt). Upload a .txt file instead, or untick the built-in corpus."
            )
        parts.append(found[0])
        names.append(found[1])
    if req.text:
        parts.append(req.text)
        names.append(req.text_name or "upload")
    # The upload comes last so that, when the corpus is cut, the user's own text is the part that stays.
    corpus = "\n".join(parts)
    limit = get_settings().max_text_train_chars
    cap = min(int(req.text_chars), limit) if req.text_chars else limit
    if len(corpus) > cap:
        why = (
            "this server's limit keeps an LSTM epoch to about half a minute"
            if cap == limit
            else "as chosen: fewer characters, a shorter epoch"
        )
        notes.append(f"Training on the last {cap:,} of {len(corpus):,} characters ({why}).")
        corpus = corpus[-cap:]
    return corpus, notes, {**text.describe_corpus(corpus, " + ".join(names)), "split": "last part validates"}


def prepare_corpus(req: RetrainRequest, base_metadata: dict):
    """(corpus, vocabulary, notes, description) for a text run. A copy keeps the base model's vocabulary (its input
    and output size), so characters it cannot read are left out; a fresh model learns the corpus' own alphabet."""
    from core.families.text import model as text

    corpus, notes, description = text_corpus(req)
    if req.fresh:
        return corpus, text.Vocabulary.from_text(corpus), notes, description
    vocab = text.vocab_from_metadata(base_metadata)
    corpus = "".join(text_generate.CHAR_MAP.get(c, c) for c in corpus)
    known = set(vocab.chars)
    dropped = Counter(c for c in corpus if c not in known)
    if dropped:
        corpus = "".join(c for c in corpus if c in known)
        shown = "".join(sorted(dropped))[:40]
        notes.append(
            f"{sum(dropped.values()):,} characters the model cannot read were left out ({shown!r}); start from a "
            "fresh model to learn a new alphabet."
        )
    return corpus, vocab, notes, description


def _prepare_shapes(cfg: ShapeConfig, extra: list) -> dict:
    """core.families.shapes.model.prepare_shape_data with the generated drawings cached on disk: generating thousands takes tens of
    seconds, and a worker process starts with an empty memory, so the cache lives in the user-data folder."""
    from core.families.shapes import model as shapes

    return shapes.prepare_shape_data(cfg, extra, get_settings().user_data_dir / "cache")


def _custom_color_data(cfg: ColorConfig, extra: list) -> dict:
    """The user's labelled colours alone, split per class (class weights in training handle the imbalance)."""
    from core.families.colors import model as colors

    x = np.array([row[:3] for row in extra], dtype=np.float32)
    y = np.array([colors.FAMILIES.index(colors.normalize_label(row[3])) for row in extra])
    fit_idx, val_idx = colors.split_table(y, cfg.validation_fraction, cfg.seed + 1)
    return {
        "x_train": x[fit_idx],
        "y_train": y[fit_idx],
        "x_val": x[val_idx],
        "y_val": y[val_idx],
        "n_user_labels": len(extra),
    }


def _color_data(req: RetrainRequest, user: UserData, cfg: ColorConfig) -> dict:
    from core.families.colors import model as colors

    extra = user.colors if req.use_user_samples else []
    return colors.prepare_color_data(cfg, extra) if req.use_builtin else _custom_color_data(cfg, extra)


def _align_classes(data: dict, base_names: list[str]) -> dict:
    """Reorder shape classes so the base model's classes keep their output rows; new classes go after them."""
    names = list(data["class_names"])
    merged = list(base_names) + [c for c in names if c not in base_names]
    if merged == names:
        return data
    remap = np.array([merged.index(c) for c in names])
    return {**data, "y_train": remap[data["y_train"]], "y_val": remap[data["y_val"]], "class_names": merged}


def _predict_classes(family: str, model, x) -> np.ndarray:
    predict = families.get(family).predict
    x = np.asarray(x, np.float32)
    return np.concatenate([np.atleast_2d(predict(model, x[i : i + 512])).argmax(axis=1) for i in range(0, len(x), 512)])


def _cell_examples(y_true, y_pred, render) -> dict[str, list]:
    """{"true,pred": [rendered sample, ...]} for every off-diagonal cell, at most MAX_EXAMPLES each."""
    cells: dict[str, list] = {}
    for i, (t, p) in enumerate(zip(np.asarray(y_true), np.asarray(y_pred))):
        if t != p:
            items = cells.setdefault(f"{int(t)},{int(p)}", [])
            if len(items) < MAX_EXAMPLES:
                items.append(render(i))
    return cells


# ---------------------------------------------------------------- the job


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    return max(1, math.ceil(n_train / batch_size))


def run_retrain(req: RetrainRequest, user: UserData, job) -> dict | None:
    """The work function of a retrain job (runs in a worker process or thread); returns the outcome, or None when
    stopped.

    The base model is loaded afresh from its folder (never a shared cached object) and training runs on a copy,
    so the active model stays as it was; nothing is saved unless training finished normally.
    """
    check_request(req)
    check_version_name(req)
    check_base(req)
    before = store.load_model(base_folder(req))
    return families.get(req.family).retrain(req, user, job, before)


def _stopped(job, result) -> bool:
    from core.engine.jobs import finish_if_stopped

    return finish_if_stopped(job, result)


def _check_size(n_train: int, req: RetrainRequest) -> None:
    cap = get_settings().max_train_samples
    if n_train > cap:
        raise TrainingError(f"The training data has {n_train:,} samples; this server allows at most {cap:,}.")
    check_hyperparameters(req.epochs, req.batch_size, req.learning_rate, n_train, epoch_cap(req.family))


def _request_config(req: RetrainRequest, base, **extra):
    """The base model's config with the request's training settings (and any family-specific `extra`)."""
    return replace(
        base,
        epochs=int(req.epochs),
        batch_size=int(req.batch_size),
        learning_rate=float(req.learning_rate),
        optimizer=req.optimizer,
        validation_fraction=float(req.validation_fraction),
        seed=int(req.seed),
        **extra,
    )


def _ready(job, req: RetrainRequest, n_train: int) -> bool:
    """Check the data size, honour a cancel that came during data preparation, and plan the progress bar."""
    _check_size(n_train, req)
    if job.should_stop():
        _stopped(job, None)
        return False
    job.plan(req.epochs, steps_per_epoch(n_train, req.batch_size))
    return True


def retrain_colors(req: RetrainRequest, user: UserData, job, before) -> dict | None:
    from core.families.colors import model as colors

    cfg = _request_config(req, config_from_metadata("colors", before.metadata))
    extra = user.colors if req.use_user_samples else []
    data = _color_data(req, user, cfg)
    if not _ready(job, req, len(data["y_train"])):
        return None
    model, result, data = colors.train_color_model(
        cfg,
        data=data,
        model=None if req.fresh else before.model,  # the family contract: it trains a copy
        loss_ceiling=chance_loss(len(colors.CLASS_NAMES)),
        record_batches=True,  # no batch reports (epochs take well under a second), but a divergence curve per batch
        **job.hooks(),
    )
    if _stopped(job, result):
        return None
    names = list(colors.CLASS_NAMES)
    after_pred = _predict_classes("colors", model, data["x_val"])
    before_pred = _predict_classes("colors", before.model, data["x_val"])
    rgb = np.asarray(data["x_val"]).round().astype(int)
    outcome = _outcome(req, before, names, data["y_val"], after_pred, before_pred, result)
    outcome["examples"] = _cell_examples(data["y_val"], after_pred, lambda i: colors.to_hex(rgb[i]))
    metadata = {
        "family": "colors",
        "class_names": names,
        "training_data": (
            ("The Coding Train's crowd colour labels" if req.use_builtin else "")
            + (" + " if req.use_builtin and extra else "")
            + (f"{len(extra)} of your labelled colours" if extra else "")
            + f", {len(data['y_train'])} training labels"
        ),
        "config": asdict(cfg),
    }
    return _save(req, model, outcome, result, metadata)


def retrain_shapes(req: RetrainRequest, user: UserData, job, before) -> dict | None:
    from core.families.shapes import model as shapes

    base_names = shapes.class_names_for(before.metadata, before.model)
    cfg = _request_config(
        req,
        config_from_metadata("shapes", before.metadata),
        samples_per_class=int(req.samples_per_class or 0) if req.use_builtin else 0,
        other_per_class=int(req.samples_per_class or 0) if req.use_builtin else 0,
    )
    extra = user.drawings if req.use_user_samples else []
    data = _align_classes(_prepare_shapes(cfg, extra), base_names)
    if not _ready(job, req, len(data["y_train"])):
        return None
    names = list(data["class_names"])
    # A copy, with its output layer widened for new classes; None builds a fresh CNN for the data's classes.
    model, result, data = shapes.train_shape_model(
        cfg,
        data=data,
        model=None if req.fresh else before.model,
        loss_ceiling=chance_loss(len(names)),
        **job.hooks(SHAPES_BATCH_EVERY),
    )
    if _stopped(job, result):
        return None
    after_pred = _predict_classes("shapes", model, data["x_val"])
    before_pred = _predict_classes("shapes", before.model, data["x_val"])
    x_val = np.asarray(data["x_val"], np.uint8)
    outcome = _outcome(req, before, names, data["y_val"], after_pred, before_pred, result)
    outcome["examples"] = _cell_examples(data["y_val"], after_pred, lambda i: x_val[i])
    if len(names) > len(base_names):
        outcome["notes"].append(
            f"New classes {', '.join(names[len(base_names) :])}: the output layer was widened for them; the model "
            "before could not predict them at all."
        )
    metadata = {
        "family": "shapes",
        "class_names": names,
        "input": (before.metadata or {}).get("input", "28x28 uint8, white strokes on black"),
        "training_data": (
            (
                f"{cfg.samples_per_class} Quick, Draw! drawings per class (real ones first; generated ones for "
                "classes with few real drawings)"
                if req.use_builtin
                else ""
            )
            + (" + " if req.use_builtin and extra else "")
            + (f"{len(extra)} of your drawings" if extra else "")
        ),
        "config": asdict(cfg),
        "rejection": (before.metadata or {}).get("rejection"),  # the base model's "none of these" threshold
    }
    return _save(req, model, outcome, result, metadata)


def retrain_text(req: RetrainRequest, user: UserData, job, before) -> dict | None:
    from core.families.text import model as text

    del user  # the LSTM learns from text only
    cfg = _request_config(req, text.config_from_metadata(before.metadata))
    corpus, vocab, notes, description = prepare_corpus(req, before.metadata)
    vocab, (x_train, _), (x_val, y_val) = text.prepare_text_data(corpus, cfg, vocab)
    if not _ready(job, req, len(x_train)):
        return None
    model, result, _ = text.train_text_model(
        corpus,
        cfg,
        model=None if req.fresh else before.model,  # the family contract: it trains a copy
        vocab=vocab,
        loss_ceiling=chance_loss(len(vocab)),
        **job.hooks(TEXT_BATCH_EVERY),
    )
    if _stopped(job, result):
        return None
    names, y_true, after_pred, raw_pred = _text_buckets(model, vocab, x_val, y_val)
    before_pred = None
    if (before.metadata or {}).get("vocab") == list(vocab.chars):
        before_pred = _text_buckets(before.model, vocab, x_val, y_val, names)[2]
    else:
        notes.append("The model before used a different alphabet, so it cannot be scored on the same windows.")
    flat_x, flat_y, seq = np.asarray(x_val).reshape(-1), np.asarray(y_val).reshape(-1), x_val.shape[1]

    def snippet(i: int) -> dict:
        start = i - i % seq  # the window's first character: context never crosses into the previous window
        return {
            "context": vocab.decode(flat_x[max(start, i - 40) : i + 1]),
            "expected": vocab.chars[int(flat_y[i])],
            "predicted": vocab.chars[int(raw_pred[i])],
        }

    outcome = _outcome(req, before, names, y_true, after_pred, before_pred, result)
    outcome["examples"] = _cell_examples(y_true, after_pred, snippet)
    outcome["notes"] = notes + outcome["notes"]
    metadata = text.text_metadata(vocab, cfg, result.history, result.seconds, description, None)
    return _save(req, model, outcome, result, metadata)


def _text_argmax(model, x) -> np.ndarray:
    return np.asarray(model(np.asarray(x, np.int32), training=False)).argmax(axis=-1)  # (B, T)


def _text_buckets(model, vocab, x_val, y_val, names: list[str] | None = None):
    """Next-character predictions over the validation windows, bucketed into the most frequent characters + other.

    Returns (bucket names, true buckets, predicted buckets, raw predicted ids), all flat over windows x steps.
    """
    from core.families.text import model as text

    pred = np.concatenate([_text_argmax(model, x_val[i : i + 64]) for i in range(0, len(x_val), 64)]).reshape(-1)
    true = np.asarray(y_val).reshape(-1)
    if names is None:
        top = [int(c) for c, _ in Counter(true.tolist()).most_common(TEXT_TOP_CHARS)]
        names = [text.show_char(vocab.chars[c]) for c in top] + ["other"]
    lookup = {text.show_char(c): i for i, c in enumerate(vocab.chars)}
    bucket = np.full(len(vocab), len(names) - 1)
    for j, name in enumerate(names[:-1]):
        bucket[lookup[name]] = j
    return names, bucket[true], bucket[pred], pred


def _outcome(req, before, names, y_true, after_pred, before_pred, result) -> dict:
    after = classification_report(y_true, after_pred, names)
    before_report = classification_report(y_true, before_pred, names) if before_pred is not None else None
    return {
        "family": req.family,
        "class_names": list(names),
        "history": result.history,
        "seconds": round(result.seconds, 1),
        "epochs_run": result.epochs_run,
        "after": after,
        "before": before_report,
        "base": "shipped model" if _is_shipped(before.path, req.family) else f"version {Path(before.path).name}",
        "fresh": req.fresh,
        "settings": {
            "epochs": int(req.epochs),
            "batch_size": int(req.batch_size),
            "learning_rate": float(req.learning_rate),
            "optimizer": req.optimizer,
            "seed": int(req.seed),
        },
        "notes": [],
    }


def _save(req: RetrainRequest, model, outcome: dict, result, metadata: dict) -> dict:
    """Save a new version (never over a shipped model) and add its id and path to the outcome."""
    name = version_name(req)
    metrics = dict(metadata.get("metrics") or {})
    metrics.update(
        val_accuracy=outcome["after"]["accuracy"],
        val_n=outcome["after"]["n"],
        before_val_accuracy=(outcome["before"] or {}).get("accuracy"),
    )
    metadata = {
        **metadata,
        "history": result.history,
        "metrics": metrics,
        "retrained_from": outcome["base"] if not req.fresh else f"a fresh model (compared with the {outcome['base']})",
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
    return {**outcome, "version_id": version.version_id, "version_path": str(version.path)}


def start_retrain(req: RetrainRequest, user: UserData, session_id: str, queue=None):
    """Check the request and its data now (plain errors before anything queues), then queue the training job."""
    from core.engine import jobs

    check_request(req)
    check_version_name(req)
    notes = check_dataset(req, user)
    check_data(req, user, check_base(req))  # what the run would check after preparing its data, or at its end
    queue = queue or jobs.QUEUE
    title = (
        f"Retrain {req.family}: {req.epochs} epoch(s), batch {req.batch_size}, {req.optimizer} {req.learning_rate:g}"
    )
    # A partial of a top-level function (not a lambda) pickles by reference, so it can run in a worker process.
    # The kind groups runs of one recipe for the queue's wait estimate, so quick presets are not mixed with long runs.
    job = queue.submit(session_id, title, functools.partial(run_retrain, req, user), kind=title)
    job.notes.extend(notes)
    return job


def versions_table(family: str, owner: str = "") -> list[dict]:
    """Saved versions of a family, newest first, with what the studio shows about each."""
    rows = []
    for v in store.list_versions(family):
        meta = v.metadata or {}
        metrics = meta.get("metrics") or {}
        rows.append(
            {
                "version": v.version_id,
                "path": str(v.path),
                "saved_at": meta.get("saved_at", ""),
                "val_accuracy": metrics.get("val_accuracy"),
                "before_val_accuracy": metrics.get("before_val_accuracy"),
                "from": meta.get("retrained_from", ""),
                "mine": bool(owner) and meta.get("owner") == owner,
                "classes": len(meta.get("class_names") or []) or None,
            }
        )
    return rows


def delete_own_version(family: str, version_id: str, owner: str) -> None:
    """Delete a version this session made; versions of other sessions are theirs to delete."""
    path = store.version_path(family, version_id)
    meta = store.load_metadata(path) if path.is_dir() else {}
    if not path.is_dir():
        raise store_topology.StoreError(f"There is no version {version_id!r} of {family}.")
    if not owner or meta.get("owner") != owner:
        raise store_topology.StoreError("That version was made in another session, so it is not yours to delete.")
    store.delete_version(family, version_id)
