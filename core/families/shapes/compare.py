"""The shapes family's part in comparing two versions: its classes, and its held-out inputs (real Quick, Draw!
drawings held out from the shipped model's training)."""

from __future__ import annotations

import numpy as np

from core.engine.checks import config_from_metadata
from core.engine.compare import HeldOut
from core.families.shapes import model as shapes
from core.store import models as store

HELDOUT_SHAPES_PER_CLASS = 8  # the shapes data builder's training set is not needed, only its held-out drawings


def class_names(loaded) -> list[str]:
    return shapes.class_names_for(loaded.metadata, loaded.model)


def held_out(classes: list[str]) -> HeldOut:
    """Real held-out drawings, split with the shipped model's own settings."""
    del classes  # the held-out words are the data's; compare keeps the classes both models know
    cfg = config_from_metadata("shapes", store.load_metadata(store.shipped_model_dir("shapes")))
    small = cfg.with_(samples_per_class=HELDOUT_SHAPES_PER_CLASS, other_per_class=HELDOUT_SHAPES_PER_CLASS)
    data = shapes.prepare_shape_data(small)
    x, y = np.asarray(data["x_val"], np.uint8), np.asarray(data["y_val"], np.int64)
    description = (
        f"{len(y):,} real Quick, Draw! drawings held out from the shipped model's training (whole words for "
        "'other'); a version retrained with another seed or validation fraction may have seen some"
    )
    return HeldOut(x, y, list(data["class_names"]), description)
