"""Human-like mouse paths for drawing shapes on the real canvas in a browser (Playwright).

Deliberately written apart from core.shapes' generator, with a different model of a hand: via-points in the
order people usually draw a shape (a circle from the top, anticlockwise; a triangle from its apex; a star as one
pentagram stroke), minimum-jerk movement between them (slow at corners, fast along sides), egg-shaped circles,
bowed sides, a slow drift and a tremor, sampled at mouse-event spacing. The browser's canvas (fabric.js) then
smooths and renders the stroke itself. Used by the browser test and by scripts/browser_drawings.py.
"""

from __future__ import annotations

import math

import numpy as np

SHAPES = ("circle", "square", "triangle", "star", "line", "hexagon", "octagon", "zigzag")


def _min_jerk(a: np.ndarray, b: np.ndarray, spacing: float) -> np.ndarray:
    """Points from a to b on a minimum-jerk time course: equal time steps, so they bunch up near both ends."""
    length = float(np.linalg.norm(b - a))
    steps = max(2, int(length / spacing))
    t = np.linspace(0, 1, steps + 1)[1:]
    s = 10 * t**3 - 15 * t**4 + 6 * t**5
    return a + (b - a) * s[:, None]


def _bowed(a: np.ndarray, b: np.ndarray, spacing: float, bow: float) -> np.ndarray:
    """A minimum-jerk segment that bows sideways by `bow` (a fraction of its length) in the middle."""
    pts = _min_jerk(a, b, spacing)
    d = b - a
    normal = np.array([-d[1], d[0]])
    s = np.linspace(0, 1, len(pts) + 1)[1:]
    return pts + normal[None] * (bow * np.sin(math.pi * s))[:, None]


def _through(via: list[np.ndarray], rng: np.random.Generator, spacing: float, bow: float = 0.04) -> np.ndarray:
    out = [via[0][None]]
    for a, b in zip(via[:-1], via[1:]):
        out.append(_bowed(a, b, spacing, rng.normal(0, bow)))
    return np.concatenate(out)


def _unit_strokes(name: str, rng: np.random.Generator) -> list[list[np.ndarray] | np.ndarray]:
    """Strokes in a unit box [-1, 1]^2 (y down): a list of via-point lists, or a ready point array (circle)."""
    if name == "circle":
        start = -math.pi / 2 + rng.normal(0, 0.6)
        direction = -1 if rng.random() < 0.7 else 1  # anticlockwise on screen is negative angle with y down
        sweep = 2 * math.pi + rng.normal(0.25, 0.25)
        th = start + direction * np.linspace(0, sweep, 48)
        r = 1 + rng.normal(0, 0.06) * np.cos(th + rng.uniform(0, 6.3)) + rng.normal(0, 0.05) * np.cos(2 * th)
        return [np.stack([np.cos(th) * r, np.sin(th) * r], axis=1)]
    if name in ("square", "hexagon", "octagon"):
        n = {"square": 4, "hexagon": 6, "octagon": 8}[name]
        base = -math.pi * 3 / 4 if n == 4 else (-math.pi / 2 if n == 6 else -math.pi / 2 + math.pi / 8)
        ang = base + np.arange(n) * 2 * math.pi / n * (1 if rng.random() < 0.6 else -1)
        pts = [np.array([math.cos(a), math.sin(a)]) * (1 + rng.normal(0, 0.04)) for a in ang]
        if n == 4:
            pts = [p * math.sqrt(2) * 0.75 for p in pts]
        close = pts[0] + rng.normal(0, 0.06, 2)
        if n == 4 and rng.random() < 0.25:  # two strokes: two sides, then the other two
            return [[pts[0], pts[1], pts[2]], [pts[0], pts[3], pts[2] + rng.normal(0, 0.05, 2)]]
        return [pts + [close]]
    if name == "triangle":
        apex = np.array([rng.normal(0, 0.2), -1.0])
        left, right = np.array([-1.0, 0.85]), np.array([1.0, 0.85])
        left, right = left + rng.normal(0, 0.07, 2), right + rng.normal(0, 0.07, 2)
        order = [apex, left, right] if rng.random() < 0.6 else [apex, right, left]
        return [order + [apex + rng.normal(0, 0.07, 2)]]
    if name == "star":
        ang = -math.pi / 2 + np.arange(5) * 2 * math.pi / 5 + rng.normal(0, 0.07, 5)
        tips = [np.array([math.cos(a), math.sin(a)]) for a in ang]
        order = [3, 0, 2, 4, 1, 3]  # bottom-left tip, up to the top, down right, across, across, back
        return [[tips[i] + rng.normal(0, 0.05, 2) for i in order]]
    if name == "line":
        angle = rng.normal(0, 0.25) if rng.random() < 0.7 else rng.uniform(-math.pi / 2, math.pi / 2)
        d = np.array([math.cos(angle), math.sin(angle)])
        return [[-d, d]]
    if name == "zigzag":
        k = int(rng.integers(4, 8))
        xs = np.linspace(-1, 1, k)
        amp = rng.uniform(0.3, 0.6)
        return [[np.array([x, (amp if i % 2 else -amp) + rng.normal(0, 0.05)]) for i, x in enumerate(xs)]]
    raise ValueError(f"no mouse path for {name!r}")


def mouse_strokes(name: str, rng: np.random.Generator, canvas: int = 320) -> list[np.ndarray]:
    """Mouse strokes (canvas pixel coordinates) for one drawing of `name`, with a hand's variation."""
    size = rng.uniform(0.3, 0.45) * canvas  # half-extent
    aspect = math.exp(rng.normal(0, 0.12))
    tilt = rng.normal(0, 0.08)
    center = rng.uniform(size + 8, canvas - size - 8, 2)
    spacing = rng.uniform(0.1, 0.16)  # unit-box distance per mouse event; fabric.js smooths between them
    c, s = math.cos(tilt), math.sin(tilt)
    rot = np.array([[c, -s], [s, c]])
    strokes = []
    for stroke in _unit_strokes(name, rng):
        pts = stroke if isinstance(stroke, np.ndarray) else _through(stroke, rng, spacing)
        drift = np.cumsum(rng.normal(0, 0.004, pts.shape), axis=0)
        tremor = rng.normal(0, 0.006, pts.shape)
        pts = (pts + drift + tremor) * np.array([aspect, 1 / aspect])
        px = pts @ rot.T * size + center
        strokes.append(np.clip(px, 2, canvas - 2))
    return strokes


HAS_INK = """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let i = 0; i < d.length; i += 4) if (d[i + 3] && d[i] < 128) return true; return false; }"""


def draw_on_canvas(page, locator, strokes: list[np.ndarray], attempts: int = 3) -> None:
    """Press, move and release the mouse along each stroke on a Playwright locator of the fabric canvas.

    A freshly mounted canvas ignores the mouse until fabric.js has set up its handlers, and nothing in the DOM
    says when that is; so check the drawing layer for ink and draw again if the strokes were dropped.
    """
    layer = locator.locator("xpath=../canvas[contains(@class, 'lower-canvas')]")
    for _ in range(attempts):
        locator.scroll_into_view_if_needed()
        box = locator.bounding_box()
        for stroke in strokes:
            x0, y0 = stroke[0]
            page.mouse.move(box["x"] + x0, box["y"] + y0)
            page.mouse.down()
            for x, y in stroke[1:]:
                page.mouse.move(box["x"] + x, box["y"] + y)
            page.mouse.up()
        if layer.evaluate(HAS_INK):
            return
        page.wait_for_timeout(500)  # give fabric.js time to mount before the next attempt
    raise AssertionError("The canvas ignored the mouse: no stroke reached it.")
