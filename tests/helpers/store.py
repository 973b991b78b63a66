"""Model folders for the store tests: a tiny colour model, and which of two saved models a folder holds."""

from core.families.colors.config import ColorConfig
from core.families.colors.model import build_color_model
from core.store import models as store


def tiny_color_model():
    """The tiny colour network with seeded weights."""
    import keras

    keras.utils.set_random_seed(0)
    return build_color_model(ColorConfig.tiny())


def which(folder) -> str:
    """The `which` metadata ("old" or "new") of the model saved in `folder`."""
    return store.load_model(folder).metadata["which"]
