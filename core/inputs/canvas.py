"""Canvas preprocessing: a canvas RGBA drawing -> the 28x28 white-on-black image the shape model sees, following the
Quick, Draw! bitmap convention (crop, scale, centre, fixed stroke width), with every step kept for the page."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

IMAGE_SIZE = 28
MARGIN = 2  # pixels of black border around the scaled drawing, as in the Quick, Draw! bitmaps
INK_THRESHOLD = 0.15  # ink below this (0-1) is anti-aliasing haze or paper, not a stroke
MIN_INK_FRACTION = 0.03  # a drawing whose longest side is below 3% of the canvas is a dot, not a shape
SCRIBBLE_FRACTION = 0.45  # ink covering more than this share of its box (and most of the canvas) is a scribble
UPSCALE = 8  # the stroke width is normalised at 8x the model's resolution (a thin stroke still spans 3+ pixels)
STROKE_WIDTH = 1.8  # output pixels; gives the ink per drawing and share of bright pixels of real Quick, Draw! bitmaps


def canvas_ink(rgba: np.ndarray) -> np.ndarray:
    """Ink amount per pixel in 0-1: opaque dark is ink; transparent or light is paper. (H, W) float32.

    Accepts RGBA (H, W, 4), RGB (H, W, 3) or grey (H, W) arrays, dark-on-light.
    """
    a = np.asarray(rgba)
    if a.ndim == 3 and a.shape[2] in (3, 4) and a.dtype == np.uint8:
        # The canvas's case, on every stroke: the same formula in integers, channel by channel (a float mean over
        # a 320x320x4 canvas took ~2 ms, this ~0.4 ms). 255 * (765 - r - g - b) * alpha fits easily in uint32.
        total = a[..., 0].astype(np.uint32)
        total += a[..., 1]
        total += a[..., 2]
        alpha = a[..., 3] if a.shape[2] == 4 else np.uint32(255)
        return ((765 - total) * alpha).astype(np.float32) * np.float32(1.0 / (765 * 255))
    if a.ndim == 2:
        rgb, alpha = a[..., None].astype(np.float32), np.full(a.shape, 255.0, np.float32)
    elif a.ndim == 3 and a.shape[2] in (3, 4):
        rgb = a[..., :3].astype(np.float32)
        alpha = a[..., 3].astype(np.float32) if a.shape[2] == 4 else np.full(a.shape[:2], 255.0, np.float32)
    else:
        raise ValueError(f"A canvas image must be (H, W), (H, W, 3) or (H, W, 4) (got shape {a.shape}).")
    darkness = 1.0 - rgb.mean(axis=-1) / 255.0  # (H, W): black 1, white 0
    return (darkness * alpha / 255.0).astype(np.float32)


def ink_box(ink: np.ndarray, threshold: float = INK_THRESHOLD) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) bounds of the ink (bottom/right exclusive), or None when there is none."""
    mask = ink > threshold
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels of a boolean ink mask: a stroke of width w and length L covers w*L pixels and
    has about 2*L boundary pixels, so w is about 2 * area / boundary."""
    pad = np.pad(mask, 1)
    interior = pad[1:-1, 1:-1] & pad[:-2, 1:-1] & pad[2:, 1:-1] & pad[1:-1, :-2] & pad[1:-1, 2:]
    boundary = int((mask & ~interior).sum())
    return 2.0 * float(mask.sum()) / max(boundary, 1)


def _square_filter(mask: np.ndarray, k: int, reduce) -> np.ndarray:
    """Max (widen) or min (thin) over a (2k+1)-square window, as two 1-D passes with NumPy's sliding windows: a
    square window is separable, so this costs 2(2k+1) per pixel instead of PIL's (2k+1)^2. Widening pads the mask
    by k on every side so nothing is cut off."""
    if reduce is np.max:
        mask = np.pad(mask, k)
    padded = np.pad(mask, ((k, k), (0, 0)), constant_values=reduce is np.min)
    rows = reduce(np.lib.stride_tricks.sliding_window_view(padded, 2 * k + 1, axis=0), axis=-1)
    padded = np.pad(rows, ((0, 0), (k, k)), constant_values=reduce is np.min)
    return reduce(np.lib.stride_tricks.sliding_window_view(padded, 2 * k + 1, axis=1), axis=-1)


def fit_to_frame(crop: np.ndarray, size: int = IMAGE_SIZE, margin: int = MARGIN) -> np.ndarray:
    """Scale a cropped ink image (0-1) so its longest side fills size - 2*margin, keep the aspect, centre it, and
    redraw its strokes STROKE_WIDTH output pixels wide.

    Google renders every Quick, Draw! bitmap from strokes scaled to one box with one line width, so its stroke
    width does not depend on the pen or on how big the person drew. A canvas gives pixels, not strokes: so the
    drawing is scaled to UPSCALE times the final size, binarised, its stroke width measured (stroke_width) and
    widened (max filter) or thinned (min filter) to the target there, then box-averaged down, which anti-aliases
    the edges as Google's renderer does. Returns (size, size) uint8, white strokes on black.
    """
    h, w = crop.shape
    big, inner = UPSCALE * size, UPSCALE * (size - 2 * margin)
    scale = inner / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    img = Image.fromarray(np.clip(crop * 255.0, 0, 255).astype(np.uint8))
    method = Image.Resampling.BILINEAR if scale > 1 else Image.Resampling.BOX
    small = np.asarray(img.resize((nw, nh), method), dtype=np.float32)  # (nh, nw) at UPSCALE x
    peak = float(small.max())
    if peak <= 0:
        return np.zeros((size, size), np.uint8)
    mask = small > 0.35 * peak  # 0.35: the anti-aliased edge of a stroke counts, the haze beside it does not
    k = int(round((STROKE_WIDTH * UPSCALE - stroke_width(mask)) / 2))  # pixels to add (or remove) on each side
    if k > 0:
        mask = _square_filter(mask, k, np.max)
    elif k < 0:
        thinner = _square_filter(mask, -k, np.min)
        mask = thinner if thinner.any() else mask  # never thin a drawing away
    pad = max(k, 0)  # a widened mask grew by k on each side; it may spill into the margin, as a pen's stroke would
    t0, l0 = (big - nh) // 2 - pad, (big - nw) // 2 - pad
    frame = np.zeros((big, big), np.uint8)
    y0, x0 = max(t0, 0), max(l0, 0)
    y1, x1 = min(t0 + mask.shape[0], big), min(l0 + mask.shape[1], big)
    frame[y0:y1, x0:x1] = mask[y0 - t0 : y1 - t0, x0 - l0 : x1 - l0] * np.uint8(255)
    image = Image.fromarray(frame)
    out = np.asarray(image.resize((size, size), Image.Resampling.BOX), dtype=np.float32)  # (28, 28)
    peak = float(out.max())
    return np.clip(out * (255.0 / peak), 0, 255).astype(np.uint8) if peak > 0 else out.astype(np.uint8)


@dataclass
class Preprocessed:
    """Every step of the canvas -> model-input pipeline, for the page to show; `image` is None for a blank canvas."""

    ink: np.ndarray  # (H, W) float 0-1
    box: tuple[int, int, int, int] | None
    crop: np.ndarray | None  # (h, w) float 0-1
    image: np.ndarray | None  # (28, 28) uint8 white on black: what the model sees
    status: str  # "blank", "dot", "scribble" or "ok"
    message: str


def preprocess_steps(rgba: np.ndarray) -> Preprocessed:
    """Run the pipeline keeping the intermediate images, and judge whether the drawing is usable."""
    ink = canvas_ink(rgba)
    box = ink_box(ink)
    if box is None:
        return Preprocessed(ink, None, None, None, "blank", "Draw a shape")
    top, bottom, left, right = box
    crop = ink[top:bottom, left:right]
    image = fit_to_frame(crop)
    longest = max(bottom - top, right - left)
    if longest < max(6, MIN_INK_FRACTION * max(ink.shape)):
        return Preprocessed(
            ink, box, crop, image, "dot", "That is just a dot: draw a whole shape, bigger than a few pixels."
        )
    coverage = float((crop > INK_THRESHOLD).mean())
    box_share = (bottom - top) * (right - left) / float(ink.shape[0] * ink.shape[1])
    if coverage > SCRIBBLE_FRACTION and box_share > 0.5:
        return Preprocessed(
            ink,
            box,
            crop,
            image,
            "scribble",
            f"That looks like a scribble over the canvas ({coverage:.0%} of it is ink): clear it and draw one shape.",
        )
    return Preprocessed(ink, box, crop, image, "ok", "")


def preprocess_canvas(rgba: np.ndarray) -> np.ndarray | None:
    """Canvas RGBA (dark ink on light or transparent) -> (28, 28) uint8 white-on-black, or None if blank."""
    return preprocess_steps(rgba).image
