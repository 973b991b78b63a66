"""The checks a retrain request passes when Start is pressed (and again in the worker): the settings, the chosen data,
the version name and the base model, plus the setup form's defaults. What differs by family is asked of the family
(its registry entry), never branched on by name."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np

from core.engine import fit as model_fit
from core.engine import registry as families
from core.engine.retrain_request import RetrainRequest, UserData
from core.engine.training import TrainingError, check_hyperparameters
from core.settings import get_settings
from core.store import models as store
from core.store import topology as store_topology

OPTIMIZERS = ("adam", "sgd")
MIN_TEXT_CHARS = 1_000  # a run on fewer characters than this learns nothing worth showing


def epoch_cap(family: str) -> int:
    return int(getattr(get_settings(), families.get(family).max_epochs_setting))


def config_from_metadata(family: str, metadata: dict | None):
    """The family's config with the fields a model's metadata records (its training settings)."""
    cls = families.get(family).config
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
    if hasattr(cfg, "samples_per_class"):  # a family that draws generated samples per class (shapes)
        out["samples_per_class"] = int(min(cfg.samples_per_class, get_settings().max_generated_per_class))
    if families.get(family).text_upload:  # a family that learns from text: how much of it one run reads
        out["text_chars"] = int(get_settings().max_text_train_chars)
    return out


def quick_settings(family: str, metadata: dict | None) -> dict:
    """The defaults with the family's quick preset: a retrain that takes seconds on a 2-core server (for a class)."""
    quick = families.get(family).quick
    return {**default_settings(family, metadata), **{k: v for k, v in quick.items()}}


def check_request(req: RetrainRequest) -> None:
    """Plain-message checks of the settings alone (the data is checked by `check_dataset`)."""
    if req.family not in families.FAMILIES:
        raise TrainingError(f"Unknown model {str(req.family)[:40]!r}: choose one of {', '.join(families.names())}.")
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
    if req.text_chars is not None:
        limit = get_settings().max_text_train_chars
        n = req.text_chars
        if not isinstance(n, (int, np.integer)) or not MIN_TEXT_CHARS <= n <= limit:
            raise TrainingError(
                f"Characters to train on must be a whole number between {MIN_TEXT_CHARS:,} and {limit:,} (got {n!r})."
            )
    if families.get(req.family).builtin_per_class and req.use_builtin:
        cap = get_settings().max_generated_per_class
        n = req.samples_per_class
        if not isinstance(n, (int, np.integer)) or not 1 <= n <= cap:
            raise TrainingError(f"Built-in drawings per class must be between 1 and {cap} (got {n!r}).")


def _user_labels(req: RetrainRequest, user: UserData) -> list[str]:
    fam = families.get(req.family)
    if not req.use_user_samples or fam.user_labels is None:
        return []
    return list(fam.user_labels(req, user))


def check_dataset(req: RetrainRequest, user: UserData) -> list[str]:
    """Plain-message checks of the chosen data; returns notes worth showing (e.g. text that will be cut)."""
    fam = families.get(req.family)
    notes: list[str] = []
    if fam.text_upload:
        if not req.use_builtin and not req.text:
            raise TrainingError("The dataset is empty: tick the built-in corpus or upload a .txt file.")
        return notes
    try:
        labels = _user_labels(req, user)
    except ValueError as exc:
        raise TrainingError(f"One of your samples has a label that cannot be used: {exc}") from None
    if not req.use_builtin and not labels:
        raise TrainingError(
            f"The dataset is empty: you have no {fam.samples_words or 'samples'} yet, and the built-in data is "
            f"switched off. Add some on the {fam.samples_page or 'Teach'} page, or tick the built-in data."
        )
    counts = Counter(labels)
    builtin = set(fam.builtin_classes()) if req.use_builtin and fam.builtin_classes is not None else set()
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
    except store_topology.StoreError:
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

    folder = base_folder(req)
    which = "the shipped model" if _is_shipped(folder, req.family) else f"your version {folder.name}"
    try:
        model_json = store.read_model_json(folder)
        model_fit.check_model_fits(req.family, model_json)
    except store_topology.StoreError as exc:
        raise TrainingError(
            f"The model to start from ({which}) cannot be retrained: {exc} Go back to the shipped model (Versions, "
            "below) and start again."
        ) from None
    return model_json.get("userDefinedMetadata") or {}


def check_data(req: RetrainRequest, user: UserData, base_metadata: dict) -> None:
    """The checks a run makes on its prepared data (validation rows, data size against the batch and the cap), made
    before queueing where the family says preparing its data is cheap (its `check_data`); the others are checked in
    the worker."""
    fam = families.get(req.family)
    if fam.check_data is None:
        return
    try:
        n_train, n_val = fam.check_data(req, user, base_metadata)
    except TrainingError:
        raise
    except ValueError as exc:  # the data modules' plain messages (a corpus too short, an unknown label)
        raise TrainingError(str(exc)) from None
    if n_val == 0:
        raise TrainingError(
            "The validation split would be empty, so the new model could not be compared with the old one: add "
            "samples or raise the validation fraction."
        )
    check_size(n_train, req)


def _is_shipped(path, family: str) -> bool:
    return Path(path).resolve() == store.shipped_model_dir(family).resolve()


def check_size(n_train: int, req: RetrainRequest) -> None:
    cap = get_settings().max_train_samples
    if n_train > cap:
        raise TrainingError(f"The training data has {n_train:,} samples; this server allows at most {cap:,}.")
    check_hyperparameters(req.epochs, req.batch_size, req.learning_rate, n_train, epoch_cap(req.family))
