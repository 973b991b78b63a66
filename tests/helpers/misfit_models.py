"""Model folders that load (every weight present and finite) but do not fit the page that would use them: the wrong
class count, the wrong input shape, the wrong family. Shared by the fit tests and the bad-input sweep."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from core.store import models as store


def _save(layers: list, folder: Path, family: str) -> Path:
    import keras

    model = keras.Sequential(layers, name=family)
    return store.save_model(model, folder, {"family": family})


def colors_with_outputs(folder: Path, n_outputs: int = 5, n_inputs: int = 3) -> Path:
    """The colour model's layers (hidden, logits, softmax), with `n_outputs` classes and `n_inputs` input numbers."""
    import keras

    return _save(
        [
            keras.Input(shape=(n_inputs,), name="rgb"),
            keras.layers.Rescaling(1.0 / 255.0, name="scale_0_1"),
            keras.layers.Dense(8, activation="sigmoid", name="hidden"),
            keras.layers.Dense(n_outputs, name="logits"),
            keras.layers.Activation("softmax", name="softmax"),
        ],
        folder,
        "colors",
    )


def shapes_with_channel_input(folder: Path) -> Path:
    """A shapes CNN that takes (28, 28, 1) instead of the Draw page's (28, 28)."""
    import keras

    return _save(
        [
            keras.Input(shape=(28, 28, 1), name="drawing"),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv_1"),
            keras.layers.MaxPooling2D(4, name="pool_1"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(8, activation="relu", name="dense_hidden"),
            keras.layers.Dense(9, activation="softmax", name="dense_out"),
        ],
        folder,
        "shapes",
    )


def shipped_copy(folder: Path, family: str, metadata_family: str | None = "keep") -> Path:
    """A copy of a shipped model; `metadata_family` None removes the family from its metadata, a name replaces it."""
    shutil.copytree(store.shipped_model_dir(family), folder)
    if metadata_family != "keep":
        path = folder / store.MODEL_JSON
        model_json = json.loads(path.read_text())
        meta = model_json["userDefinedMetadata"]
        meta.pop("family", None)
        if metadata_family is not None:
            meta["family"] = metadata_family
        path.write_text(json.dumps(model_json))
    return folder
