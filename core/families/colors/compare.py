"""The colour family's part in comparing two versions: its classes, and its held-out inputs (the crowd labels of the
validation people)."""

from __future__ import annotations

import numpy as np

from core.engine.checks import config_from_metadata
from core.engine.compare import HeldOut
from core.families.colors import model as colors
from core.store import models as store


def class_names(loaded) -> list[str]:
    return list((loaded.metadata or {}).get("class_names") or colors.CLASS_NAMES)


def held_out(classes: list[str]) -> HeldOut:
    """The crowd labels of the validation people, split with the shipped model's own settings."""
    del classes  # every colour model has the same nine classes
    cfg = config_from_metadata("colors", store.load_metadata(store.shipped_model_dir("colors")))
    data = colors.prepare_color_data(cfg)
    x, y = np.asarray(data["x_val"], np.float32), np.asarray(data["y_val"], np.int64)
    description = (
        f"{len(y):,} crowd colour labels from the {data['n_val_people']} people of the validation split "
        "(retrained versions did not see them; the shipped model was trained on everyone, these people included)"
    )
    return HeldOut(x, y, list(colors.CLASS_NAMES), description)
