"""Hostile requests (issue 13): the worst single requests found, each measured in server CPU seconds and peak MB.

Every request is what one page interaction runs on the server (the core call the page makes), with the input at or
past its cap in `core/settings.py`. Each is run once to warm up, then measured: CPU time of the process, and peak
resident memory above the level before the request (Linux: /proc/self/clear_refs resets the high-water mark, so the
peak is the request's own). The targets: about 1 s of CPU and 200 MB for any request that does not start a training.
`python -m bench --only hostile` runs just this; `python -m bench.hostile` prints one line per request.
Issue 25 adds the Inspect page's hostile uploads driven through a real server (bench/hostile_inspect.py):
`hostile_inspect_worst_cpu_s` and `hostile_inspect_worst_mb` are the worst server CPU and peak of any of its requests,
and 20 full-size (25 MP) photos uploaded into a Teach class, with room and full (bench/hostile_teach.py), likewise.
"""

from __future__ import annotations

import base64
import io
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from core.families.text import generate as text_generate

CPU_TARGET_S, MEMORY_TARGET_MB = 1.0, 200.0


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def measure(fn: Callable[[], object]) -> tuple[float, float, str]:
    """(CPU seconds, peak MB above the start, outcome) of one call; a refusal (ValueError) is an outcome too."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM, the peak resident set
    except OSError:
        pass
    rss_before = _status_kb("VmRSS")
    cpu = time.process_time()
    try:
        fn()
        outcome = "done"
    except ValueError as exc:
        outcome = "refused: " + str(exc)[:90]
    cpu = time.process_time() - cpu
    peak = max(0, _status_kb("VmHWM") - rss_before) / 1024
    return cpu, peak, outcome


def _upload_json(layers: list[dict], weights: list | None = None) -> bytes:
    topology = {"class_name": "Sequential", "config": {"name": "m", "layers": layers}}
    manifest = [{"paths": ["w.bin"], "weights": weights or []}]
    return json.dumps({"format": "layers-model", "modelTopology": topology, "weightsManifest": manifest}).encode()


def _dense(name: str, units: int, inputs: int | None = None) -> dict:
    config = {"name": name, "units": units}
    if inputs is not None:
        config["batch_input_shape"] = [None, inputs]
    return {"class_name": "Dense", "config": config}


def _forged_png(width: int, height: int) -> str:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    png = (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _real_png(side: int) -> str:
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    ImageDraw.Draw(img).ellipse((side // 5, side // 5, 4 * side // 5, 4 * side // 5), outline=(0, 0, 0, 255), width=9)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def requests() -> dict[str, Callable[[], object]]:
    """name -> the request. Built lazily, so the models load before any measurement."""
    from core.families.colors import model as colors
    from core.families.text import model as text
    from core.inspector import inspect
    from core.settings import get_settings
    from core.store import models as store
    from ui import canvas

    settings = get_settings()
    loaded, vocab = text.load_text_model()
    sampler = text_generate.CharSampler(loaded.model, vocab)
    side = int(settings.max_model_params**0.5) - 1  # a Dense layer just under the parameter cap
    lstm_units = int((settings.max_model_params / 8) ** 0.5) - 2  # 4u(u + u + 1) just under the cap
    shipped_text = store.shipped_model_dir("text")

    def upload(raw: bytes, shards: dict | None = None):
        return lambda: inspect.inspect_files(inspect.files_from_uploads(raw, shards or {"w.bin": b""}))

    return {
        "inspect_upload_declares_1e10_weights": upload(_upload_json([_dense("d", 100_000, 100_000)])),
        "inspect_upload_dense_at_param_cap": upload(_upload_json([_dense("d", side, side)])),
        "inspect_upload_lstm_at_param_cap": upload(
            _upload_json(
                [
                    {
                        "class_name": "LSTM",
                        "config": {"name": "l", "units": lstm_units, "batch_input_shape": [None, None, lstm_units]},
                    }
                ]
            )
        ),
        "inspect_upload_conv_at_output_cap": upload(
            _upload_json(
                [
                    {
                        "class_name": "Conv2D",
                        "config": {
                            "name": "c",
                            "filters": 1,
                            "kernel_size": 1,
                            "batch_input_shape": [None, 2000, 2000, 1],
                        },
                    }
                ]
            )
        ),
        "inspect_upload_nested_json": upload(b"[" * 100_000 + b"]" * 100_000),
        "inspect_shipped_text_model": lambda: inspect.inspect_folder(shipped_text),
        "load_shipped_text_model": lambda: store.load_model(shipped_text),
        "typed_colour_backtracking_at_cap": lambda: colors.parse_color("rgb(" + " " * 90 + "1,2"),
        "typed_colour_1mb": lambda: colors.parse_color("rgb(" + " " * 1_000_000 + "1,2"),
        "trick_it_at_cap": lambda: (
            text_generate.surprisal(sampler, ("The flumbering zorquist " * 25)[: settings.max_trick_chars]),
            text_generate.generate_text(sampler, ("The flumbering zorquist " * 25)[: settings.max_trick_chars], 160, 0),
        ),
        "trick_it_1m_chars": lambda: text_generate.surprisal(sampler, "To be or not " * 80_000),
        "generate_at_caps": lambda: text_generate.generate_text(
            sampler, "ROMEO:\n" * (settings.max_seed_chars // 7), settings.max_generate_chars, n_samples=5
        ),
        "score_text_at_cap": lambda: text.evaluate_text(
            loaded.model, vocab, ("To be, or not to be: that is the question.\n" * 200)[: settings.max_score_chars], 100
        ),
        "canvas_forged_9000x9000": lambda: canvas.decode_canvas_url(_forged_png(9000, 9000)),
        "canvas_real_1000x1000": lambda: canvas.decode_canvas_url(_real_png(1000)),
    }


def measure_one(name: str) -> dict:
    """Measure one request in this (fresh) process: the first call and a second, the larger of each figure."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=2):
        request = requests()[name]
        first = measure(request)
        second = measure(request)
    return {"cpu_s": max(first[0], second[0]), "peak_mb": max(first[1], second[1]), "outcome": second[2]}


