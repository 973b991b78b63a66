"""Teach, click to trained: a project trained through the training queue by a warm worker process, by transfer
learning (the default) and from scratch (the expert option), on the same samples in the same run.

- teach_train_s_sound_8: 4 classes (yes, no, stop, background noise) x 8 one-second clips, words spoken by espeak-ng
  in 4 voices at 2 speeds, rooms and background noise made by sox (scripts/measure_teach.py's generator);
- teach_train_s_drawing_25: 5 classes x 5 real Quick, Draw! drawings (../shared/data/quickdraw_train.npz).

Each figure is the wall time from `start_teach` (what the Train button calls) to the queue being done with the job
(trained, measured on the held-out samples and saved), after a warm-up job has started the worker and loaded
TensorFlow and the drawing backbone in it: what a user waits on a server that has trained before.
`..._first_progress_s` is from the click to the first progress the panel can draw (the job's planned amount)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
QUICKDRAW = REPO.parent / "shared" / "data" / "quickdraw_train.npz"
SOUND_WORDS = ("yes", "no", "stop")
SOUND_TAKES = [(v, s) for v in ("en-us", "en-gb+m3", "en-us+f2", "en-gb-scotland") for s in (140, 200)]  # 8 a word
DRAWING_WORDS = 5
DRAWINGS_PER_WORD = 5


def make_sound_project(root: Path) -> Path:
    """4 classes x 8 clips, made as scripts/measure_teach.py makes its training clips."""
    sys.path.insert(0, str(REPO / "scripts"))
    from measure_teach import NOISES, make_noise, make_word

    from core.families.teach.data import BACKGROUND

    rng = np.random.default_rng(0)
    tmp = root / "tmp"
    tmp.mkdir(parents=True)
    for word in SOUND_WORDS:
        (root / word).mkdir()
        for i, (voice, speed) in enumerate(SOUND_TAKES):
            noise, level = str(rng.choice(NOISES)), float(rng.uniform(0.005, 0.03))
            make_word(root / word / f"{i}.wav", word, voice, speed, 50, float(rng.uniform(0, 0.25)), noise, level, tmp)
    (root / BACKGROUND).mkdir()
    for i in range(len(SOUND_TAKES)):
        make_noise(root / BACKGROUND / f"{i}.wav", str(rng.choice(NOISES)), float(rng.uniform(0.002, 0.3)))
    shutil.rmtree(tmp)
    return root


def make_drawing_project(root: Path) -> Path:
    """5 classes x 5 real Quick, Draw! drawings (28x28 bitmaps, the first words of quickdraw_train.npz)."""
    from core.families.teach.data import encode_png

    data = np.load(QUICKDRAW)
    images, labels = data["images"], data["labels"].astype(str)
    rng = np.random.default_rng(0)
    for word in sorted(set(labels.tolist()))[:DRAWING_WORDS]:
        (root / word).mkdir(parents=True)
        for i, row in enumerate(rng.choice(np.flatnonzero(labels == word), DRAWINGS_PER_WORD, replace=False)):
            (root / word / f"{i}.png").write_bytes(encode_png(images[row]))
    return root


def click_to_trained(queue, kind: str, folder: Path, method: str, owner: str) -> tuple[float, float]:
    """(seconds to the first progress, seconds to trained) for one training through `queue`."""
    from core.families.teach.job import TeachRequest, start_teach

    started = time.perf_counter()
    job = start_teach(TeachRequest(kind, str(folder), method=method, owner=owner), owner, queue)
    first = None
    while not queue.wait(job, 0):  # until the queue is done with the job (trained, measured, saved)
        if first is None and job.epochs:
            first = time.perf_counter() - started
        time.sleep(0.02)
    total = time.perf_counter() - started
    if job.status != "done":
        raise RuntimeError(f"{kind} {method}: {job.status}: {job.message}")
    return (first if first is not None else total), total


def run() -> dict:
    if not shutil.which("espeak-ng") or not shutil.which("sox"):
        return {"teach_skipped": "espeak-ng and sox are needed (apt-get install espeak-ng sox)"}
    from core.engine.jobs import JobQueue

    root = Path(tempfile.mkdtemp(prefix="bench-teach-"))
    saved_env = os.environ.get("MLX_USER_DATA_DIR")
    os.environ["MLX_USER_DATA_DIR"] = str(root / "user_data")  # the saved versions go here, not to the real store
    try:
        t0 = time.perf_counter()
        projects = {
            "sound_8": ("sound", make_sound_project(root / "sound")),
            "drawing_25": ("drawing", make_drawing_project(root / "drawing")),
        }
        figures: dict = {"teach_make_projects_s": round(time.perf_counter() - t0, 1)}
        queue = JobQueue(limit=lambda: 1, worker="process")
        for kind, folder in projects.values():  # warm-up: the worker starts, imports TF, loads the backbone
            click_to_trained(queue, kind, folder, "transfer", "bench-warm-up")
        for name, (kind, folder) in projects.items():
            for method in ("transfer", "scratch"):
                first, total = click_to_trained(queue, kind, folder, method, f"bench-{name}-{method}")
                suffix = "" if method == "transfer" else "_scratch"
                figures[f"teach_train_s_{name}{suffix}"] = round(total, 2)
                figures[f"teach_first_progress_s_{name}{suffix}"] = round(first, 2)
            figures[f"teach_speedup_{name}"] = round(
                figures[f"teach_train_s_{name}_scratch"] / figures[f"teach_train_s_{name}"], 1
            )
        return figures
    finally:
        if saved_env is None:
            os.environ.pop("MLX_USER_DATA_DIR", None)
        else:
            os.environ["MLX_USER_DATA_DIR"] = saved_env
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    print(run())
