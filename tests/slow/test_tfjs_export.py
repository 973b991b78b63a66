"""TF.js export: `python -m core export tfjs` folders load in real @tensorflow/tfjs (Node) and match Keras to 1e-4.

Runs tests/helpers/tfjs_check.js with Node (tests/helpers/tfjs.py). scripts/test.sh installs @tensorflow/tfjs
(package.json pins 4.22.0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.__main__ import main as cli
from core.families.text.config import TextConfig
from core.families.text.model import build_text_model
from core.settings import SHIPPED_MODELS_DIR
from core.store import models as store
from tests.helpers.tfjs import NODE, TFJS_INSTALLED, TOLERANCE, run_tfjs

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not installed (scripts/test.sh needs Node.js + npm)"),
    pytest.mark.skipif(
        not TFJS_INSTALLED,
        reason="@tensorflow/tfjs is not installed: run `npm install` in the repo (scripts/test.sh does)",
    ),
]


def tiny_conv_model():
    import keras

    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Rescaling(1 / 255, name="scale_0_1"),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_1"),
            keras.layers.MaxPooling2D(name="pool_1"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dropout(0.3, name="dropout"),
            keras.layers.Dense(3, activation="softmax", name="dense_out"),
        ],
        name="tiny_conv",
    )


def fixed_inputs(model) -> np.ndarray:
    """Inputs from a fixed seed: token ids for an Embedding model, 0–255 pixels or colours otherwise."""
    import keras

    rng = np.random.default_rng(7)
    first = model.layers[0]
    dims = [d if d is not None else 12 for d in model.inputs[0].shape[1:]]
    if isinstance(first, keras.layers.Embedding):
        return rng.integers(0, first.input_dim, size=(2, *dims)).astype("int32")
    return rng.uniform(0, 255, size=(3, *dims)).astype("float32")


def source_folder(kind: str, tmp_path: Path) -> Path:
    """The shipped model when it exists; for Conv2D and LSTM a tiny stand-in otherwise, so the format is always tested."""
    import keras

    shipped = {"dense": "colors", "conv": "shapes", "lstm": "text"}[kind]
    if (SHIPPED_MODELS_DIR / shipped / store.MODEL_JSON).is_file():
        return SHIPPED_MODELS_DIR / shipped
    keras.utils.set_random_seed(0)
    model = tiny_conv_model() if kind == "conv" else build_text_model(13, TextConfig.tiny())
    return store.save_model(model, tmp_path / f"tiny-{kind}")


@pytest.mark.parametrize("kind", ["dense", "conv", "lstm", "tiny-conv", "tiny-lstm"])
def test_export_loads_in_tfjs_and_matches_keras(kind, tmp_path, capsys):
    import keras

    if kind.startswith("tiny"):
        keras.utils.set_random_seed(0)
        model = tiny_conv_model() if kind == "tiny-conv" else build_text_model(13, TextConfig.tiny())
        source = store.save_model(model, tmp_path / kind)
    else:
        source = source_folder(kind, tmp_path)
    out = tmp_path / "export" / source.name
    assert cli(["export", "tfjs", str(source), str(out)]) == 0
    capsys.readouterr()
    model = store.load_model(source).model
    x = fixed_inputs(model)
    expected = np.asarray(model.predict(x, verbose=0), dtype=np.float64)
    got = run_tfjs(out, x, tmp_path)
    assert got.shape == expected.shape
    diff = float(np.abs(got - expected).max())
    with capsys.disabled():
        print(f"\nTF.js vs Keras, {kind} ({source.name}): max abs diff {diff:.3g} over {expected.size} outputs")
    assert diff <= TOLERANCE


def test_the_store_format_itself_loads_in_tfjs(tmp_path):
    """One format: a folder straight from store.save_model (no export step) loads in TF.js too."""
    model = tiny_conv_model()
    folder = store.save_model(model, tmp_path / "direct")
    x = fixed_inputs(model)
    got = run_tfjs(folder, x, tmp_path)
    assert float(np.abs(got - model.predict(x, verbose=0)).max()) <= TOLERANCE


def test_a_model_saved_by_tfjs_opens_in_the_inspector_and_matches(tmp_path):
    """The other direction: what a TF.js user would upload passes every check and predicts the same in Keras."""
    from core.inspector import inspect as inspector

    folder = tmp_path / "from-tfjs"
    x = np.random.default_rng(3).random((2, 8, 8, 1)).astype("float32")
    tfjs_out = run_tfjs(folder, x, tmp_path, "--save-conv")
    inspection = inspector.inspect_folder(folder)
    assert inspection.ok, [c.detail for c in inspection.checks if c.status != "pass"]
    assert [r["name"] for r in inspection.layers] == ["conv_1", "pool_1", "flatten", "dense_out"]
    assert float(np.abs(np.asarray(inspection.model.predict(x, verbose=0)) - tfjs_out).max()) <= TOLERANCE
