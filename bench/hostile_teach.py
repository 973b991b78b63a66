"""Hostile Teach uploads through the real server (issue 25): 20 full-size (25 MP) JPEG photos dropped at once on a
Teach image class's uploader, into a class with room and into a full one, sent as a browser sends them (the protocol
client's upload URLs, PUT, rerun) to a `streamlit run app.py` of its own. Server CPU and peak memory are read from
/proc as bench/hostile_inspect.py does. Part of `python -m bench --only hostile`."""

from __future__ import annotations

import asyncio
import io
import os
import tempfile
from pathlib import Path

import numpy as np

from bench.hostile_inspect import ServerMeter
from bench.protocol import Session
from bench.server import start_app, stop_app

PHOTOS = 20
SIZE = (6000, 4166)  # 24,996,000 pixels: a full-size photo just under MLX_MAX_TEACH_IMAGE_PIXELS (25 MP)
PROJECT = "hostile-photos"


def photo(seed: int = 0) -> bytes:
    """A 25 MP JPEG with a photo's texture (smooth shapes plus grain), about 3.5 MB: under the 5 MB upload cap."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    width, height = SIZE
    coarse = Image.fromarray(rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8))
    smooth = np.asarray(coarse.resize(SIZE, Image.BILINEAR)) // 2
    grain = rng.integers(0, 40, (height, width, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(smooth + grain).save(buf, format="JPEG", quality=60)
    return buf.getvalue()


def _fill(owner: str, class_name: str) -> int:
    """Fill a class to MAX_SAMPLES_PER_CLASS with small photos, straight through the store (the server's folder)."""
    from PIL import Image

    from core.families.teach import projects as teach_store

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 30, 220)).save(buf, format="PNG")
    for _ in range(teach_store.MAX_SAMPLES_PER_CLASS):
        teach_store.add_sample(owner, PROJECT, class_name, buf.getvalue())
    return teach_store.MAX_SAMPLES_PER_CLASS


async def _drive(url: str, meter: ServerMeter) -> dict:
    from core.store import identity

    token = identity.new_token()
    owner, cookie = identity.owner_id(token), f"{identity.COOKIE}={token}"
    files = [(f"photo-{i:02d}.jpg", data) for i, data in enumerate([photo(0), photo(1)] * (PHOTOS // 2))]
    session = await Session.open(url, "Teach", timeout=300, cookie=cookie)
    await session.submit_form("Create the project", {"teach.new.name": PROJECT}, timeout=300)  # Class 1, Class 2
    full = await asyncio.to_thread(_fill, owner, "Class 2")
    await session.rerun()
    figures: dict = {"hostile_teach_photo_mb": round(len(files[0][1]) / 2**20, 2), "hostile_teach_photos": PHOTOS}
    steps = [
        ("into_a_class", "Class 1", f"teach.upload.{PROJECT}.0", "Added"),
        ("into_a_full_class", "Class 2", f"teach.upload.{PROJECT}.1", f"at most {full}"),
    ]
    worst_cpu, worst_mb = (0.0, ""), (0.0, "")
    for name, target, key, expected in steps:
        await session.set_widget(f"teach.target.{PROJECT}", target)
        # The browser's 20 PUTs (each its own HTTP request; measured together), then the one rerun that adds them.
        requests = [
            ("puts", lambda k=key: session.put_files(k, files, timeout=600)),
            ("rerun", lambda: session.rerun(timeout=600)),
        ]
        for step, request in requests:
            cpu, mb, wall, result = await meter.measure(request)
            tag = f"hostile_teach_{name}_{step}"
            figures[f"{tag}_cpu_s"], figures[f"{tag}_peak_mb"] = round(cpu, 3), round(mb, 1)
            figures[f"{tag}_wall_s"] = round(wall, 2)
            worst_cpu, worst_mb = max(worst_cpu, (cpu, tag)), max(worst_mb, (mb, tag))
        said = [t for t in result.texts if expected in t]
        figures[f"hostile_teach_{name}_outcome"] = (
            f"{len(said)} message(s) with {expected!r}: {said[0][:200]}" if said else " ".join(result.texts)[-200:]
        )
    await session.close()
    figures["hostile_teach_worst_cpu_s"], figures["hostile_teach_worst_cpu_request"] = (
        round(worst_cpu[0], 3),
        worst_cpu[1],
    )
    figures["hostile_teach_worst_mb"], figures["hostile_teach_worst_mb_request"] = round(worst_mb[0], 1), worst_mb[1]
    return figures


def run() -> dict:
    """Start a server of its own on a fresh data folder (XSRF off, as for hostile_inspect), drive both uploads."""
    with tempfile.TemporaryDirectory(prefix="bench-teach-") as data_dir:
        old = os.environ.get("MLX_USER_DATA_DIR")
        os.environ["MLX_USER_DATA_DIR"] = data_dir  # the class is filled straight into the server's folder
        proc, url = start_app(Path(data_dir), {"STREAMLIT_SERVER_ENABLE_XSRF_PROTECTION": "false"})
        try:
            return asyncio.run(_drive(url, ServerMeter(proc.pid)))
        finally:
            stop_app(proc)
            if old is None:
                os.environ.pop("MLX_USER_DATA_DIR", None)
            else:
                os.environ["MLX_USER_DATA_DIR"] = old


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:<56}  {value}")
