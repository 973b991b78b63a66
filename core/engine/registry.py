"""The registry of model families: every family behind one contract, so the Retrain studio, the CLI, compare, the fit
checks, Inspect and Vector search ask the family instead of branching on its name. A family is one package under
core/families/ whose family.py calls `register()`; it is found by name (see `_discover`), never imported here."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.store import models as store


class FamilyError(ValueError):
    """An unknown family name, with a message meant for the user."""


@dataclass(frozen=True)
class Ref:
    """A function named by module and attribute, imported on first call.

    Why not the function itself: the registry must import without TensorFlow (the home page and the CLI's --help
    stay fast), and a Ref pickles by name, so a job that carries one can run in a worker process."""

    module: str
    name: str

    def resolve(self) -> Callable:
        return getattr(importlib.import_module(self.module), self.name)

    def __call__(self, *args, **kwargs):
        return self.resolve()(*args, **kwargs)


@dataclass(frozen=True)
class Needs:
    """What one family's pages need from a model: the input, the layers read by name, the output layer, and the family's
    own check of the output (the number of classes, a vocabulary), `output_problem(units, metadata) -> str | None`."""

    input_shape: tuple  # per sample; None = any length
    input_text: str  # the input, in words, for the message
    layers: dict[str, str]  # layer name -> layer class, for every layer a page reads by name
    output: str  # the layer whose units are the classes (or characters)
    output_problem: Callable[[int, dict, dict], str | None] | None = None  # (units, metadata, layers by name)


@dataclass(frozen=True)
class PoolInput:
    """How the Vector search page asks for the size of a family's pool."""

    label: str = "Items in the pool"
    maximum: int = 20_000
    default: int = 4096
    step: int = 256
    key: str = "vectors.pool_size"
    help: str = ""


def class_count_problem(units: int, meta: dict) -> str | None:
    """The check every classifier's `output_problem` ends with: the metadata's class names, one per output."""
    names = meta.get("class_names")
    if isinstance(names, list) and names and len(names) != units:
        return f"its metadata names {len(names)} classes but it has {units} outputs"
    return None


def _no_options(parser: argparse.ArgumentParser) -> None:
    del parser


