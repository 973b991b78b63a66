"""A small client of Streamlit's own websocket protocol, for the load benchmark: one client is one app session that
reruns a page (or its live fragment) with new widget values, exactly as the browser does, and times the answer.

Written by hand because Streamlit ships no protocol client (AppTest runs scripts in-process, without the server).
A browser on this 2-core machine spends ~8x the server's CPU per drawing on rendering, so eight browsers would
measure the browsers; a protocol client costs next to nothing, so it measures the server, as remote users see it.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import math
import time
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

CANVAS_PX = 320  # pages/2_Draw.py's canvas


class ProtocolError(RuntimeError):
    """The server closed the connection or a run did not finish in time."""


@dataclass
class RunResult:
    seconds: float  # from sending the request to the script_finished message
    marker_seconds: float | None  # from sending until the first delta whose text contains the marker
    texts: list[str] = field(default_factory=list)  # the markdown/text bodies the run sent


def _element_text(msg: ForwardMsg) -> str:
    if msg.WhichOneof("type") != "delta" or msg.delta.WhichOneof("type") != "new_element":
        return ""
    element = msg.delta.new_element
    kind = element.WhichOneof("type")
    if kind in {"markdown", "heading", "text", "alert"}:
        return getattr(element, kind).body
    return ""


class Session:
    """One browser-less app session. `await Session.open(url, "Draw")`, then `rerun(...)`."""

    def __init__(self, ws, page_name: str):
        self.ws = ws
        self.page_name = page_name
        self.page_script_hash = ""
        self.widgets: dict[str, tuple[str, str]] = {}  # user key -> (widget id, fragment id)

    @classmethod
    async def open(cls, base_url: str, page_name: str, timeout: float = 120.0) -> Session:
        ws = await connect(base_url.replace("http", "ws", 1) + "/_stcore/stream", max_size=2**26)
        session = cls(ws, page_name)
        msg = BackMsg()
        msg.rerun_script.page_name = page_name
        await session._send_and_wait(msg, None, timeout)
        return session

    async def _send_and_wait(self, msg: BackMsg, marker: str | None, timeout: float) -> RunResult:
        t0 = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        marker_at, texts = None, []
        deadline = t0 + timeout
        while True:
            if time.perf_counter() > deadline:
                raise ProtocolError(f"No script_finished within {timeout:.0f} s.")
            try:
                raw = await asyncio.wait_for(self.ws.recv(), max(0.01, deadline - time.perf_counter()))
            except TimeoutError:
                continue
            except ConnectionClosed as exc:
                raise ProtocolError("The server closed the connection.") from exc
            fwd = ForwardMsg()
            fwd.ParseFromString(raw)
            kind = fwd.WhichOneof("type")
            if kind == "new_session":
                self.page_script_hash = fwd.new_session.page_script_hash
            elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                self._remember_widget(fwd)
                text = _element_text(fwd)
                if text:
                    texts.append(text)
                    if marker and marker_at is None and marker in text:
                        marker_at = time.perf_counter() - t0
            elif kind == "script_finished":
                return RunResult(time.perf_counter() - t0, marker_at, texts)

    def _remember_widget(self, fwd: ForwardMsg) -> None:
        element = fwd.delta.new_element
        inner = getattr(element, element.WhichOneof("type") or "", None)
        widget_id = getattr(inner, "id", "")
        if widget_id.startswith("$$ID-"):
            user_key = widget_id.split("-", 2)[-1]
            self.widgets[user_key] = (widget_id, fwd.delta.fragment_id)

    async def set_json_widget(self, key: str, value: dict, marker: str | None = None, timeout: float = 120.0):
        """Send a new JSON value for the widget with user key `key` (rerunning its fragment, if it has one)."""
        if key not in self.widgets:
            raise ProtocolError(f"The page has no widget with key {key!r} (it has {sorted(self.widgets)}).")
        widget_id, fragment_id = self.widgets[key]
        msg = BackMsg()
        state = msg.rerun_script
        state.page_script_hash = self.page_script_hash
        state.page_name = self.page_name
        if fragment_id:
            state.fragment_id = fragment_id
        widget = state.widget_states.widgets.add()
        widget.id = widget_id
        widget.json_value = json.dumps(value)
        return await self._send_and_wait(msg, marker, timeout)

    async def close(self) -> None:
        await self.ws.close()


def _data_url(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def canvas_circle(seed: int) -> dict:
    """The canvas component's value for a hand-drawn-looking circle (a wobbly closed stroke, 10 px pen)."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGBA", (CANVAS_PX, CANVAS_PX), (255, 255, 255, 255))
    cx, cy = rng.uniform(130, 190, 2)
    r = rng.uniform(70, 110)
    t = np.linspace(0, 2 * math.pi, 40)
    wobble = 1 + 0.04 * np.sin(3 * t + rng.uniform(0, 6))
    points = [(cx + r * w * math.cos(a), cy + r * w * math.sin(a)) for a, w in zip(t, wobble)]
    ImageDraw.Draw(img).line(points, fill=(0, 0, 0, 255), width=10, joint="curve")
    path = [["M", *points[0]]] + [["L", x, y] for x, y in points[1:]]
    raw = {"version": "7.4.0", "objects": [{"type": "Path", "stroke": "#000000", "strokeWidth": 10, "path": path}]}
    return {"drawing": {"raw": raw, "data": _data_url(img)}}


def canvas_blank() -> dict:
    img = Image.new("RGBA", (CANVAS_PX, CANVAS_PX), (255, 255, 255, 255))
    return {"drawing": {"raw": {"version": "7.4.0", "objects": [], "background": "#ffffff"}, "data": _data_url(img)}}
