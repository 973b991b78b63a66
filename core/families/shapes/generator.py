"""The procedural generator: hand-drawn-looking shapes (wobble, over/undershoot, several strokes) rendered on a canvas
and sent through the same preprocessing as a user's drawing."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from core.inputs.canvas import IMAGE_SIZE, preprocess_canvas

CLASS_NAMES = ("circle", "square", "triangle", "star", "line", "hexagon", "octagon", "zigzag")  # Quick, Draw! names


def _densify(points: np.ndarray, step: float) -> np.ndarray:
    """Resample a polyline so consecutive points are about `step` apart (the wobble needs many points)."""
    out = [points[0]]
    for a, b in zip(points[:-1], points[1:]):
        n = max(1, int(np.linalg.norm(b - a) / step))
        t = np.linspace(0, 1, n + 1)[1:, None]
        out.extend(a + (b - a) * t)
    return np.array(out)


def _wobble(points: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Add a hand's low-frequency drift and tremor: a few random sinusoids along the arc length, per axis."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    s = s / max(s[-1], 1e-6)
    out = points.copy()
    for axis in range(2):
        for freq in (rng.uniform(0.5, 1.5), rng.uniform(2, 4), rng.uniform(5, 9)):
            amp = amount * rng.uniform(0.2, 1.0) / math.sqrt(freq)
            out[:, axis] += amp * np.sin(2 * math.pi * freq * s + rng.uniform(0, 2 * math.pi))
    out += rng.normal(0, amount * 0.08, out.shape)
    return out


def _polygon(n: int, rng: np.random.Generator, jitter: float, start: float) -> np.ndarray:
    angles = start + np.arange(n) * 2 * math.pi / n + rng.normal(0, jitter, n)
    radii = 1.0 + rng.normal(0, jitter, n)
    return np.stack([np.cos(angles) * radii, np.sin(angles) * radii], axis=1)


def _closed(vertices: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """A closed outline as the strokes a person draws: usually one stroke with over/undershoot, sometimes
    several strokes, sometimes a gap."""
    n = len(vertices)
    start = int(rng.integers(n))
    ring = np.concatenate([vertices[start:], vertices[:start]])
    path = np.concatenate([ring, ring[:1]])
    end_shift = rng.uniform(-0.25, 0.3)  # <0 leaves a gap before the start, >0 overshoots past it
    last = path[-2] + (path[-1] - path[-2]) * (1 + end_shift) if end_shift < 0 else path[-1]
    path = path.copy()
    path[-1] = last
    if end_shift > 0:
        path = np.concatenate([path, path[-1:] + (path[1:2] - path[:1]) * end_shift])
    if rng.random() < 0.25 and n >= 3:  # drawn in two or more strokes
        cut = int(rng.integers(1, len(path) - 1))
        return [path[: cut + 1], path[cut:]]
    return [path]


def _shape_strokes(name: str, rng: np.random.Generator) -> list[np.ndarray]:
    """Strokes of one shape in roughly [-1, 1] coordinates, y pointing down."""
    if name == "circle":
        a0 = rng.uniform(0, 2 * math.pi)
        turn = 2 * math.pi * (1 + rng.uniform(-0.12, 0.2)) * (1 if rng.random() < 0.5 else -1)
        t = np.linspace(a0, a0 + turn, 80)
        r = 1 + rng.uniform(-0.12, 0.12) * (t - a0) / abs(turn)  # a slight spiral: the end misses the start
        return [np.stack([np.cos(t) * r, np.sin(t) * r], axis=1)]
    if name == "square":
        corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float) + rng.normal(0, 0.06, (4, 2))
        if rng.random() < 0.3:  # four separate sides
            return [np.stack([corners[i], corners[(i + 1) % 4]]) for i in range(4)]
        return _closed(corners, rng)
    if name == "triangle":
        apex_x = rng.uniform(-0.6, 0.6) if rng.random() < 0.75 else rng.choice([-1.0, 1.0])  # some right triangles
        verts = np.array([[apex_x, -1], [1, 1], [-1, 1]], float) + rng.normal(0, 0.06, (3, 2))
        if rng.random() < 0.15:
            verts[:, 1] *= -1  # upside down
        return _closed(verts, rng)
    if name == "star":
        outer = _polygon(5, rng, 0.05, -math.pi / 2 + rng.normal(0, 0.15))
        if rng.random() < 0.6:  # the pentagram, drawn in one stroke
            order = [0, 2, 4, 1, 3, 0]
            path = outer[order]
            path[-1] = path[-1] + rng.normal(0, 0.08, 2)
            return [path]
        inner = _polygon(5, rng, 0.05, -math.pi / 2 + math.pi / 5) * rng.uniform(0.35, 0.5)
        outline = np.empty((10, 2))
        outline[0::2], outline[1::2] = outer, inner
        return _closed(outline, rng)
    if name == "line":
        path = np.array([[-1, 0], [1, 0]], float) + rng.normal(0, 0.03, (2, 2))
        return [path]
    if name == "hexagon":
        return _closed(_polygon(6, rng, 0.05, rng.uniform(0, math.pi / 3)), rng)
    if name == "octagon":
        return _closed(_polygon(8, rng, 0.04, rng.uniform(0, math.pi / 4)), rng)
    if name == "zigzag":
        n = int(rng.integers(3, 8))
        xs = np.linspace(-1, 1, n + 1) + rng.normal(0, 0.04, n + 1)
        ys = np.where(np.arange(n + 1) % 2 == 0, -1.0, 1.0) * rng.uniform(0.25, 0.6) + rng.normal(0, 0.06, n + 1)
        return [np.stack([xs, ys], axis=1)]
    raise ValueError(f"The generator cannot draw {name!r}; it knows {', '.join(CLASS_NAMES)}.")


def _place(strokes: list[np.ndarray], name: str, rng: np.random.Generator, canvas: int) -> list[np.ndarray]:
    """Aspect, rotation, size and position on the canvas."""
    if name == "line":
        angle = rng.choice([rng.normal(0, 0.2), rng.uniform(-math.pi, math.pi)])
        aspect = (1.0, 1.0)
    else:
        spread = {"square": 0.2, "star": 0.25, "triangle": 0.25, "zigzag": 0.35}.get(name, math.pi)
        angle = rng.normal(0, spread) if spread < 1 else rng.uniform(-math.pi, math.pi)
        stretch = math.exp(rng.normal(0, 0.15))
        aspect = (stretch, 1 / stretch)
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    size = rng.uniform(0.2, 0.45) * canvas  # half the drawing's extent, in canvas pixels
    center = rng.uniform(size * 0.9, canvas - size * 0.9, 2)
    return [(st * np.array(aspect)) @ rot.T * size + center for st in strokes]


def render_strokes(strokes: list[np.ndarray], canvas: int, pen: float) -> np.ndarray:
    """Strokes (canvas pixel coordinates) -> RGBA (canvas, canvas, 4): black ink on a transparent canvas."""
    img = Image.new("RGBA", (canvas, canvas), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    r = pen / 2
    for st in strokes:
        pts = [tuple(p) for p in st]
        if len(pts) > 1:
            draw.line(pts, fill=(0, 0, 0, 255), width=max(1, round(pen)), joint="curve")
        for x, y in (pts[0], pts[-1]):  # round caps, as a canvas brush has
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(0, 0, 0, 255))
    return np.asarray(img)


def draw_shape(name: str, rng: np.random.Generator, canvas: int = 192) -> np.ndarray:
    """One hand-drawn-looking shape as a canvas RGBA image."""
    strokes = _place(_shape_strokes(name, rng), name, rng, canvas)
    size = max(float(np.ptp(np.concatenate(strokes), axis=0).max()), 1.0)
    strokes = [_wobble(_densify(st, size / 40), rng, size * rng.uniform(0.005, 0.03)) for st in strokes]
    pen = rng.uniform(0.02, 0.09) * size + 1.5
    return render_strokes(strokes, canvas, pen)


def generate_shapes(
    n_per_class: int, seed: int, classes: tuple[str, ...] = CLASS_NAMES, canvas: int = 192
) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 28, 28) uint8, labels (N,) int) of generated drawings; the same seed gives the same arrays."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n_per_class * len(classes), IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    labels = np.repeat(np.arange(len(classes)), n_per_class)
    for i, c in enumerate(labels):
        image = preprocess_canvas(draw_shape(classes[c], rng, canvas))
        images[i] = image if image is not None else 0
    order = rng.permutation(len(labels))
    return images[order], labels[order]
