"""Soak: 20 browser sessions over 5 minutes against one server; RSS growth and errors.

`python -m bench.soak [--sessions 20] [--minutes 5]` prints one JSON object. Each session opens the Colors page and
types a colour, draws on the Draw page, and opens the Text, Inspect, Retrain and Vector search pages, checking every
page for a Streamlit exception box. RSS is sampled after one warm-up session (every page visited once, so every shipped model
is loaded) and at the end; the target is growth <= 10% with zero errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import psutil

from bench.app import draw_once, open_draw, rss_mb
from bench.server import CHROMIUM_FLAGS, chromium_path, start_app, stop_app

PAGES = ["Colors", "Draw", "Text", "Inspect", "Retrain", "Vector_search"]


async def check_page(page, url: str, name: str, errors: list[str]) -> None:
    await page.goto(f"{url}/{name}")
    await page.get_by_role("heading", level=1).first.wait_for(timeout=120_000)
    await page.wait_for_timeout(1500)
    if await page.locator("[data-testid='stException']").count():
        errors.append(f"{name}: exception box")


async def one_session(context, url: str, index: int, errors: list[str]) -> None:
    page = await context.new_page()
    try:
        await page.goto(f"{url}/Colors")
        await page.locator(".st-key-colors-top b").first.wait_for(timeout=120_000)
        box = page.get_by_label("…or type a colour")
        await box.fill(f"#{(index * 40) % 256:02x}80c0")
        await box.press("Enter")
        await page.wait_for_timeout(500)
        await page.close()
        page = await open_draw(context, url)
        await draw_once(page, phase=index * 0.5)
        for name in PAGES[2:]:
            await check_page(page, url, name, errors)
    except Exception as exc:  # a soak counts every failure instead of stopping at the first
        errors.append(f"session {index}: {type(exc).__name__}: {str(exc)[:120]}")
    finally:
        await page.close()


async def soak(url: str, server: psutil.Process, sessions: int, minutes: float) -> dict:
    from playwright.async_api import async_playwright

    errors: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        context = await browser.new_context(viewport={"width": 1300, "height": 900})
        # Warm-up: one full session first, so models, pools and caches that are built once per server are in the
        # baseline; what the soak measures is growth from then on.
        await one_session(context, url, -1, errors)
        baseline = rss_mb(server)
        start = time.perf_counter()
        interval = minutes * 60 / sessions  # start sessions evenly over the period, up to 4 at once
        running: set[asyncio.Task] = set()
        for i in range(sessions):
            target = start + i * interval
            await asyncio.sleep(max(0.0, target - time.perf_counter()))
            while len(running) >= 4:
                _, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            running.add(asyncio.create_task(one_session(context, url, i, errors)))
        await asyncio.gather(*running)
        await asyncio.sleep(max(0.0, start + minutes * 60 - time.perf_counter()))
        final = rss_mb(server)
        await browser.close()
    return {
        "soak_sessions": sessions,
        "soak_minutes": round((time.perf_counter() - start) / 60, 2),
        "soak_rss_start_mb": round(baseline, 1),
        "soak_rss_end_mb": round(final, 1),
        "soak_rss_growth_pct": round(100 * (final - baseline) / baseline, 1),
        "soak_errors": len(errors),
        "soak_error_list": errors[:20],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=5.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_app(Path(tmp))
        try:
            result = asyncio.run(soak(url, psutil.Process(proc.pid), args.sessions, args.minutes))
        finally:
            stop_app(proc)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
