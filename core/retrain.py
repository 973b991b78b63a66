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

from core import store
from core.config import ColorConfig, ShapeConfig, TextConfig
from core.metrics import classification_report
from core.settings import REPO_ROOT, get_settings
from core.training import TrainingError, chance_loss, check_hyperparameters, copy_model

FAMILIES = ("colors", "shapes", "text")
OPTIMIZERS = ("adam", "sgd")
MAX_EXAMPLES = 24  # misclassified samples kept per confusion cell: enough to see a pattern, small in memory
TEXT_TOP_CHARS = 12  # the text confusion matrix shows the most frequent characters plus "other"
TEXT_BATCH_EVERY = 2  # LSTM batches take ~1 s each, so report every other one; the others are epoch-level
SHAPES_BATCH_EVERY = 10
CONFIGS = {"colors": ColorConfig, "shapes": ShapeConfig, "text": TextConfig}


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
    version_name: str = "retrain"
    owner: str = ""  # the session that asked; recorded so only it may delete the version


@dataclass
class UserData:
    """The user's own samples, read once (in the page's thread) from core.samples."""

    colors: list[tuple[int, int, int, str]] = field(default_factory=list)
    drawings: list[tuple[np.ndarray, str]] = field(default_factory=list)


# ---------------------------------------------------------------- defaults and checks


def epoch_cap(family: str) -> int:
    s = get_settings()
    return s.max_text_epochs if family == "text" else s.max_epochs


def config_from_metadata(family: str, metadata: dict | None):
    """The family's config with the fields a model's metadata records (its training settings)."""
    cls = CONFIGS[family]
    known = cls.__dataclass_fields__
    values = {k: v for k, v in ((metadata or {}).get("config") or {}).items() if k in known}
    for k, v in values.items():
        if isinstance(v, list):  # JSON turned tuples (e.g. conv_filters) into lists
            values[k] = tuple(v)
    try:
        return cls(**values)
    except TypeError:
        return cls()


def default_settings(family: str, metadata: dict | None) -> dict:
    """The setup form's defaults: the shipped model's own training settings, within this server's caps."""
    cfg = config_from_metadata(family, metadata)
    out = {
        "epochs": int(min(cfg.epochs, epoch_cap(family))),
        "batch_size": int(cfg.batch_size),
        "learning_rate": float(cfg.learning_rate),
        "optimizer": cfg.optimizer if cfg.optimizer in OPTIMIZERS else "adam",
        "validation_fraction": float(cfg.validation_fraction),
        "seed": int(cfg.seed),
    }
    if family == "shapes":
        out["samples_per_class"] = int(min(cfg.samples_per_class, get_settings().max_generated_per_class))
    return out


def check_request(req: RetrainRequest) -> None:
    """Plain-message checks of the settings alone (the data is checked by `check_dataset`)."""
    if req.family not in FAMILIES:
        raise TrainingError(f"Unknown model {req.family!r}: choose one of {', '.join(FAMILIES)}.")
    if req.optimizer not in OPTIMIZERS:
        raise TrainingError(f"Unknown optimizer {req.optimizer!r}: choose SGD or Adam.")
    # Batch size against the data comes later; n_samples=batch_size here checks only the numbers themselves.
    n = req.batch_size if isinstance(req.batch_size, (int, np.integer)) and req.batch_size > 0 else 1
    check_hyperparameters(req.epochs, req.batch_size, req.learning_rate, n, epoch_cap(req.family))
    try:
        f = float(req.validation_fraction)
    except (TypeError, ValueError):
        raise TrainingError(f"The validation fraction must be a number (got {req.validation_fraction!r}).") from None
    if not math.isfinite(f) or not 0.0 < f < 1.0:
        raise TrainingError(
            f"The validation fraction must be above 0 and below 1 (got {req.validation_fraction!r}): 0 leaves "
            "nothing to check the model on, and 1 leaves nothing to train it on."
        )
    if not isinstance(req.seed, (int, np.integer)) or req.seed < 0:
        raise TrainingError(f"The random seed must be a whole number of 0 or more (got {req.seed!r}).")
    if req.family == "shapes" and req.use_builtin:
        cap = get_settings().max_generated_per_class
        n = req.samples_per_class
        if not isinstance(n, (int, np.integer)) or not 1 <= n <= cap:
            raise TrainingError(f"Built-in drawings per class must be between 1 and {cap} (got {n!r}).")