@dataclass(frozen=True)
class Family:
    """One model family's contract. Every callable takes and returns the same kinds of things in every family:

    - build(cfg, n_classes=None) -> a new Keras model; load_data(cfg) -> the built-in data as a dict;
    - train(cfg, data=None, model=None, **hooks) -> core.training.Trained, always on a new model or a copy;
    - predict(model, x) -> probabilities (N, classes); example(model) -> {"input": str, "label": str, "p": float};
    - retrain(req, user, job, before) -> the studio's outcome dict, or None when stopped;
    - train_cli(args) / evaluate_cli(args) -> one JSON-able dict; add_cli_options adds the family's own flags.
    """

    name: str  # "shapes": the folder under saved_models/ and the CLI's word
    label: str  # what a menu shows
    icon: str
    description: str  # one sentence: the architecture, in words
    config: type  # a frozen dataclass with tiny()
    needs: Needs  # what its pages read from a model (core.model_fit)
    build: Callable
    load_data: Callable
    train: Callable
    predict: Callable
    example: Callable
    retrain: Callable  # (request, user data, job, model before) -> core.engine.retrain_outcome.RetrainOutcome | None
    train_cli: Callable
    evaluate_cli: Callable
    add_cli_options: Callable[[argparse.ArgumentParser], None] = _no_options
    sample_view: str = "image"  # how a view shows one input: "swatch" (an RGB colour), "image" or "text"
    builtin_data: str = ""  # the studio's words for the built-in training data
    user_samples: str = ""  # "colors" or "drawings": which of the user's samples it can learn from ("" none)
    text_upload: bool = False  # the studio offers a .txt upload as training data
    max_epochs_setting: str = "max_epochs"  # the core.settings field that caps a retrain's epochs
    quick: dict = field(default_factory=dict)  # a retrain preset that takes seconds on a 2-core server
    models_dir: Path | None = None  # where its shipped model lives; None: saved_models/<name>
    pool: str = ""  # the Vector search pool its embedding layer indexes ("" none)
    build_pool: Callable | None = None  # (model, size, seed=0) -> core.vectors.search.Pool
    pool_input: PoolInput = PoolInput()
    concepts: Callable | None = None  # () -> {name: core.vectors.experiment.Concept} the experiment can look for
    pool_size: Callable | None = None  # (a total size or None) -> build_pool's size, when it counts per class
    # What the studio's checks, compare and the pages ask of a family instead of branching on its name:
    samples_words: str = ""  # the user's samples in words ("labelled colours"), for the studio's messages
    samples_page: str = ""  # the page where they are made ("Colors")
    builtin_per_class: bool = False  # the built-in data is drawn per class (the studio's "drawings per class")
    user_labels: Callable | None = None  # (req, user) -> the user's sample labels, checked ("" families: none)
    builtin_classes: Callable | None = None  # () -> the classes the built-in data has
    check_data: Callable | None = None  # (req, user, base metadata) -> (n_train, n_val), where preparing is cheap
    class_names: Callable | None = None  # (loaded model) -> its classes (or characters), for compare
    held_out: Callable | None = None  # (classes) -> core.engine.compare.HeldOut: inputs neither model trained on
    compare: Callable | None = None  # (model_a, model_b, held) -> Comparison, when plain argmax does not fit
    builtin_available: Callable | None = None  # () -> whether its built-in data is on this server (None: always)
    menu_order: int = 100  # where menus list it (the built-in families first)

    def shipped_dir(self) -> Path:
        return self.models_dir or store.SHIPPED_MODELS_DIR / self.name

    def has_shipped_model(self) -> bool:
        return (self.shipped_dir() / store.MODEL_JSON).is_file()


FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add (or replace) a family; the store learns where its shipped model lives (it never asks a family itself)."""
    FAMILIES[family.name] = family
    ordered = sorted(FAMILIES.values(), key=lambda f: f.menu_order)  # stable: equal orders keep registration order
    FAMILIES.clear()
    FAMILIES.update((f.name, f) for f in ordered)
    store.register_shipped_dir(family.name, family.shipped_dir())
    return family


def unregister(name: str) -> None:
    """Remove a family (tests register toy families and remove them again)."""
    FAMILIES.pop(name, None)
    store.unregister_shipped_dir(name)


def get(name: str) -> Family:
    try:
        return FAMILIES[name]
    except (KeyError, TypeError):
        raise FamilyError(f"Unknown model {str(name)[:40]!r}: choose one of {', '.join(FAMILIES)}.") from None


def names() -> tuple[str, ...]:
    return tuple(FAMILIES)


def for_pool(pool: str) -> Family:
    """The family whose model embeds the Vector search pool `pool`."""
    found = [f for f in FAMILIES.values() if f.pool and f.pool == pool]
    if not found:
        raise FamilyError(f"Unknown pool {str(pool)[:40]!r}: choose one of {', '.join(pools())}.")
    return found[0]


def pools() -> list[str]:
    """The Vector search pools whose family's shipped model is installed."""
    return [f.pool for f in with_shipped_model() if f.pool]


def with_shipped_model() -> list[Family]:
    """The families whose shipped model is installed on this server, in registry order."""
    return [f for f in FAMILIES.values() if f.has_shipped_model()]


def _discover() -> None:
    """Register every family package under core/families/ (each one's family.py registers itself on import).

    Found by folder name, like a plugin: the engine names no family, and a new family needs no line here. The
    family modules import only their own light modules at the top, so this imports no TensorFlow."""
    folder = Path(__file__).resolve().parents[1] / "families"
    for info in sorted(pkgutil.iter_modules([str(folder)]), key=lambda i: i.name):
        if info.ispkg and (folder / info.name / "family.py").is_file():
            importlib.import_module(f"core.families.{info.name}.family")


_discover()
