"""The drawable canvas' value, decoded with its cost checked first.

The canvas sends a base64 PNG data URL, and streamlit-drawable-canvas' `image_data` decodes whatever arrives: a
forged value of a few kilobytes can declare a 50,000 × 50,000 image. Here the data URL's length and the PNG header's
width × height are checked against MLX_MAX_CANVAS_BYTES / MLX_MAX_CANVAS_PIXELS before a single pixel is decoded.

`fitted_canvas` shrinks a canvas on screen to fit a narrow column (a 1024 px projector, a zoomed browser) while it keeps
its size in canvas pixels, so the drawing it sends, and the model's 28×28 input, do not depend on the screen.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import streamlit as st

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


# ---------------------------------------------------------------- fitting the canvas to its column

FIT_STEP_PX = 8  # the shrink goes in steps of this much column width: at most 8 px of the column is left unused
FIT_MIN_ZOOM = 0.4  # below this a canvas is too small to draw on; a narrower column scrolls it sideways instead
FIT_MARGIN_PX = 4  # the canvas' border, so a column exactly as wide as the canvas still fits it
TOOLBAR_ROOM_REM = 2.25  # the drawable canvas' toolbar floats this far above its top edge while the mouse is over it


def fit_canvas_css(box_key: str, canvas_px: int) -> str:
    """CSS that zooms the canvas in `st.container(key=box_key)` down until it fits the container's width.

    A CSS zoom, not a smaller canvas: fabric.js maps the mouse through the displayed size, so a stroke lands where it
    is drawn and stays in proportion to the canvas, and the image sent back is canvas_px square whatever the screen.
    Container queries pick the zoom from the column's own width (CSS cannot divide a width by a length in every
    browser yet), one step per FIT_STEP_PX: a column of width w in [t - step, t) gets zoom (t - step) / needed <= w / needed.
    """
    if not re.fullmatch(r"[A-Za-z0-9_-]+", box_key):
        raise ValueError(f"A canvas box key is letters, digits, '-' and '_' only (got {box_key!r}).")
    box = f".st-key-{box_key}"
    needed = int(canvas_px) + FIT_MARGIN_PX
    rules = [
        f"{box} {{ container-type: inline-size; }}",
        # Room above the canvas for its hover toolbar, which otherwise covers the line of text above it.
        f"{box} {{ padding-top: {TOOLBAR_ROOM_REM}rem; }}",
    ]
    width = needed
    while (zoom := math.floor((width - FIT_STEP_PX) / needed * 10_000) / 10_000) >= FIT_MIN_ZOOM:  # down: never over
        rules.append(
            f'@container (width < {width}px) {{ {box} [data-testid="stElementContainer"] {{ zoom: {zoom:.4f}; }} }}'
        )
        width -= FIT_STEP_PX
    return "\n".join(rules)


@contextmanager
def fitted_canvas(box_key: str, canvas_px: int) -> Iterator[None]:
    """A container for one st_canvas of canvas_px square that shrinks it on screen to fit a narrower column."""
    st.html(f"<style>{fit_canvas_css(box_key, canvas_px)}</style>")  # style only: takes no room on the page
    with st.container(key=box_key):
        yield


def drawing_canvas(key: str, fit_key: str, canvas_px: int, stroke_px: int = 10):
    """The app's one drawing canvas: black freehand strokes on white, `canvas_px` square inside (shown smaller in a
    narrow column), returning its image data for canvas_rgba. Used by the Draw and Teach pages."""
    from streamlit_drawable_canvas import st_canvas

    with fitted_canvas(fit_key, canvas_px):
        return st_canvas(
            stroke_width=stroke_px,
            stroke_color="#000000",
            background_color="#ffffff",
            height=canvas_px,
            width=canvas_px,
            drawing_mode="freedraw",
            return_image_data=True,  # the canvas needs it to hand back the drawing at all
            key=key,
        )


# ---------------------------------------------------------------- taking a drawing off the canvas, in the browser

# Why in the browser: the canvas used to be cleared from the server (a new key after "Add"), so a stroke drawn
# between the click and the server's answer landed on the old canvas and vanished with it, never sent. Here the
# click itself reads the pixels the person sees and empties the canvas with its own reset button, in one event:
# a stroke drawn a moment later is on the empty canvas already, and the server never clears anything.
_TAKE_DRAWING_JS = """
function deepQuery(root, selector) {
  const found = root.querySelector(selector);
  if (found) return found;
  for (const el of root.querySelectorAll("*")) {
    if (el.shadowRoot) {
      const inner = deepQuery(el.shadowRoot, selector);
      if (inner) return inner;
    }
  }
  return null;
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let button = parentElement.querySelector("button.take-drawing");
  if (!button) {
    button = document.createElement("button");
    button.type = "button";
    button.className = "take-drawing";
    parentElement.appendChild(button);
  }
  button.textContent = data.label;
  button.onclick = () => {
    const box = document.querySelector(".st-key-" + data.box);
    const lower = box && deepQuery(box, "canvas.lower-canvas");
    if (!lower) {
      setTriggerValue("taken", "");
      return;
    }
    const out = document.createElement("canvas");
    out.width = data.size;
    out.height = data.size;
    const ctx = out.getContext("2d");
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, data.size, data.size);
    // The background and the strokes are two fabric canvases (both "lower-canvas"), stacked in this order.
    for (const layer of lower.getRootNode().querySelectorAll("canvas.lower-canvas")) {
      ctx.drawImage(layer, 0, 0, data.size, data.size);
    }
    setTriggerValue("taken", out.toDataURL("image/png"));
    const reset = deepQuery(box, 'button[aria-label="Reset canvas & history"]');
    if (reset) reset.click();
  };
}
"""
_TAKE_DRAWING_CSS = """
button.take-drawing {
  font: inherit; font-family: "Source Sans Pro", "Source Sans 3", sans-serif; font-size: 1rem; line-height: 1.6;
  color: #ffffff; background: #ff4b4b; border: 1px solid #ff4b4b; border-radius: 0.5rem;
  padding: 0.25rem 0.75rem; min-height: 2.5rem; cursor: pointer;
}
button.take-drawing:hover { background: #ff3333; border-color: #ff3333; }
button.take-drawing:active { background: #e03131; }
"""
_take_drawing = st.components.v2.component(
    "mlx.take_drawing", html="", js=_TAKE_DRAWING_JS, css=_TAKE_DRAWING_CSS, isolate_styles=True
)


def take_drawing_button(label: str, fit_key: str, canvas_px: int, key: str) -> str | None:
    """A button that, when clicked, sends the drawing on the canvas inside `fitted_canvas(fit_key, ...)` as a PNG data
    URL (returned in the run the click causes, else None) and empties that canvas in the same browser event, so
    nothing drawn after the click is lost. Read the URL with decode_canvas_url (its size is checked there)."""
    result = _take_drawing(
        data={"label": label, "box": fit_key, "size": int(canvas_px)},
        key=key,
        on_taken_change=lambda: None,
    )
    taken = getattr(result, "taken", None)
    return taken if isinstance(taken, str) else None
