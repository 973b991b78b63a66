"""AppTest for the Inspect page: a shipped model, a conv kernel's first value in both views, the diff, a corrupt version."""

from __future__ import annotations

import numpy as np
import pytest

from core import store
from tests.conftest import app_test


def conv_version():
    """The shipped shapes model, or (before it ships) a small conv model saved as a user version."""
    import keras

    if (store.shipped_model_dir("shapes") / store.MODEL_JSON).is_file():
        return "shapes · shipped", store.shipped_model_dir("shapes")
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, name="conv_1"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(3, name="dense_out"),
        ]
    )
    version = store.save_version(model, "shapes", "conv")
    return f"shapes · {version.version_id}", version.path


def test_default_model_passes_every_check():
    at = app_test("pages/5_Inspect.py").run()
    assert not at.exception
    assert at.selectbox(key="inspect.model").value == "colors · shipped"
    assert any("All 11 consistency checks pass" in s.value for s in at.success)
    ticks = [m.value for m in at.markdown if m.value.startswith("✅")]
    assert len(ticks) == 11  # issue 13 added the size and finite-weights checks
    assert any("set explicitly" in e.label for e in at.expander)
    assert at.selectbox(key="inspect.tensor").value == "hidden/kernel"
    assert at.get("download_button")


def test_conv_kernel_first_value_in_both_views():
    label, folder = conv_version()
    at = app_test("pages/5_Inspect.py").run()
    at.selectbox(key="inspect.model").set_value(label).run()
    at.selectbox(key="inspect.tensor").set_value("conv_1/kernel").run()
    assert not at.exception
    raw = (folder / store.SHARD_NAME).read_bytes()
    first = float(np.frombuffer(raw[:4], "<f4")[0])  # conv_1/kernel is the first tensor of the file
    texts = [m.value for m in at.markdown]
    hex_text = next(t for t in texts if t.startswith("Read as a little-endian float32"))
    keras_text = next(t for t in texts if t.startswith("Read back from the loaded Keras model"))
    assert f"**{first:.9g}**" in hex_text and f"**{first:.9g}**" in keras_text
    assert any(f"`{raw[:4].hex(' ')}`" in t for t in texts)


def test_diff_of_two_versions():
    loaded = store.load_model(store.shipped_model_dir("colors"))
    bias = loaded.model.get_layer("logits").bias
    bias.assign(bias.numpy() + 1.0)
    store.save_version(loaded.model, "colors", "shifted", loaded.metadata)
    at = app_test("pages/5_Inspect.py").run()
    assert at.selectbox(key="inspect.diff_family").value == "colors"
    assert not at.exception
    diff = next(df.value for df in at.dataframe if "relative_change" in df.value.columns)
    rows = diff.set_index("name")
    assert rows.loc["logits/bias", "l2_change"] == pytest.approx(3.0, rel=1e-5)  # sqrt(9 × 1²)
    assert rows.loc["hidden/kernel", "l2_change"] == 0.0


def test_a_truncated_version_is_explained_not_crashed():
    loaded = store.load_model(store.shipped_model_dir("colors"))
    version = store.save_version(loaded.model, "colors", "broken", loaded.metadata)
    shard = version.path / store.SHARD_NAME
    shard.write_bytes(shard.read_bytes()[:100])
    at = app_test("pages/5_Inspect.py").run()
    at.selectbox(key="inspect.model").set_value(f"colors · {version.version_id}").run()
    assert not at.exception
    assert any("truncated" in e.value for e in at.error)
    assert any(m.value.startswith("❌") and "truncated" in m.value for m in at.markdown)
    assert any("cannot be exported" in w.value for w in at.warning)
