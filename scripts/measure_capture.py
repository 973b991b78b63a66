"""The Teach capture component's server side, measured: what a burst and a live frame cost on this machine.

    .venv/bin/python scripts/measure_capture.py [--repeats 50]

Prints one JSON object: the size of a burst frame (a noisy 128-pixel JPEG, as the component sends) and of a live
frame, the seconds to check, decode and store a full burst (48 frames), and the milliseconds to classify one live
photo and one live second of sound with a transfer model (features + head), trained here on a few made-up samples.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("MLX_USER_DATA_DIR", tempfile.mkdtemp(prefix="measure-capture-"))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from core.families.teach import burst, transfer  # noqa: E402
from core.families.teach import data as teach_data  # noqa: E402
from core.families.teach import job as teach  # noqa: E402
from core.families.teach import projects as store  # noqa: E402

RNG = np.random.default_rng(0)


def jpeg(side: int, quality: int) -> bytes:
    pixels = np.clip(np.array([200, 40, 40]) + RNG.normal(0, 25, (side, side, 3)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def tone(seconds: float, freq: float) -> bytes:
    t = np.arange(int(seconds * teach_data.SAMPLE_RATE)) / teach_data.SAMPLE_RATE
    return teach_data.encode_wav(0.3 * np.sin(2 * np.pi * freq * t) + RNG.normal(0, 0.01, len(t)))


def data_url(raw: bytes, media: str) -> str:
    return f"data:{media};base64," + base64.b64encode(raw).decode()


def ms_each(fn, repeats: int) -> float:
    fn()  # warm
    started = time.perf_counter()
    for _ in range(repeats):
        fn()
    return round((time.perf_counter() - started) / repeats * 1000, 1)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    repeats = parser.parse_args(argv).repeats
    frames = [data_url(jpeg(burst.FRAME_SIDE, 90), "image/jpeg") for _ in range(burst.MAX_BURST_FRAMES)]
    store.create_project("measure", "burst", "image", ["a", "b"])
    started = time.perf_counter()
    added = store.add_samples("measure", "burst", "a", burst.burst_items({"frames": frames}, "image"))
    burst_s = time.perf_counter() - started

    photos = np.stack([teach_data.decode_image(jpeg(64, 90)) for _ in range(16)])
    image_model = transfer.fit("image", photos, np.array([0, 1] * 8), 2)
    live_photo = jpeg(burst.PREVIEW_SIDE, 80)
    seconds = [teach_data.log_mel(teach_data.decode_wav(tone(1.0, f))) for f in [300, 600] * 8]
    sound_model = transfer.fit("sound", np.stack(seconds), np.array([0, 1] * 8), 2)
    live_second = tone(1.0, 450)
    out = {
        "burst_frame_kb": round(float(np.mean([len(f) for f in frames])) / 1024, 1),
        "burst_frames": len(frames),
        "burst_stored": len(added.ids),
        "burst_check_decode_store_s": round(burst_s, 2),
        "live_photo_kb": round(len(data_url(live_photo, "image/jpeg")) / 1024, 1),
        "live_photo_ms": ms_each(lambda: teach.predict_sample(image_model, "image", live_photo), repeats),
        "live_second_kb": round(len(data_url(live_second, "audio/wav")) / 1024, 1),
        "live_second_ms": ms_each(lambda: teach.predict_sample(sound_model, "sound", live_second), repeats),
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
