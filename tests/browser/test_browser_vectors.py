"""Browser test (headless Chromium): one full vector-search loop on the embedded on-disk Qdrant — start from the
blue-ish head, label with the sliders, Train step, the next query excludes the seen items, Reset seen, save the head."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def metric(page, label: str):
    return page.get_by_test_id("stMetric").filter(has_text=label)


def swatch_codes(page) -> list[str]:
    grid = page.get_by_role("slider")
    expect(grid).to_have_count(10)
    return [
        t.rsplit("·", 1)[1].strip() for t in page.locator("[data-testid='vs-swatch'] + small").all_inner_texts()[:10]
    ]


def wait_idle(page) -> None:
    """Wait until the app has finished its rerun (the status widget says 'Running' while a script runs)."""
    expect(page.get_by_test_id("stStatusWidget").filter(has_text="Running")).to_have_count(0, timeout=60_000)


def set_slider(page, thumb, key: str, value: str) -> None:
    """Press Home/End on a slider and wait until the value holds.

    A key press that lands while the previous slider's rerun re-renders the grid can be dropped by the browser, so
    the press is retried on an idle page; the value must still arrive within three tries."""
    for _ in range(3):
        wait_idle(page)
        thumb.focus()
        thumb.press(key)
        try:
            expect(thumb).to_have_attribute("aria-valuetext", value, timeout=5_000)
            return
        except AssertionError:
            continue
    expect(thumb).to_have_attribute("aria-valuetext", value)


def test_one_full_loop(page, app_url):
    page.goto(f"{app_url}/Vector_search")
    size = page.get_by_label("Colours in the pool", exact=True)
    size.fill("512")
    size.press("Enter")
    expect(page.get_by_text(re.compile(r"^512 colors · embedding"))).to_be_visible(timeout=120_000)
    expect(page.get_by_text(re.compile(r"embedded \(disk"))).to_be_visible()
    page.get_by_role("button", name="Start from this head").click()
    expect(page.get_by_role("slider")).to_have_count(10)
    first_round = swatch_codes(page)

    thumbs = page.get_by_role("slider")
    for i in range(3):
        set_slider(page, thumbs.nth(i), "End", "1.00")  # +1: this is the concept
    set_slider(page, thumbs.nth(3), "Home", "-1.00")  # -1: it is not
    wait_idle(page)
    for i in range(3):  # the earlier labels survived the later sliders' reruns
        expect(thumbs.nth(i)).to_have_attribute("aria-valuetext", "1.00")

    page.get_by_role("button", name="Train step").click()
    expect(metric(page, "Train steps")).to_contain_text("1")
    expect(metric(page, "Labelled")).to_contain_text("4")
    expect(metric(page, "Seen")).to_contain_text("10")
    expect(page.get_by_text(re.compile(r"^BCE loss .* over 100 iterations"))).to_be_visible()
    second_round = swatch_codes(page)
    assert not set(first_round) & set(second_round)  # the seen items are excluded from the next query

    page.get_by_role("button", name="Reset seen").click()
    expect(metric(page, "Seen")).to_contain_text("0")

    page.get_by_role("button", name="Save the head").click()
    expect(page.get_by_text(re.compile(r"Saved as heads/"))).to_be_visible()
