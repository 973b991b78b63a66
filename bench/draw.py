"""Draw, mouse-up to answer (`python -m bench --only draw`): the same mouse strokes in headless Chromium, answered in
the browser (TensorFlow.js, static/draw/live.js) and by the server (the page's fallback: TensorFlow.js blocked), in
one run. Both clocks start at the mouse-up event's own time stamp; the browser path stops when its bars are in the
page (the component's stamp), the server path when the server's answer appears in the page (a MutationObserver:
before its bar chart is drawn, so the server path is, if anything, measured short).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.server import CHROMIUM_FLAGS, REPO, chromium_path, start_app, stop_app

DRAWINGS = 12  # per path; each a single stroke, so its one mouse-up is the one that asks for the answer
SHAPES = ("circle", "triangle", "star", "zigzag", "line", "hexagon")
GOAL_MS = 100.0

# The server path's clock, installed before the page's own scripts: the canvas' last mouse-up, and the first moment
# after it that the server's answer (data-testid draw-top, outside any shadow root) is in the page.
SERVER_CLOCK_JS = """
window.__mlxServerClock = { up: null, answer: null };
document.addEventListener("pointerup", (e) => {
  if (!e.composedPath().some((n) => n.classList && n.classList.contains("upper-canvas"))) return;
  window.__mlxServerClock.up = e.timeStamp;
  window.__mlxServerClock.answer = null;
}, true);
new MutationObserver(() => {
  const c = window.__mlxServerClock;
  if (c.up !== null && c.answer === null && document.querySelector('[data-testid="draw-top"]')) {
    c.answer = performance.now();
  }
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


def single_strokes(n: int, seed0: int = 300) -> list[tuple[str, list[np.ndarray]]]:
    """n drawings of one stroke each (names cycle through SHAPES), the same for every path."""
    sys.path.insert(0, str(REPO / "scripts"))
    from mouse_paths import mouse_strokes

    out, seed = [], seed0
    while len(out) < n:
        name = SHAPES[len(out) % len(SHAPES)]
        strokes = mouse_strokes(name, np.random.default_rng(seed))
        seed += 1
        if len(strokes) == 1:
            out.append((name, strokes))
    return out


def open_draw(page, url: str, engine: str) -> None:
    """Open the Draw page and wait until the given engine answers: "browser" (TensorFlow.js loaded) or "failed"."""
    from playwright.sync_api import expect

    page.goto(f"{url}/Draw")
    expect(page.get_by_test_id("draw-live")).to_have_attribute("data-engine", engine, timeout=180_000)
    expect(page.get_by_test_id("draw-empty")).to_have_count(1, timeout=60_000)


def reset_canvas(page) -> None:
    from playwright.sync_api import expect

    page.get_by_role("button", name="Reset canvas & history").click()
    expect(page.get_by_test_id("draw-empty")).to_have_count(1, timeout=60_000)
    expect(page.get_by_test_id("draw-top")).to_have_count(0)


def browser_answer_ms(page, strokes: list[np.ndarray]) -> tuple[float, dict]:
    """Draw on the canvas; returns (mouse-up to the browser's bars in ms, the component's attributes)."""
    sys.path.insert(0, str(REPO / "scripts"))
    from mouse_paths import draw_on_canvas
    from playwright.sync_api import expect

    live = page.get_by_test_id("draw-live")
    answered = live.get_attribute("data-answered") or "0"
    draw_on_canvas(page, page.locator("canvas.upper-canvas"), strokes)
    expect(live).not_to_have_attribute("data-answered", answered, timeout=60_000)
    expect(live).to_have_attribute("data-status", "ok", timeout=60_000)
    expect(live.get_by_test_id("draw-top")).to_have_count(1)
    attrs = live.evaluate("e => Object.assign({}, e.dataset)")
    return float(attrs["latencyMs"]), attrs


def server_answer_ms(page, strokes: list[np.ndarray], deadline_s: float = 120.0) -> tuple[float, str]:
    """Draw on the canvas with the server answering; returns (mouse-up to the server's answer in ms, its text)."""
    sys.path.insert(0, str(REPO / "scripts"))
    from mouse_paths import draw_on_canvas

    draw_on_canvas(page, page.locator("canvas.upper-canvas"), strokes)
    page.wait_for_function("() => window.__mlxServerClock.answer !== null", timeout=deadline_s * 1000)
    clock = page.evaluate("window.__mlxServerClock")
    return float(clock["answer"] - clock["up"]), page.get_by_test_id("draw-top").inner_text()


def measure(url: str, browser, drawings: list[tuple[str, list[np.ndarray]]]) -> dict:
    out: dict = {}
    # The browser path: TensorFlow.js answers.
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.set_default_timeout(120_000)
        open_draw(page, url, "browser")
        browser_ms, stages, backend, right = [], [], "", 0
        for i, (name, strokes) in enumerate(drawings):
            if i:
                reset_canvas(page)
            ms, attrs = browser_answer_ms(page, strokes)
            browser_ms.append(ms)
            stages.append([float(v) for v in attrs.get("stages", "").split(",") if v])
            backend = attrs.get("backend", "")
            right += attrs.get("top") == name
    finally:
        context.close()
    # The server path, same strokes: the page's fallback when TensorFlow.js cannot load.
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        context.route("**/app/static/tfjs/**", lambda route: route.abort())
        context.add_init_script(SERVER_CLOCK_JS)
        page = context.new_page()
        page.set_default_timeout(120_000)
        open_draw(page, url, "failed")
        server_ms = []
        for i, (_name, strokes) in enumerate(drawings):
            if i:
                reset_canvas(page)
            ms, _text = server_answer_ms(page, strokes)
            server_ms.append(ms)
    finally:
        context.close()
    out["draw_mouseup_to_answer_ms"] = round(float(np.median(browser_ms)), 1)
    out["draw_mouseup_to_answer_p95_ms"] = round(float(np.percentile(browser_ms, 95)), 1)
    out["draw_mouseup_to_answer_server_ms"] = round(float(np.median(server_ms)), 1)
    out["draw_mouseup_to_answer_server_p95_ms"] = round(float(np.percentile(server_ms, 95)), 1)
    out["draw_browser_speedup_vs_server"] = round(float(np.median(server_ms) / np.median(browser_ms)), 1)
    if stages and all(len(s) == 4 for s in stages):
        wait, read, prep, predict = np.median(np.asarray(stages), axis=0)
        out["draw_browser_stages_ms"] = (
            f"frame wait {wait:.1f}, read {read:.1f}, preprocess {prep:.1f}, predict {predict:.1f}"
        )
    out["draw_browser_backend"] = backend
    out["draw_browser_named_right"] = f"{right}/{len(drawings)}"
    out["draw_drawings_per_path"] = len(drawings)
    out["draw_goal_ms"] = GOAL_MS
    return out


def run() -> dict:
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    if exe is None:
        return {"draw_error": "Debian's chromium is not installed (scripts/test.sh installs it)."}
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_app(Path(tmp))
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS)
                try:
                    t0 = time.perf_counter()
                    out = measure(url, browser, single_strokes(DRAWINGS))
                    out["draw_bench_s"] = round(time.perf_counter() - t0, 1)
                    return out
                finally:
                    browser.close()
        finally:
            stop_app(proc)


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=1))
