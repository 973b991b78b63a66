"""The shapes CLI end to end: `python -m core evaluate shapes` in a subprocess on a tiny trained model, and
`train shapes` through its CLI function with tiny settings, to a model folder that loads."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from core.families.shapes import generator as shape_generator
from core.families.shapes import model as shapes
from core.families.shapes.config import ShapeConfig
from core.store import models as store
from tests.helpers.paths import REPO
from tests.helpers.shapes import train_tiny


@pytest.fixture(scope="module")
def tiny_trained():
    return train_tiny()


def run_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_evaluate_cli_end_to_end(tiny_trained, tmp_path):
    _, model, _, data = tiny_trained
    store.save_model(model, tmp_path / "model", {"class_names": list(shapes.MODEL_CLASSES)})
    good = tmp_path / "good.npz"
    in_class = np.flatnonzero(data["y_val"] < 8)[:5]
    labels = np.array([shape_generator.CLASS_NAMES[i] for i in data["y_val"][in_class]] + ["blob", "other", "Other"])
    np.savez(good, images=data["x_val"][np.concatenate([in_class, in_class[:3]])], labels=labels)
    done = run_cli("evaluate", "shapes", str(good), "--model", str(tmp_path / "model"))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    for key in ("n", "accuracy", "balanced_accuracy", "per_class", "confusion", "unknown_labels", "other_rejected"):
        assert key in report
    assert report["n"] == 5 and report["unknown_labels"]["count"] == 1 and report["n_other"] == 2
    bad = tmp_path / "bad.npz"
    np.savez(bad, images=np.zeros((2, 28, 28), np.int64), labels=np.array(["circle", "square"]))
    done = run_cli("evaluate", "shapes", str(bad), "--model", str(tmp_path / "model"))
    assert done.returncode == 2 and "uint8" in done.stderr and "Traceback" not in done.stderr


def test_train_cli_writes_a_loadable_model(tmp_path, monkeypatch):
    # The CLI with its real defaults is minutes of CPU; tiny settings through the same function.
    class Args:
        epochs = 1
        batch_size = 16
        learning_rate = 0.01
        seed = 3
        out = str(tmp_path / "out")

    monkeypatch.setattr(shapes, "ShapeConfig", lambda: ShapeConfig.tiny().with_(samples_per_class=16))
    # Op determinism is process-wide in TensorFlow; keep it out of the test process.
    original = shapes.train_shape_model
    monkeypatch.setattr(
        shapes, "train_shape_model", lambda cfg, *a, **kw: original(cfg, *a, **{**kw, "deterministic": False})
    )
    report = shapes.train_cli(Args())
    loaded = store.load_model(tmp_path / "out")
    assert loaded.metadata["class_names"] == list(shapes.MODEL_CLASSES)
    assert loaded.metadata["config"]["epochs"] == 1 and loaded.metadata["config"]["seed"] == 3
    assert 0.0 <= report["heldout_main_accuracy"] <= 1.0 and 0.0 <= report["heldout_other_rejected"] <= 1.0
    assert loaded.metadata["real_counts"]["circle"] == 5035 and loaded.metadata["real_counts"]["other"] == 9570
    assert 0.0 <= loaded.metadata["rejection"]["min_confidence"] < 1.0
