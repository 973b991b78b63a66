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
import urllib.request
import uuid
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import FileUploaderState, UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
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
    fragments: dict[str, str] = field(default_factory=dict)  # text -> the id of the fragment that sent it
    raw: bytes = b""  # every message of the run as received, joined: what a leak search reads (tables, options too)


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

    def __init__(self, ws, page_name: str, base_url: str = ""):
        self.ws = ws
        self.page_name = page_name
        self.base_url = base_url
        self.session_id = ""  # the server's id of this session (new_session), which file uploads name
        self.page_script_hash = ""
        self.first_run: RunResult | None = None
        self.widgets: dict[str, tuple[str, str]] = {}  # user key -> (widget id, fragment id)
        self.buttons: dict[str, str] = {}  # a form's submit button: label -> widget id
        # What the browser would send with every rerun: the value of each widget this client has set.
        self.values: dict[str, WidgetState] = {}

    @classmethod
    async def open(cls, base_url: str, page_name: str, timeout: float = 120.0, cookie: str = "") -> Session:
        """Open `page_name` as a new session; `cookie` ("name=value") is sent as a browser sends its cookies, so two
        sessions with the same identity cookie are one person (a reload, a second tab)."""
        headers = {"Cookie": cookie} if cookie else None
        ws = await connect(
            base_url.replace("http", "ws", 1) + "/_stcore/stream", max_size=2**26, additional_headers=headers
        )
        session = cls(ws, page_name, base_url)
        msg = BackMsg()
        msg.rerun_script.page_name = page_name
        session.first_run = await session._send_and_wait(msg, None, timeout)  # what the page showed on opening
        return session

    async def _send_and_wait(self, msg: BackMsg, marker: str | None, timeout: float) -> RunResult:
        t0 = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        marker_at, texts, fragments, raw_parts = None, [], {}, []
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
            raw_parts.append(raw)
            fwd = ForwardMsg()
            fwd.ParseFromString(raw)
            kind = fwd.WhichOneof("type")
            if kind == "new_session":
                self.page_script_hash = fwd.new_session.page_script_hash
                self.session_id = fwd.new_session.initialize.session_id or self.session_id
            elif kind == "navigation" and fwd.navigation.page_script_hash:
                # st.navigation: the page actually shown. A whole-page rerun must name it, or it runs the home page
                # (new_session's hash is the entry script's).
                self.page_script_hash = fwd.navigation.page_script_hash
            elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                self._remember_widget(fwd)
                text = _element_text(fwd)
                if text:
                    texts.append(text)
                    fragments[text] = fwd.delta.fragment_id
                    if marker and marker_at is None and marker in text:
                        marker_at = time.perf_counter() - t0
            elif kind == "script_finished":
                # A run that called st.rerun() (the Retrain page after Start) ends early; its rerun follows, and it
                # is what a browser shows: keep reading, or its messages would be taken for the next request's.
                if fwd.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    continue
                return RunResult(time.perf_counter() - t0, marker_at, texts, fragments, b"".join(raw_parts))

    def _remember_widget(self, fwd: ForwardMsg) -> None:
        element = fwd.delta.new_element
        inner = getattr(element, element.WhichOneof("type") or "", None)
        widget_id = getattr(inner, "id", "")
        if widget_id.startswith("$$ID-"):
            user_key = widget_id.split("-", 2)[-1]
            self.widgets[user_key] = (widget_id, fwd.delta.fragment_id)
        if element.WhichOneof("type") == "button" and element.button.is_form_submitter:
            self.buttons[element.button.label] = widget_id

    def _widget_id(self, key: str) -> tuple[str, str]:
        if key not in self.widgets:
            raise ProtocolError(f"The page has no widget with key {key!r} (it has {sorted(self.widgets)}).")
        return self.widgets[key]

    def _remember_value(self, key: str, value) -> str:
        """Keep `value` as the widget's state for this and every later rerun; returns the widget's fragment id."""
        widget_id, fragment_id = self._widget_id(key)
        widget = WidgetState(id=widget_id)
        if isinstance(value, bool):
            widget.bool_value = value
        elif isinstance(value, int):  # a number_input of whole numbers, or a radio's / selectbox's index
            widget.int_value = value
        elif isinstance(value, float):
            widget.double_value = value
        elif isinstance(value, str):  # text_input, color_picker
            widget.string_value = value
        else:
            widget.json_value = json.dumps(value)
        self.values[widget_id] = widget
        return fragment_id

    def _rerun(self, fragment_id: str = "", trigger: str = "") -> BackMsg:
        msg = BackMsg()
        state = msg.rerun_script
        state.page_script_hash = self.page_script_hash
        state.page_name = self.page_name
        if fragment_id:
            state.fragment_id = fragment_id
        for widget in self.values.values():
            state.widget_states.widgets.add().CopyFrom(widget)
        if trigger:
            state.widget_states.widgets.add(id=trigger, trigger_value=True)  # a click: sent once, never kept
        return msg

    async def set_widget(self, key: str, value, marker: str | None = None, timeout: float = 120.0) -> RunResult:
        """Send a new value for the widget with user key `key` (rerunning its fragment, if it has one), with the
        values set before, as a browser does."""
        fragment_id = self._remember_value(key, value)
        return await self._send_and_wait(self._rerun(fragment_id), marker, timeout)

    async def upload_files(
        self, key: str, files: list[tuple[str, bytes]], marker: str | None = None, timeout: float = 120.0
    ) -> RunResult:
        """What a browser does when files are dropped on the st.file_uploader with user key `key`: ask the server for
        upload URLs, PUT each file there, then rerun with the uploader's new value. The bench server runs without
        XSRF protection (the browser's cookie and header are a formality here)."""
        fragment_id = await self.put_files(key, files, timeout)
        return await self._send_and_wait(self._rerun(fragment_id), marker, timeout)

    async def put_files(self, key: str, files: list[tuple[str, bytes]], timeout: float = 120.0) -> str:
        """The first half of upload_files: the upload URLs and one PUT per file, with the uploader's new value kept
        for the next rerun (which is not sent); returns the uploader's fragment id."""
        request = BackMsg()
        request.file_urls_request.request_id = uuid.uuid4().hex
        request.file_urls_request.session_id = self.session_id
        request.file_urls_request.file_names.extend(name for name, _ in files)
        await self.ws.send(request.SerializeToString())
        deadline = time.perf_counter() + timeout
        while True:
            if time.perf_counter() > deadline:
                raise ProtocolError(f"No file_urls_response within {timeout:.0f} s.")
            fwd = ForwardMsg()
            fwd.ParseFromString(await asyncio.wait_for(self.ws.recv(), max(0.01, deadline - time.perf_counter())))
            if (
                fwd.WhichOneof("type") == "file_urls_response"
                and fwd.file_urls_response.response_id == request.file_urls_request.request_id
            ):
                break
        state = FileUploaderState()
        for (name, data), urls in zip(files, fwd.file_urls_response.file_urls, strict=True):
            await asyncio.to_thread(_put_file, self.base_url + urls.upload_url, name, data)
            state.uploaded_file_info.append(
                UploadedFileInfo(name=name, size=len(data), file_id=urls.file_id, file_urls=urls)
            )
        widget_id, fragment_id = self._widget_id(key)
        widget = WidgetState(id=widget_id)
        widget.file_uploader_state_value.CopyFrom(state)
        self.values[widget_id] = widget
        return fragment_id

    async def set_json_widget(self, key: str, value: dict, marker: str | None = None, timeout: float = 120.0):
        """Send a new JSON value (e.g. a canvas') for the widget with user key `key`."""
        return await self.set_widget(key, value, marker, timeout)

    async def submit_form(
        self, button: str, values: dict, marker: str | None = None, timeout: float = 120.0
    ) -> RunResult:
        """Fill in a form's widgets (user key -> value) and press its submit button (by label): one whole-page
        rerun, as a browser sends it."""
        if button not in self.buttons:
            raise ProtocolError(f"The page has no form button {button!r} (it has {sorted(self.buttons)}).")
        for key, value in values.items():
            self._remember_value(key, value)
        return await self._send_and_wait(self._rerun(trigger=self.buttons[button]), marker, timeout)

    async def click(self, key: str, marker: str | None = None, timeout: float = 120.0) -> RunResult:
        """Press the button with user key `key` (not a form's: see submit_form), as a browser sends a click."""
        widget_id, fragment_id = self._widget_id(key)
        return await self._send_and_wait(self._rerun(fragment_id, trigger=widget_id), marker, timeout)

    async def rerun(self, marker: str | None = None, timeout: float = 120.0) -> RunResult:
        """Rerun the whole page with the values set so far (what a job panel's status change does)."""
        return await self._send_and_wait(self._rerun(), marker, timeout)

    async def rerun_fragment(self, fragment_id: str, marker: str | None = None, timeout: float = 120.0) -> RunResult:
        """What a fragment with run_every does in the browser: rerun only that fragment."""
        return await self._send_and_wait(self._rerun(fragment_id), marker, timeout)

    async def close(self) -> None:
        await self.ws.close()


def _put_file(url: str, name: str, data: bytes) -> None:
    """PUT one file as multipart/form-data, as the browser's uploader does."""
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    put = urllib.request.Request(
        url, data=body, method="PUT", headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    with urllib.request.urlopen(put, timeout=120) as answer:
        if answer.status >= 300:
            raise ProtocolError(f"The upload of {name} was answered {answer.status}.")


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