def read_user_data(family: str) -> UserData:
    """The user's labelled colours or drawings from the sample database (SampleStoreError if it cannot be read)."""
    from core import samples

    if family == "colors":
        return UserData(colors=samples.color_labels())
    if family == "shapes":
        return UserData(drawings=[(img, lab) for _, img, lab, _ in samples.drawings()])
    return UserData()


def _user_labels(req: RetrainRequest, user: UserData) -> list[str]:
    from core import colors, shapes

    if not req.use_user_samples:
        return []
    if req.family == "colors":
        return [colors.normalize_label(row[3]) for row in user.colors]
    if req.family == "shapes":
        return [shapes.check_class_name(lab) for _, lab in user.drawings]
    return []


def check_dataset(req: RetrainRequest, user: UserData) -> list[str]:
    """Plain-message checks of the chosen data; returns notes worth showing (e.g. text that will be cut)."""
    from core import colors, shapes

    notes: list[str] = []
    if req.family == "text":
        if not req.use_builtin and not req.text:
            raise TrainingError("The dataset is empty: tick the built-in corpus or upload a .txt file.")
        return notes
    try:
        labels = _user_labels(req, user)
    except ValueError as exc:
        raise TrainingError(f"One of your samples has a label that cannot be used: {exc}") from None
    if not req.use_builtin and not labels:
        what = "labelled colours" if req.family == "colors" else "drawings"
        raise TrainingError(
            f"The dataset is empty: you have no {what} yet, and the built-in data is switched off. Add some "
            f"on the {'Colors' if req.family == 'colors' else 'Draw'} page, or tick the built-in data."
        )
    counts = Counter(labels)
    builtin = set(colors.FAMILIES if req.family == "colors" else shapes.CLASS_NAMES) if req.use_builtin else set()
    # A class needs one sample to train on and one to check it with; built-in classes have plenty of both.
    lonely = sorted(lab for lab, n in counts.items() if lab not in builtin and n < 2)
    if lonely:
        raise TrainingError(
            f"The class(es) {', '.join(repr(c) for c in lonely)} have a single sample: add at least one more (one "
            "trains the model, one checks it), or delete that sample."
        )
    for lab, n in counts.items():
        if lab not in builtin and n - max(1, round(n * req.validation_fraction)) < 1:
            raise TrainingError(
                f"The class {lab!r} has {n} samples, and a validation fraction of {req.validation_fraction:g} "
                "would leave none of them for training: lower the fraction or add samples."
            )
    if not req.use_builtin and len(counts) < 2:
        raise TrainingError("Your own data has a single class: a classifier needs at least two classes to tell apart.")
    return notes


def version_name(req: RetrainRequest) -> str:
    """The folder-safe name a finished run is saved under: the studio's name, slugified."""
    return store.slugify(str(req.version_name or "retrain")).lstrip("_-.") or "retrain"


def check_version_name(req: RetrainRequest) -> str:
    """The name `_save` will use, checked now as the store will check it then (a refusal there would lose the run)."""
    name = version_name(req)
    try:
        store.check_name(name, "version name")
        store.check_name(f"20000101-000000-{name}-abcd", "version")  # the longest id save_version can make
    except store.StoreError:
        raise TrainingError(
            f"The version name {str(req.version_name)[:60]!r} cannot be used (it would be saved as {name!r}): use "
            "letters, digits, '_', '-' and single dots, such as 'my-run-2'."
        ) from None
    return name


def base_folder(req: RetrainRequest) -> Path:
    """The model a run copies and compares against: the session's active one, or the shipped model."""
    return Path(req.base_path) if req.base_path else store.shipped_model_dir(req.family)


