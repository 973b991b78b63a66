"""How many samples per class does each Teach kind need? Makes three projects, trains on 1, 2, 4, ... 32 samples per
class (3 seeds each, Teachable Machine's defaults) and measures accuracy and confidence on held-out samples the
models never trained on; writes docs/teach_measured.md.

    .venv/bin/python scripts/measure_teach.py [--quick] [--out docs/teach_measured.md]

sound: words spoken by espeak-ng + "background noise" made by sox; tested on voices, speeds and noise never trained on.
image: SYNTHETIC photos drawn with PIL (three objects on one desk, and on cluttered scenes); held out: new draws.
drawing: real Quick, Draw! drawings (Google, CC BY 4.0) from /work/shared/data/quickdraw_train.npz.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from core.engine.seed_spread import seed_spread  # noqa: E402
from core.families.teach.data import BACKGROUND, encode_png, load_folder  # noqa: E402
from core.families.teach.experiments import samples_curve, teach_run, variance_curve  # noqa: E402
from core.families.teach.model import TeachConfig  # noqa: E402

QUICKDRAW = Path("/work/shared/data/quickdraw_train.npz")
COUNTS = (1, 2, 4, 8, 16, 32)
SEEDS = (0, 1, 2)
WORDS = ("yes", "no", "stop")
TRAIN_VOICES = ("en-us", "en-gb+m3", "en-us+f2", "en-gb-scotland")
TRAIN_SPEEDS = (130, 160, 190, 220)
TRAIN_PITCHES = (40, 60)  # 4 voices x 4 speeds x 2 pitches = 32 training recordings per word
TEST_VOICES = ("en-gb-x-rp+f4", "en-029+m7", "en-us-nyc+f1")
TEST_SPEEDS = (115, 175, 245)
TEST_PITCHES = (30, 75)  # 3 x 3 x 2 = 18 held-out recordings per word, none with a trained voice or speed
NOISES = ("whitenoise", "pinknoise", "brownnoise")


# ---------------------------------------------------------------- sound


def run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def make_word(path: Path, word: str, voice: str, speed: int, pitch: int, offset: float, noise: str, level: float, tmp):
    """espeak-ng speaks `word`; sox trims its silences, starts it `offset` s into a 1-s clip, and mixes in 1 s of
    `noise` at `level` (the room it was recorded in)."""
    raw, clip, bed = tmp / "raw.wav", tmp / "clip.wav", tmp / "bed.wav"
    run("espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(raw), word)
    run("sox", str(raw), str(clip), "silence", "1", "0.02", "0.5%", "reverse", "silence", "1", "0.02", "0.5%",
        "reverse", "pad", f"{offset:.3f}", "1", "trim", "0", "1")  # fmt: skip
    run("sox", "-n", "-r", "22050", "-c", "1", "-b", "16", str(bed), "synth", "1", noise, "vol", f"{level:.4f}")
    run("sox", "-m", "-v", "1", str(clip), "-v", "1", str(bed), "-r", "16000", "-b", "16", str(path))


def make_noise(path: Path, noise: str, level: float) -> None:
    run("sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(path), "synth", "1", noise, "vol", f"{level:.4f}")


def make_sound(root: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    train, test, tmp = root / "sound-train", root / "sound-test", root / "sound-tmp"
    tmp.mkdir(parents=True)
    for split, voices, speeds, pitches, levels in (
        (train, TRAIN_VOICES, TRAIN_SPEEDS, TRAIN_PITCHES, (0.005, 0.03)),  # a quiet room
        (test, TEST_VOICES, TEST_SPEEDS, TEST_PITCHES, (0.03, 0.12)),  # a noisier one, never heard in training
    ):
        for word in WORDS:
            (split / word).mkdir(parents=True)
            i = 0
            for voice in voices:
                for speed in speeds:
                    for pitch in pitches:
                        make_word(
                            split / word / f"{i:03d}.wav", word, voice, speed, pitch,
                            float(rng.uniform(0.0, 0.25)), str(rng.choice(NOISES)), float(rng.uniform(*levels)), tmp,
                        )  # fmt: skip
                        i += 1
        (split / BACKGROUND).mkdir()
        n = 32 if split is train else 18
        for i in range(n):
            make_noise(split / BACKGROUND / f"{i:03d}.wav", str(rng.choice(NOISES)), float(rng.uniform(0.002, 0.3)))
    shutil.rmtree(tmp)
    return train, test


# ---------------------------------------------------------------- synthetic photos


def _object(draw: ImageDraw.ImageDraw, kind: str, cx: float, cy: float, r: float, colour, angle: float) -> None:
    """Three objects told apart by shape, not colour: every object gets a random colour."""
    if kind == "ball":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour, outline=(0, 0, 0), width=2)
        draw.ellipse([cx - r * 0.5, cy - r * 0.6, cx - r * 0.1, cy - r * 0.2], fill=(255, 255, 255))  # a highlight
    elif kind == "mug":
        draw.rectangle([cx - r * 0.7, cy - r, cx + r * 0.5, cy + r], fill=colour, outline=(0, 0, 0), width=2)
        draw.ellipse([cx + r * 0.3, cy - r * 0.5, cx + r * 1.1, cy + r * 0.5], outline=colour, width=max(2, int(r / 5)))
    else:  # a star
        points = []
        for k in range(10):
            rad = r if k % 2 == 0 else r * 0.45
            a = angle + k * np.pi / 5
            points.append((cx + rad * np.cos(a), cy + rad * np.sin(a)))
        draw.polygon(points, fill=colour, outline=(0, 0, 0))


CLASS_COLOURS = {"ball": (200, 40, 40), "mug": (40, 90, 200), "star": (230, 190, 30)}


def _clutter(draw: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, h: int) -> None:
    """Lines and boxes that are none of the objects."""
    for _ in range(int(rng.integers(2, 7))):
        xa, xb = rng.integers(0, w, 2).tolist()
        ya, yb = rng.integers(0, h, 2).tolist()
        grey = tuple(int(v) for v in rng.integers(40, 220, 3))
        if rng.random() < 0.5:
            draw.line([xa, ya, xb, yb], fill=grey, width=int(rng.integers(1, 5)))
        else:
            draw.rectangle([min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb)], outline=grey, width=2)


def _gradient(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    top, bottom = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = np.linspace(0, 1, h)[:, None, None]
    return Image.fromarray(((top * (1 - t) + bottom * t) * np.ones((1, w, 1))).astype(np.uint8))


def photo(kind: str, rng: np.random.Generator, desk: Image.Image | None = None) -> Image.Image:
    """A 160x120 'photo' of one object, anywhere, at any size and angle, then lighting (level and colour cast), blur
    and sensor noise. With `desk` (the webcam case): always that background, and each object keeps its own colour
    (a red ball, a blue mug, a yellow star, +-25 per channel). Without: a new random background with new clutter
    each time, and a random colour, so only the shape tells the objects apart."""
    w, h = 160, 120
    if desk is not None:
        img = desk.copy()
        colour = tuple(int(np.clip(c + rng.integers(-25, 26), 0, 255)) for c in CLASS_COLOURS[kind])
    else:
        img = _gradient(rng, w, h)
        _clutter(ImageDraw.Draw(img), rng, w, h)
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
    draw = ImageDraw.Draw(img)
    r = float(rng.uniform(14, 32))
    cx, cy = float(rng.uniform(w / 2 - 40, w / 2 + 40)), float(rng.uniform(r, h - r))
    _object(draw, kind, cx, cy, r, colour, float(rng.uniform(0, 2 * np.pi)))
    img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 1.2))))
    a = np.asarray(img, np.float32) * rng.uniform(0.55, 1.3) * rng.uniform(0.85, 1.15, 3)  # light level and cast
    a += rng.normal(0, rng.uniform(2, 12), a.shape)  # sensor noise
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def make_images(root: Path, scene: str = "desk") -> tuple[Path, Path]:
    """32 photos per object to train from and 100 new ones held out. "desk": one desk (background and clutter) for
    the whole project, as a webcam sees it; "cluttered": a new scene for every photo."""
    train, test = root / f"image-{scene}-train", root / f"image-{scene}-test"
    desk = None
    if scene == "desk":
        desk_rng = np.random.default_rng(7)
        desk = _gradient(desk_rng, 160, 120)
        _clutter(ImageDraw.Draw(desk), desk_rng, 160, 120)
    for split, n, seed in ((train, 32, 1), (test, 100, 2)):
        rng = np.random.default_rng(seed)
        for kind in ("ball", "mug", "star"):
            (split / kind).mkdir(parents=True)
            for i in range(n):
                photo(kind, rng, desk).save(split / kind / f"{i:03d}.jpg", quality=90)
    return train, test


# ---------------------------------------------------------------- Quick, Draw!


def make_drawings(root: Path, classes=("circle", "square", "triangle")) -> tuple[Path, Path]:
    data = np.load(QUICKDRAW)
    images, labels = data["images"], data["labels"]
    rng = np.random.default_rng(0)
    train, test = root / "drawing-train", root / "drawing-test"
    for name in classes:
        rows = rng.permutation(np.flatnonzero(labels == name))
        for split, chosen in ((train, rows[:32]), (test, rows[32:232])):
            (split / name).mkdir(parents=True)
            for i, row in enumerate(chosen):
                (split / name / f"{i:03d}.png").write_bytes(encode_png(images[row]))
    return train, test


# ---------------------------------------------------------------- measuring

SCENARIOS = {  # name: (kind, the maker of its train and held-out folders)
    "sound": ("sound", make_sound),
    "image": ("image", functools.partial(make_images, scene="desk")),
    "image-cluttered": ("image", functools.partial(make_images, scene="cluttered")),
    "drawing": ("drawing", make_drawings),
}


def project(kind: str, train: Path, test: Path) -> dict:
    tr, te = load_folder(kind, train), load_folder(kind, test)
    assert tr["class_names"] == te["class_names"]
    return {"x_train": tr["x"], "y_train": tr["y"], "x_val": te["x"], "y_val": te["y"],
            "class_names": tr["class_names"], "kind": kind}  # fmt: skip


def curve_table(rows: list[dict]) -> str:
    lines = ["| samples per class | accuracy (mean of 3 seeds) | min–max | mean confidence |", "|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['count']} | **{r['accuracy_mean']:.3f}** | {r['accuracy_min']:.3f}–{r['accuracy_max']:.3f} "
            f"| {r['confidence_mean']:.3f} |"
        )
    return "\n".join(lines)


def variance_table(rows: list[dict]) -> str:
    lines = ["| subset | samples per class | spread (mean sq. distance to own mean) | accuracy | min–max | confidence |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        name = "alike (nearest the class mean)" if r["subset"] == "low" else "varied (farthest from it)"
        lines.append(
            f"| {name} | {r['count']} | {r['spread']:.1f} | **{r['accuracy_mean']:.3f}** "
            f"| {r['accuracy_min']:.3f}–{r['accuracy_max']:.3f} | {r['confidence_mean']:.3f} |"
        )
    return "\n".join(lines)


def enough(rows: list[dict], level: float) -> str:
    hit = next((r["count"] for r in rows if r["accuracy_mean"] >= level), None)
    return f"{hit}" if hit is not None else f"more than {rows[-1]['count']}"


def measure(name: str, root: Path, quick: bool) -> dict:
    """Make scenario `name`'s project under `root` and run its experiments; returns the plain rows for the doc."""
    counts, seeds = ((1, 4), (0,)) if quick else (COUNTS, SEEDS)
    t0 = time.time()
    kind, maker = SCENARIOS[name]
    data = project(kind, *maker(root))
    cfg = TeachConfig(kind=kind, epochs=3 if quick else 50)
    out = {"n_val": len(data["y_val"]), "class_names": data["class_names"]}
    out["curve"] = samples_curve(cfg, data, counts, seeds)
    if kind == "drawing":
        out["variance"] = variance_curve(cfg, data, (4,) if quick else (4, 8), seeds)
        pick = np.concatenate([np.flatnonzero(data["y_train"] == c)[:8] for c in range(len(data["class_names"]))])
        small = {**data, "x_train": data["x_train"][pick], "y_train": data["y_train"][pick]}
        out["spread"] = seed_spread(functools.partial(teach_run, cfg, small), 2 if quick else 6)
    out["seconds"] = time.time() - t0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="counts 1, 4; one seed; 3 epochs (a smoke run)")
    parser.add_argument("--out", default=str(REPO / "docs" / "teach_measured.md"))
    parser.add_argument("--only", choices=list(SCENARIOS), help=argparse.SUPPRESS)  # one scenario, as JSON
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="teach-measure-"))
    try:
        if args.only:  # a child: one scenario, its rows as JSON on stdout's last line
            print(json.dumps(measure(args.only, root, args.quick)))
            return
        # One process per scenario, all at once: a small Keras model's training leaves much of a core idle (Python
        # overhead per batch), so in parallel they share the 2 cores better than one after another.
        started, load_start = time.time(), os.getloadavg()[0]
        extra = ["--quick"] if args.quick else []
        procs = {
            kind: subprocess.Popen(
                [sys.executable, __file__, "--only", kind, *extra], stdout=subprocess.PIPE, text=True
            )
            for kind in SCENARIOS
        }
        results = {}
        for kind, proc in procs.items():
            stdout, _ = proc.communicate()
            if proc.returncode != 0:
                raise SystemExit(f"measuring {kind} failed (exit {proc.returncode})")
            results[kind] = json.loads(stdout.strip().splitlines()[-1])
            print(kind, round(results[kind]["seconds"]), "s", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    total = time.time() - started
    timings = {k: v["seconds"] for k, v in results.items()}
    write_doc(Path(args.out), results, timings, total, args.quick, (load_start, os.getloadavg()[0]))
    print(f"wrote {args.out} in {total:.0f} s")


def write_doc(path: Path, results: dict, timings: dict, total: float, quick: bool, load: tuple) -> None:
    s, desk, clut, dr = results["sound"], results["image"], results["image-cluttered"], results["drawing"]
    spread = dr["spread"]
    summary = "\n".join(
        f"| {label} | {len(r['class_names'])} | {r['n_val']} | {_acc(r, 1)} | {_acc(r, 8)} | {_acc(r, 32)} "
        f"| {_conf(r, 32)} | {enough(r['curve'], 0.9)} |"
        for label, r in (
            ("sound (espeak-ng words + noise)", s),
            ("image, one desk (synthetic)", desk),
            ("image, cluttered scenes (synthetic)", clut),
            ("drawing (real Quick, Draw!)", dr),
        )
    )
    text = f"""# Teach: how many samples per class each kind needs (measured)

Measured by `scripts/measure_teach.py`{" --quick (a smoke run, NOT the figures)" if quick else ""}: every model is a
new `core.families.teach.model` CNN trained from scratch with Teachable Machine's defaults (50 epochs, batch 16, Adam 0.001;
3 jittered copies of each sample), on *k* samples per class drawn at random (3 seeds: different samples, initial
weights and batch order), and scored on held-out samples it never trained on. Accuracy is the share of held-out
samples named right (mean of the 3 seeds; min–max beside it); confidence is the mean top probability, how sure the
model is, right or wrong. Chance is 1/classes.

Command: `.venv/bin/python scripts/measure_teach.py` (writes this file) — {total:.0f} s wall on this 2-core machine,
the four scenarios in parallel processes (sound {timings["sound"]:.0f} s, image desk {timings["image"]:.0f} s, image
cluttered {timings["image-cluttered"]:.0f} s, drawing {timings["drawing"]:.0f} s each, including making the data;
Python {platform.python_version()}), while other work shared the machine (load average {load[0]:.1f} at the start,
{load[1]:.1f} at the end), so the times are inflated. No PNG: plotly cannot write images without kaleido, so each
curve is a table; `core.families.teach.figures.samples_curve_figure(rows)` draws the same rows on the page.

## Summary

| scenario | classes | held-out samples | 1 per class | 8 per class | 32 per class | confidence at 32 | per class for ≥ 0.9 |
|---|---|---|---|---|---|---|---|
{summary}

## Sound: spoken words (espeak-ng) and background noise (sox)

Classes: {", ".join(s["class_names"])}. Each word sample is one espeak-ng utterance, its silences trimmed by sox,
started 0–0.25 s into a 1-second clip and mixed (`sox -m`) with 1 s of white, pink or brown noise. Training: voices
{", ".join(TRAIN_VOICES)} at {", ".join(map(str, TRAIN_SPEEDS))} words/min, pitch {", ".join(map(str, TRAIN_PITCHES))},
noise level 0.005–0.03 (32 per word). Held out: voices {", ".join(TEST_VOICES)} at
{", ".join(map(str, TEST_SPEEDS))} words/min, pitch {", ".join(map(str, TEST_PITCHES))} — no voice or speed heard in
training — with louder noise, 0.03–0.12 (18 per word). Background noise: 1-s sox noise at levels 0.002–0.3 (32 to
train, 18 held out). Synthetic voices are more regular than people's, but the held-out ones are new voices and
speeds in a noisier room, which is the hard part for a model learnt from a few samples.

{curve_table(s["curve"])}

## Image: SYNTHETIC photos

These are **not photos**: the script draws them with PIL. Three objects (ball, mug, star), placed anywhere at any
size and angle, then a random light level and colour cast, blur and sensor noise, saved as 160x120 JPEG (the
loader centre-crops and resizes to 32x32). 32 per class to train; the 100 per class held out are new draws from
the same generator.

**One desk** — the webcam case Teachable Machine is used in: the same background and clutter in every photo, and
each object keeps its own colour (a red ball, a blue mug, a yellow star, ±25 per channel).

{curve_table(desk["curve"])}

**Cluttered scenes** — a stress test: a new random background and clutter in every photo, and every object in a
random colour, so only the shape tells them apart.

{curve_table(clut["curve"])}

## Drawing: real Quick, Draw! drawings

Classes: {", ".join(dr["class_names"])}, from `quickdraw_train.npz` (Quick, Draw! dataset by Google, CC BY 4.0):
32 random drawings per class to train from, and 200 other drawings per class held out (other people's).

{curve_table(dr["curve"])}

## Alike or varied samples (the same number), drawings

`core.families.teach.experiments.variance_curve`: per class, the *k* training drawings nearest their class mean in input
space (Euclidean over the 784 pixels) — drawings all alike, the most typical ones — against the *k* farthest from
it — the most varied, which are also the most unusual. Same held-out drawings as above; spread is the subset's mean
squared distance to its own mean.

{variance_table(dr["variance"])}

## The same training, different seeds

`core.engine.seed_spread.seed_spread`: drawings, the same 8 per class, {spread["n_runs"]} trainings that differ only
in the seed (initial weights, jitter, batch order): accuracies {", ".join(f"{a:.3f}" for a in spread["accuracies"])}
— mean {spread["mean"]:.3f}, min {spread["min"]:.3f}, max {spread["max"]:.3f}, standard deviation
{spread["std"]:.3f}.
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _conf(result: dict, count: int) -> str:
    row = next((r for r in result["curve"] if r["count"] == count), None)
    return f"{row['confidence_mean']:.3f}" if row else "—"


def _acc(result: dict, count: int) -> str:
    row = next((r for r in result["curve"] if r["count"] == count), None)
    return f"{row['accuracy_mean']:.3f}" if row else "—"


if __name__ == "__main__":
    main()
