"""Hostile Inspect requests through the real server (issue 25): each upload is sent as a browser sends it (the protocol
client's upload URLs, PUT, rerun) to a `streamlit run app.py` of its own, and the server process's CPU seconds and
peak memory above the start are read from /proc around each request. Part of `python -m bench --only hostile`."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.protocol import Session
from bench.server import start_app, stop_app

UPLOAD = "Upload model.json + .bin"  # the radio option (a radio widget sends its option as text)
SHARD_MB = 4  # TF.js's own shard size: a 9 M-parameter model is 9 files, each under the 5 MB upload cap
REPO = Path(__file__).resolve().parent.parent


def _model_json(layers: list[dict], weights: list[dict], paths: list[str]) -> bytes:
    topology = {"class_name": "Sequential", "config": {"name": "m", "layers": layers}}
    manifest = [{"paths": paths, "weights": weights}]
    return json.dumps({"format": "layers-model", "modelTopology": topology, "weightsManifest": manifest}).encode()


def _dense(i: int, units: int = 1, inputs: int = 1) -> dict:
    config = {"name": f"d{i}", "units": units} | ({"batch_input_shape": [None, inputs]} if i == 0 else {})
    return {"class_name": "Dense", "config": config}


def _one_value_tensors(count: int) -> list[dict]:
    return [{"name": f"t{i}", "shape": [1], "dtype": "float32"} for i in range(count)]


def _colors(nan: bool = False) -> list[tuple[str, bytes]]:
    folder = REPO / "saved_models" / "colors"
    shard = (folder / "group1-shard1of1.bin").read_bytes()
    if nan:
        shard = np.full(1, np.nan, "<f4").tobytes() + shard[4:]
    return [("group1-shard1of1.bin", shard), ("model.json", (folder / "model.json").read_bytes())]


def _nine_million() -> list[tuple[str, bytes]]:
    """A valid Dense 3,000 × 3,000 model (9,003,000 parameters, 36 MB) in 4 MB shards, as TF.js writes it."""
    weights = np.random.default_rng(0).normal(0, 0.02, 3000 * 3000 + 3000).astype("<f4").tobytes()
    step = SHARD_MB * 2**20
    parts = [weights[i : i + step] for i in range(0, len(weights), step)]
    names = [f"group1-shard{i + 1}of{len(parts)}.bin" for i in range(len(parts))]
    tensors = [
        {"name": "d0/kernel", "shape": [3000, 3000], "dtype": "float32"},
        {"name": "d0/bias", "shape": [3000], "dtype": "float32"},
    ]
    return [*zip(names, parts, strict=True), ("model.json", _model_json([_dense(0, 3000, 3000)], tensors, names))]


def cases() -> dict[str, list[tuple[str, bytes]]]:
    """name -> the files uploaded (the .bin files first, then model.json, as separate requests)."""
    return {
        "85000_tensors": [
            ("w.bin", b"\0" * 4 * 85_000),
            ("model.json", _model_json([_dense(0)], _one_value_tensors(85_000), ["w.bin"])),
        ],
        "12000_layers": [
            ("w.bin", b""),
            ("model.json", _model_json([_dense(i) for i in range(12_000)], [], ["w.bin"])),
        ],
        "1000_tensors_at_cap": [
            ("w.bin", b"\0" * 4 * 1000),
            ("model.json", _model_json([_dense(0)], _one_value_tensors(1000), ["w.bin"])),
        ],
        "nan_model": _colors(nan=True),
        "9m_params_valid": _nine_million(),
    }


class ServerMeter:
    """CPU seconds and peak resident memory of one process, read from /proc around a request."""

    def __init__(self, pid: int):
        self.proc = Path(f"/proc/{pid}")
        self.tick = os.sysconf("SC_CLK_TCK")

    def cpu_s(self) -> float:
        fields = (self.proc / "stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.tick  # utime + stime

    def kb(self, field: str) -> int:
        for line in (self.proc / "status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return 0

    async def measure(self, request) -> tuple[float, float, float, object]:
        """(server CPU s, peak MB above the start, wall s, the request's result)."""
        (self.proc / "clear_refs").write_text("5")  # the peak (VmHWM) starts again from the current RSS
        rss, cpu, wall = self.kb("VmRSS"), self.cpu_s(), time.perf_counter()
        result = await request()
        wall = time.perf_counter() - wall
        await asyncio.sleep(0.2)  # work the server finishes after script_finished (e.g. sending the last deltas)
        return self.cpu_s() - cpu, max(0, self.kb("VmHWM") - rss) / 1024, wall, result


async def _drive(url: str, meter: ServerMeter) -> dict:
    figures: dict = {}
    worst_cpu, worst_mb = (0.0, ""), (0.0, "")

    async def upload(session: Session, files: list[tuple[str, bytes]]):
        bins = [f for f in files if f[0].endswith(".bin")]
        if bins:
            await session.upload_files("inspect.upload_bin", bins, timeout=600)
        return await session.upload_files(
            "inspect.upload_json", [f for f in files if f[0] == "model.json"], timeout=600
        )

    warm = await Session.open(url, "Inspect", timeout=300)  # imports TensorFlow and reads the shipped model
    await warm.set_widget("inspect.source", UPLOAD)
    await upload(warm, _colors())
    await warm.close()

    for name, files in cases().items():
        session = await Session.open(url, "Inspect", timeout=300)
        await session.set_widget("inspect.source", UPLOAD)  # "Upload model.json + .bin"
        bins = [f for f in files if f[0].endswith(".bin")]
        steps = [("bin", lambda s=session, b=bins: s.upload_files("inspect.upload_bin", b, timeout=600))]
        steps.append(("json", lambda s=session, f=files: s.upload_files("inspect.upload_json", [f[-1]], timeout=600)))
        steps.append(("rerun", lambda s=session: s.set_widget("inspect.source", UPLOAD, timeout=600)))  # a whole rerun
        for step, request in steps:
            cpu, mb, wall, result = await meter.measure(request)
            key = f"hostile_inspect_{name}_{step}"
            figures[f"{key}_cpu_s"], figures[f"{key}_peak_mb"] = round(cpu, 3), round(mb, 1)
            figures[f"{key}_wall_s"] = round(wall, 2)
            worst_cpu, worst_mb = max(worst_cpu, (cpu, key)), max(worst_mb, (mb, key))
            if step == "json":
                said = next((t for t in result.texts if "consistency check" in t), " ".join(result.texts)[-160:])
                figures[f"hostile_inspect_{name}_outcome"] = said[:220]
        await session.close()
    figures["hostile_inspect_worst_cpu_s"] = round(worst_cpu[0], 3)
    figures["hostile_inspect_worst_cpu_request"] = worst_cpu[1]
    figures["hostile_inspect_worst_mb"] = round(worst_mb[0], 1)
    figures["hostile_inspect_worst_mb_request"] = worst_mb[1]
    return figures


def run() -> dict:
    """Start a server of its own (XSRF off: the protocol client has no cookie jar), drive every case, stop it."""
    with tempfile.TemporaryDirectory(prefix="bench-inspect-") as data_dir:
        proc, url = start_app(Path(data_dir), {"STREAMLIT_SERVER_ENABLE_XSRF_PROTECTION": "false"})
        try:
            return asyncio.run(_drive(url, ServerMeter(proc.pid)))
        finally:
            stop_app(proc)


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:<56}  {value}")