def check_base(req: RetrainRequest) -> dict:
    """The base model's metadata, once its model.json reads and fits the family; TrainingError otherwise."""
    from core import model_fit

    folder = base_folder(req)
    which = "the shipped model" if _is_shipped(folder, req.family) else f"your version {folder.name}"
    try:
        model_json = store.read_model_json(folder)
        model_fit.check_model_fits(req.family, model_json)
    except store.StoreError as exc:
        raise TrainingError(
            f"The model to start from ({which}) cannot be retrained: {exc} Go back to the shipped model (Versions, "
            "below) and start again."
        ) from None
    return model_json.get("userDefinedMetadata") or {}


def check_data(req: RetrainRequest, user: UserData, base_metadata: dict) -> None:
    """The checks a run makes on its prepared data (validation rows, data size against the batch and the cap), made
    before queueing where preparing the data is cheap: colours and text. Shapes' user classes are checked by
    `check_dataset`; its built-in drawings always leave validation rows, and its size is checked in the worker."""
    try:
        if req.family == "colors":
            data = _color_data(req, user, _request_config(req, config_from_metadata("colors", base_metadata)))
            n_train, n_val = len(data["y_train"]), len(data["y_val"])
        elif req.family == "text":
            from core import text

            cfg = _request_config(req, text.config_from_metadata(base_metadata))
            corpus, vocab, notes, _ = prepare_corpus(req, base_metadata)
            try:
                _, (x_train, _), (x_val, _) = text.prepare_text_data(corpus, cfg, vocab)
            except ValueError as exc:  # say why it is short when characters were left out
                raise TrainingError(" ".join([str(exc), *(n for n in notes if "left out" in n)])) from None
            n_train, n_val = len(x_train), len(x_val)
        else:
            return
    except TrainingError:
        raise
    except ValueError as exc:  # the data modules' plain messages (a corpus too short, an unknown label)
        raise TrainingError(str(exc)) from None
    if n_val == 0:
        raise TrainingError(
            "The validation split would be empty, so the new model could not be compared with the old one: add "
            "samples or raise the validation fraction."
        )
    _check_size(n_train, req)


# ---------------------------------------------------------------- data per family


def builtin_corpus_path() -> Path | None:
    """Where the corpus the shipped text model learnt from is on this server, if it is (None when offline)."""
    from core import text

    candidates = [
        REPO_ROOT / "core" / "data" / text.SHAKESPEARE_FILE,
        get_settings().user_data_dir / "datasets" / text.SHAKESPEARE_FILE,  # where the Text page downloads it
        Path.home() / ".keras" / "datasets" / text.SHAKESPEARE_FILE,
    ]
    return next((p for p in candidates if p.is_file()), None)


def builtin_corpus() -> tuple[str, str] | None:
    """(text, name) of the built-in corpus, or None."""
    from core import text

    path = builtin_corpus_path()
    return (text.read_corpus(path), path.name) if path is not None else None


def text_corpus(req: RetrainRequest) -> tuple[str, list[str], dict]:
    """The training text (built-in and/or uploaded), cut to the server's cap; returns (text, notes, description)."""
    from core import text

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
    cap = get_settings().max_text_train_chars
    if len(corpus) > cap:
        notes.append(
            f"Training on the last {cap:,} of {len(corpus):,} characters (this server's limit keeps an LSTM epoch "
            "to about half a minute)."
        )
        corpus = corpus[-cap:]
    return corpus, notes, {**text.describe_corpus(corpus, " + ".join(names)), "split": "last part validates"}


def prepare_corpus(req: RetrainRequest, base_metadata: dict):
    """(corpus, vocabulary, notes, description) for a text run. A copy keeps the base model's vocabulary (its input
    and output size), so characters it cannot read are left out; a fresh model learns the corpus' own alphabet."""
    from core import text

    corpus, notes, description = text_corpus(req)
    if req.fresh:
        return corpus, text.Vocabulary.from_text(corpus), notes, description
    vocab = text.vocab_from_metadata(base_metadata)
    corpus = "".join(text.CHAR_MAP.get(c, c) for c in corpus)
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
    """core.shapes.prepare_shape_data with the generated drawings cached on disk: generating thousands takes tens of
    seconds, and a worker process starts with an empty memory, so the cache lives in the user-data folder."""
    from core import shapes

    return shapes.prepare_shape_data(cfg, extra, get_settings().user_data_dir / "cache")


