"""Browser test (headless Chromium): one full vector-search loop on the embedded on-disk Qdrant — start from the
blue-ish head, mark a round yes / no inside the Train step form (no rerun until Train step), Train step, the next query
excludes the seen items, Reset seen, save the head."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from core.vectors import search as vectors


def metric(page, label: str):
    return page.get_by_test_id("stMetric").filter(has_text=label)


def label_controls(page):
    """The round's yes / no controls, one per queried item."""
    return page.get_by_test_id("stForm").get_by_test_id("stButtonGroup")


def swatch_codes(page) -> list[str]:
    expect(label_controls(page)).to_have_count(vectors.TOP_K)
    return [
        t.rsplit("·", 1)[1].strip()
        for t in page.locator("[data-testid='vs-swatch'] + small").all_inner_texts()[: vectors.TOP_K]
    ]


def wait_idle(page) -> None:
    """Wait until the app has finished its rerun."""
    expect(page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')).to_have_count(1, timeout=60_000)


def mark(page, n: int, answer: str) -> None:
    """Press yes or no under the n-th item and wait until it shows as chosen."""
    button = label_controls(page).nth(n).get_by_role("radio", name=answer, exact=True)
    button.click()
    expect(button).to_have_attribute("aria-checked", "true")


def test_one_full_loop(page, app_url):
    sent = []  # every message the browser sends the server: a widget change that reruns the script is one
    page.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent.append(frame)))
    page.goto(f"{app_url}/Vector_search")
    size = page.get_by_label("Colours in the pool", exact=True)
    size.fill("512")
    size.press("Enter")
    expect(page.get_by_text(re.compile(r"^512 colors · embedding"))).to_be_visible(timeout=120_000)
    expect(page.get_by_text(re.compile(r"embedded \(disk"))).to_be_visible()
    page.get_by_role("button", name="Start from this head").click()
    first_round = swatch_codes(page)
    wait_idle(page)

    before = len(sent)
    for i in range(3):
        mark(page, i, "yes")  # +1: this is the concept
    mark(page, 3, "no")  # -1: it is not; the fifth stays unmarked (skipped)
    # inside the form nothing reran: every answer is still shown, and no train step happened yet
    for i in range(3):
        expect(label_controls(page).nth(i).get_by_role("radio", name="yes", exact=True)).to_have_attribute(
            "aria-checked", "true"
        )
    expect(metric(page, "Train steps")).to_contain_text("0")
    assert len(sent) == before, "marking a round sent the server a message: a rerun per item"

    page.get_by_role("button", name="Train step").click()
    expect(metric(page, "Train steps")).to_contain_text("1", timeout=120_000)  # a busy 2-core machine: be generous
    expect(metric(page, "Labelled")).to_contain_text("4")
    expect(metric(page, "Seen")).to_contain_text(str(vectors.TOP_K))
    expect(page.get_by_text(re.compile(r"^BCE loss .* over 100 iterations"))).to_be_visible()
    second_round = swatch_codes(page)
    assert not set(first_round) & set(second_round)  # the seen items are excluded from the next query

    page.get_by_role("button", name="Reset seen").click()
    expect(metric(page, "Seen")).to_contain_text("0", timeout=120_000)

    page.get_by_role("button", name="Save the head").click()
    expect(page.get_by_text(re.compile(r"Saved as heads/"))).to_be_visible(timeout=120_000)
