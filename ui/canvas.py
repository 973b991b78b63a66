"""The drawable canvas' value, decoded with its cost checked first.

The canvas sends a base64 PNG data URL, and streamlit-drawable-canvas' `image_data` decodes whatever arrives: a
forged value of a few kilobytes can declare a 50,000 × 50,000 image. Here the data URL's length and the PNG header's
width × height are checked against MLX_MAX_CANVAS_BYTES / MLX_MAX_CANVAS_PIXELS before a single pixel is decoded.
"""

from __future__ import annotations

import base64
import binascii
import io

import numpy as np

from core.settings import get_settings


class CanvasError(ValueError):
    """A canvas value that is not a small image, with a message meant for the user."""


def decode_canvas_url(data_url: str | None) -> np.ndarray | None:
    """(H, W, 4) uint8 RGBA from a canvas data URL, or None for no drawing; a CanvasError for anything else."""
    from PIL import Image

    if data_url is None:
        return None
    settings = get_settings()
    if not isinstance(data_url, str) or ";base64," not in data_url[:100]:
        raise CanvasError("The canvas sent something that is not an image; clear the canvas and draw again.")
    if len(data_url) > settings.max_canvas_bytes:
        raise CanvasError(
            f"The canvas image is {len(data_url) / 2**20:.1f} MB; at most {settings.max_canvas_bytes / 2**20:.1f} MB "
            "is accepted. Clear the canvas and draw again."
        )
    try:
        raw = base64.b64decode(data_url.split(";base64,", 1)[1], validate=True)
    except (binascii.Error, ValueError):
        raise CanvasError("The canvas image is not valid base64; clear the canvas and draw again.") from None
    try:
        with Image.open(io.BytesIO(raw), formats=["PNG"]) as img:  # reads the header only
            width, height = img.size
            if width * height > settings.max_canvas_pixels:
                raise CanvasError(
                    f"The canvas image is {width:,} × {height:,} pixels; at most {settings.max_canvas_pixels:,} "
                    "pixels are decoded. Clear the canvas and draw again."
                )
            return np.asarray(img.convert("RGBA"))
    except CanvasError:
        raise
    except Image.DecompressionBombError:  # Pillow's own guard, for headers far past ours
        raise CanvasError(
            f"The canvas image has far more than {settings.max_canvas_pixels:,} pixels; clear the canvas and draw again."
        ) from None
    except (OSError, ValueError, SyntaxError):  # PIL's errors for a broken PNG
        raise CanvasError("The canvas image could not be read as a PNG; clear the canvas and draw again.") from None


def canvas_rgba(result) -> np.ndarray | None:
    """The checked RGBA image of an st_canvas result (None when there is no drawing yet)."""
    if result is None:
        return None
    return decode_canvas_url(getattr(result, "_image_data_url", None))