def _custom_color_data(cfg: ColorConfig, extra: list) -> dict:
    """The user's labelled colours alone, split per class (class weights in training handle the imbalance)."""
    from core import colors

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
    from core import colors

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
    from core import colors, shapes

    if family == "colors":
        return colors.predict_proba(model, np.asarray(x, np.float32).reshape(-1, 3)).argmax(axis=1)
    x = np.asarray(x, np.float32)
    return np.concatenate([shapes.predict_proba(model, x[i : i + 512]).argmax(axis=1) for i in range(0, len(x), 512)])


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
    runner = {"colors": _run_colors, "shapes": _run_shapes, "text": _run_text}[req.family]
    return runner(req, user, job, before)


def _stopped(job, result) -> bool:
    if result is not None and result.ok:
        return False
    if result is None:
        job.finish("cancelled", "Cancelled before training started. Nothing was saved.")
    elif result.diverged:
        job.finish("diverged", result.message, result.loss_curve())  # the page draws the loss up to the divergence
    else:
        job.finish("cancelled", result.message)
    return True


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


def _run_colors(req: RetrainRequest, user: UserData, job, before) -> dict | None:
    from core import colors

    cfg = _request_config(req, config_from_metadata("colors", before.metadata))
    extra = user.colors if req.use_user_samples else []
    data = _color_data(req, user, cfg)
    if not _ready(job, req, len(data["y_train"])):
        return None
    trainee = colors.build_color_model(cfg) if req.fresh else copy_model(before.model)
    model, result, data = colors.train_color_model(
        cfg,
        data=data,
        model=trainee,
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


def _run_shapes(req: RetrainRequest, user: UserData, job, before) -> dict | None:
    from core import shapes

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
    if req.fresh:
        import keras

        keras.utils.set_random_seed(cfg.seed)
        trainee = shapes.build_shape_cnn(cfg, len(names))
    else:
        trainee = before.model  # train_shape_model copies it (widening the output layer for new classes)
    model, result, data = shapes.train_shape_model(
        cfg, data=data, model=trainee, loss_ceiling=chance_loss(len(names)), **job.hooks(SHAPES_BATCH_EVERY)
    )
    if model is before.model:  # the contract says it copies; if that ever changes, refuse to save a mutated base
        raise TrainingError("Internal error: the shape trainer did not copy the model.")
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


def _run_text(req: RetrainRequest, user: UserData, job, before) -> dict | None:
    from core import text

    del user  # the LSTM learns from text only
    cfg = _request_config(req, text.config_from_metadata(before.metadata))
    corpus, vocab, notes, description = prepare_corpus(req, before.metadata)
    vocab, (x_train, _), (x_val, y_val) = text.prepare_text_data(corpus, cfg, vocab)
    if not _ready(job, req, len(x_train)):
        return None
    if req.fresh:
        import keras

        keras.utils.set_random_seed(cfg.seed)
        trainee = text.build_text_model(len(vocab), cfg)
    else:
        trainee = copy_model(before.model)
    model, vocab, result = text.train_text_model(
        corpus, cfg, model=trainee, vocab=vocab, loss_ceiling=chance_loss(len(vocab)), **job.hooks(TEXT_BATCH_EVERY)
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
    from core import text

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
        "notes": [],
    }


def _is_shipped(path, family: str) -> bool:
    return Path(path).resolve() == store.shipped_model_dir(family).resolve()


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
    from core import jobs

    check_request(req)
    check_version_name(req)
    notes = check_dataset(req, user)
    check_data(req, user, check_base(req))  # what the run would check after preparing its data, or at its end
    queue = queue or jobs.QUEUE
    title = (
        f"Retrain {req.family}: {req.epochs} epoch(s), batch {req.batch_size}, {req.optimizer} {req.learning_rate:g}"
    )
    # A partial of a top-level function (not a lambda) pickles by reference, so it can run in a worker process.
    job = queue.submit(session_id, title, functools.partial(run_retrain, req, user))
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
        raise store.StoreError(f"There is no version {version_id!r} of {family}.")
    if not owner or meta.get("owner") != owner:
        raise store.StoreError("That version was made in another session, so it is not yours to delete.")
    store.delete_version(family, version_id)
