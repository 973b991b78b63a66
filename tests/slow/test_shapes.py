"""The shipped shapes model on the browser-drawn held-out set (tests/helpers/data)."""

from __future__ import annotations

import numpy as np

from core.families.shapes import model as shapes
from tests.helpers.paths import DATA


def test_shipped_model_on_the_browser_drawn_held_out_set():
    """tests/helpers/data/browser_drawings.npz: 160 drawings made with the mouse on the real canvas in Chromium by
    scripts/browser_drawings.py (seed 2026), a proxy for human drawings (see that script). Not generator output."""
    loaded = shapes.load_shipped()
    names = shapes.class_names_for(loaded.metadata, loaded.model)
    images, labels = shapes.read_evaluation_npz(DATA / "browser_drawings.npz")
    main = np.isin(labels, ["circle", "square", "triangle", "star"])
    y = np.array([names.index(lab) for lab in labels])
    assert main.sum() >= 80
    assert shapes.evaluate_arrays(loaded.model, images[main], y[main], names)["accuracy"] >= 0.93
    assert shapes.evaluate_arrays(loaded.model, images, y, names)["accuracy"] >= 0.85
