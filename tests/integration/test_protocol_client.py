"""The load benchmark's Streamlit-protocol client (bench/protocol.py) against the live app: it must see what a
browser sees, or the load figures would time the wrong thing."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench.protocol import ProtocolError, Session, canvas_blank, canvas_circle


async def _draw_and_clear(url: str):
    session = await Session.open(url, "Draw")
    try:
        drawn = await session.set_json_widget("draw.canvas.0", canvas_circle(7), marker="It looks like a")
        cleared = await session.set_json_widget("draw.canvas.0", canvas_blank(), marker="Draw a shape")
        with pytest.raises(ProtocolError, match="no widget with key 'nope'"):
            await session.set_json_widget("nope", {})
    finally:
        await session.close()
    return session, drawn, cleared


def test_a_protocol_session_draws_gets_a_prediction_and_clears(app_url):
    # In a thread of its own: Playwright's sync API (the browser tests) keeps an event loop in the main thread.
    with ThreadPoolExecutor(1) as pool:
        session, drawn, cleared = pool.submit(asyncio.run, _draw_and_clear(app_url)).result(timeout=300)
    assert session.page_script_hash and "draw.canvas.0" in session.widgets
    assert session.widgets["draw.canvas.0"][1], "the canvas lives in the live fragment, so it reruns only that"
    assert drawn.marker_seconds is not None and 0 < drawn.marker_seconds <= drawn.seconds
    top = next(t for t in drawn.texts if "draw-top" in t)
    assert ">circle</b>" in top  # the generated circle is read as one, so the page did the real work
    assert "How the drawing becomes the network's input" in drawn.texts
    assert cleared.marker_seconds is not None
    assert not any("draw-top" in t for t in cleared.texts)
