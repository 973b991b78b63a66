"""The registry of model families: every family behind one contract, so the Retrain studio, the CLI, Inspect and
Vector search iterate `FAMILIES` instead of branching on a name. A new family is one module plus one `register()`.
Importing this module imports no TensorFlow: the family's functions are named here and imported when first called."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.engine.fit import NEEDS, Needs
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
    retrain: Callable
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
    build_pool: Callable | None = None  # (model, size, seed=0) -> core.vectors.Pool

    def shipped_dir(self) -> Path:
        return self.models_dir or store.SHIPPED_MODELS_DIR / self.name

    def has_shipped_model(self) -> bool:
        return (self.shipped_dir() / store.MODEL_JSON).is_file()


FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add (or replace) a family; its page needs join core.model_fit's table so versions are checked the same way."""
    FAMILIES[family.name] = family
    NEEDS[family.name] = family.needs
    return family


def unregister(name: str) -> None:
    """Remove a family (tests register toy families and remove them again)."""
    FAMILIES.pop(name, None)
    NEEDS.pop(name, None)


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


def _text_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", required=True, help="a UTF-8 text file")
    parser.add_argument("--preset", default="shipped")


def _register_builtin() -> None:
    from core.families.colors.config import ColorConfig
    from core.families.shapes.config import ShapeConfig
    from core.families.text.config import TextConfig

    register(
        Family(
            name="colors",
            label="Colours",
            icon="🎨",
            description="RGB → 32 sigmoid units → 9 colour families.",
            config=ColorConfig,
            needs=NEEDS["colors"],
            build=Ref("core.families.colors.model", "build_color_model"),
            load_data=Ref("core.families.colors.model", "prepare_color_data"),
            train=Ref("core.families.colors.model", "train_color_model"),
            predict=Ref("core.families.colors.model", "predict_proba"),
            example=Ref("core.families.colors.model", "example"),
            retrain=Ref("core.engine.retrain", "retrain_colors"),
            train_cli=Ref("core.families.colors.model", "train_cli"),
            evaluate_cli=Ref("core.families.colors.model", "evaluate_cli"),
            sample_view="swatch",
            builtin_data="The Coding Train's crowd colour labels",
            user_samples="colors",
            quick={"epochs": 20},
            pool="colors",
            build_pool=Ref("core.vectors.search", "color_pool"),
        )
    )
    register(
        Family(
            name="shapes",
            label="Shapes",
            icon="✏️",
            description="A small CNN on 28×28 drawings, white on black.",
            config=ShapeConfig,
            needs=NEEDS["shapes"],
            build=Ref("core.families.shapes.model", "build_shape_cnn"),
            load_data=Ref("core.families.shapes.model", "prepare_shape_data"),
            train=Ref("core.families.shapes.model", "train_shape_model"),
            predict=Ref("core.families.shapes.model", "predict_proba"),
            example=Ref("core.families.shapes.model", "example"),
            retrain=Ref("core.engine.retrain", "retrain_shapes"),
            train_cli=Ref("core.families.shapes.model", "train_cli"),
            evaluate_cli=Ref("core.families.shapes.model", "evaluate_cli"),
            builtin_data="real Quick, Draw! drawings (and generated ones where real ones are few)",
            user_samples="drawings",
            quick={"epochs": 1, "samples_per_class": 100},
            pool="drawings",
            build_pool=Ref("core.vectors.search", "drawing_pool"),
        )
    )
    register(
        Family(
            name="text",
            label="Text",
            icon="📜",
            description="A character-level LSTM that predicts the next character.",
            config=TextConfig,
            needs=NEEDS["text"],
            build=Ref("core.families.text.model", "build_text_model"),
            load_data=Ref("core.families.text.model", "load_corpus_data"),
            train=Ref("core.families.text.model", "train_text_family"),
            predict=Ref("core.families.text.model", "predict_next_proba"),
            example=Ref("core.families.text.model", "example"),
            retrain=Ref("core.engine.retrain", "retrain_text"),
            train_cli=Ref("core.families.text.model", "train_cli"),
            evaluate_cli=Ref("core.families.text.model", "evaluate_cli"),
            add_cli_options=_text_options,
            sample_view="text",
            builtin_data="the Shakespeare corpus",
            text_upload=True,
            max_epochs_setting="max_text_epochs",
            quick={"epochs": 1, "text_chars": 40_000},  # ~10 s on 2 cores (docs/benchmarks.md)
        )
    )


_register_builtin()
# The Teach page's three kinds of project (imported here, at the end: core.families.teach.family registers through this
# module).
from core.families.teach.family import register_all as _register_teach  # noqa: E402

_register_teach()