def run() -> dict:
    """Each request in its own fresh process, so memory freed by one request cannot hide the next one's peak."""
    import subprocess
    import sys

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    root = Path(__file__).resolve().parent.parent
    figures: dict = {}
    worst_cpu, worst_mb = (0.0, ""), (0.0, "")
    for name in REQUESTS:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.hostile", "--one", name],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": str(root)},
        )
        if proc.returncode != 0:
            figures[f"hostile_{name}_outcome"] = "crashed: " + proc.stderr.strip().splitlines()[-1][:200]
            continue
        one = json.loads(proc.stdout.strip().splitlines()[-1])
        figures[f"hostile_{name}_cpu_s"] = round(one["cpu_s"], 3)
        figures[f"hostile_{name}_peak_mb"] = round(one["peak_mb"], 1)
        figures[f"hostile_{name}_outcome"] = one["outcome"]
        worst_cpu = max(worst_cpu, (one["cpu_s"], name))
        worst_mb = max(worst_mb, (one["peak_mb"], name))
    figures["worst_request_cpu_s"] = round(worst_cpu[0], 3)
    figures["worst_request_cpu_name"] = worst_cpu[1]
    figures["worst_request_peak_mb"] = round(worst_mb[0], 1)
    figures["worst_request_peak_name"] = worst_mb[1]
    figures["worst_request_within_targets"] = bool(worst_cpu[0] <= CPU_TARGET_S and worst_mb[0] <= MEMORY_TARGET_MB)
    from bench import hostile_inspect

    try:
        page = hostile_inspect.run()
    except Exception as exc:  # the in-process figures above stand on their own
        page = {"hostile_inspect_error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    figures.update(page)
    if "hostile_inspect_worst_cpu_s" in page:
        figures["hostile_inspect_within_targets"] = bool(
            page["hostile_inspect_worst_cpu_s"] <= CPU_TARGET_S and page["hostile_inspect_worst_mb"] <= MEMORY_TARGET_MB
        )
    from bench import hostile_teach

    try:
        teach = hostile_teach.run()
    except Exception as exc:
        teach = {"hostile_teach_error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    figures.update(teach)
    if "hostile_teach_worst_cpu_s" in teach:
        figures["hostile_teach_within_targets"] = bool(
            teach["hostile_teach_worst_cpu_s"] <= CPU_TARGET_S and teach["hostile_teach_worst_mb"] <= MEMORY_TARGET_MB
        )
    return figures


REQUESTS = [
    "inspect_upload_declares_1e10_weights",
    "inspect_upload_dense_at_param_cap",
    "inspect_upload_lstm_at_param_cap",
    "inspect_upload_conv_at_output_cap",
    "inspect_upload_nested_json",
    "inspect_shipped_text_model",
    "load_shipped_text_model",
    "typed_colour_backtracking_at_cap",
    "typed_colour_1mb",
    "trick_it_at_cap",
    "trick_it_1m_chars",
    "generate_at_caps",
    "score_text_at_cap",
    "canvas_forged_9000x9000",
    "canvas_real_1000x1000",
]

if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(measure_one(sys.argv[2])))
    else:
        for key, value in run().items():
            print(f"{key:<52}  {value}")
