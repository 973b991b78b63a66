"""The load benchmark's protocol client (bench/protocol.py) without a server: the canvas values it sends."""

from __future__ import annotations

from bench.protocol import canvas_circle


def test_generated_circles_differ_by_seed():
    a, b = canvas_circle(1)["drawing"]["data"], canvas_circle(2)["drawing"]["data"]
    assert a.startswith("data:image/png;base64,") and a != b
    assert canvas_circle(1) == canvas_circle(1)
