"""Draw a held-out set of shapes with the mouse on the Draw page's real canvas (headless Chromium + Playwright),
read each drawing back from the canvas, preprocess it exactly as the page does, and save an `.npz` in the
`python -m core evaluate shapes` format.

    python scripts/browser_drawings.py --per-class 30 --seed 2026 --out /tmp/browser_drawings.npz
    python -m core evaluate shapes /tmp/browser_drawings.npz

This is a PROXY for human drawings: the mouse paths come from scripts/mouse_paths.py (written apart from the
training generator), not from people. It needs a running app (--url) or starts one.
"""

from __future__ import annotations

import argparse
import base64
import io
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from core.inputs import canvas as shape_preprocess

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "scripts")]

from mouse_paths import SHAPES, draw_on_canvas, mouse_strokes  # noqa: E402

BLANK_CHECK = """c => new Promise(resolve => {
  const ctx = c.getContext('2d');
  const poll = () => {
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    for (let i = 0; i < d.length; i += 4) if (d[i + 3] && d[i] < 128) return requestAnimationFrame(poll);
    resolve(true);
  };
  poll();
})"""


def canvas_rgba(page) -> np.ndarray:
    """The drawing layer of the fabric canvas as RGBA (transparent paper, dark ink)."""
    url = page.locator("canvas.dc-canvas.lower-canvas").evaluate("c => c.toDataURL('image/png')")
    raw = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGBA"))


def collect(url: str, per_class: int, seed: int, classes: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)
    rng = np.random.default_rng(seed)
    images, labels, inks = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--headless", "--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(f"{url}/Draw")
        expect(page.get_by_test_id("draw-empty")).to_be_visible()
        canvas = page.locator("canvas.upper-canvas")
        drawing_layer = page.locator("canvas.dc-canvas.lower-canvas")
        reset = page.get_by_role("button", name="Reset canvas & history")
        for i in range(per_class):
            for name in classes:
                draw_on_canvas(page, canvas, mouse_strokes(name, rng))
                rgba = canvas_rgba(page)
                image = shape_preprocess.preprocess_canvas(rgba)
                if image is not None:
                    images.append(image)
                    labels.append(name)
                    inks.append(np.clip(shape_preprocess.canvas_ink(rgba) * 255, 0, 255).astype(np.uint8))
                else:
                    print(f"a {name} did not reach the canvas; skipped", file=sys.stderr)
                # The canvas toolbar's reset clears in the browser without remounting the component.
                reset.click()
                drawing_layer.evaluate(BLANK_CHECK)
            print(f"round {i + 1}/{per_class}", file=sys.stderr)
        browser.close()
    return np.stack(images), np.array(labels), np.stack(inks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-class", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", default="browser_drawings.npz")
    parser.add_argument("--url", help="a running app; default: start one")
    parser.add_argument("--classes", nargs="*", default=list(SHAPES))
    parser.add_argument(
        "--canvas-out", help="also save each drawing's canvas ink (uint8, 0 paper to 255 ink) here, to re-preprocess"
    )
    args = parser.parse_args()
    proc = None
    url = args.url
    if url is None:
        from bench.server import start_app

        proc, url = start_app(Path(tempfile.mkdtemp(prefix="draw_eval_")))
    try:
        images, labels, inks = collect(url, args.per_class, args.seed, tuple(args.classes))
    finally:
        if proc is not None:
            proc.terminate()
    np.savez_compressed(args.out, images=images, labels=labels)
    if args.canvas_out:
        np.savez_compressed(args.canvas_out, ink=inks, labels=labels)
    print(f"{len(labels)} drawings -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
