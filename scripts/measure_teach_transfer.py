"""Transfer learning for the Teach page, measured: accuracy at 1, 5, 8 and 32 samples per class on held-out voices,
drawers and photos, for a frozen extractor + a small head (core.families.teach.transfer), the nearest-neighbour rule
on the same features, and the from-scratch CNN (core.families.teach.model); writes docs/teach_transfer_measured.md.

    .venv/bin/python scripts/measure_teach_transfer.py [--quick] [--scratch-seeds 1] [--tune 150] [--out docs/teach_transfer_measured.md]
    .venv/bin/python scripts/measure_teach_transfer.py --only drawing-unseen [--tune 150]   # prints; writes no doc

--tune N compares drawing heads (L2, augmentation) with nearest neighbour on N five-word projects of unseen words
other than the measured ones (the evidence the drawing head's settings were chosen on), and adds it to the doc.

Sound and photos are made as scripts/measure_teach.py makes them (espeak-ng + sox; PIL); drawings are real Quick,
Draw! drawings the backbone never trained on (held-out words, and held-out drawings of words it knows). sox's noise is
unseeded, so the sound set (and its figures, nearest neighbour's too) differs a little from run to run; photos and
drawings repeat exactly. The doc's last section, "What the figures say", is written by hand after a run.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import measure_teach  # noqa: E402  (the sound and photo makers, shared with the from-scratch measurement)

from core.families.teach import data as teach_data  # noqa: E402
from core.families.teach import transfer  # noqa: E402
from core.families.teach.model import TeachConfig, evaluate_arrays, train_teach_model  # noqa: E402

DATA = REPO.parent / "shared" / "data"
COUNTS = (1, 5, 8, 32)
SEEN_WORDS = ("airplane", "crown", "skull", "smiley face", "star")  # the backbone knows them; not these drawings
PARTS = ("sound", "drawing-unseen", "drawing-seen", "image-desk", "image-cluttered")


def _pick(y: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    return np.concatenate([rng.permutation(np.flatnonzero(y == c))[:k] for c in np.unique(y)])


def one_run(kind: str, names, x_tr, y_tr, x_te, y_te, seed: int, scratch: bool) -> dict:
    """Transfer head, nearest neighbour on the same features, and (if asked) the from-scratch CNN."""
    cfg = transfer.head_config(kind, seed)
    model = transfer.fit(kind, x_tr, y_tr, len(names), cfg)
    probs = transfer.predict_proba(kind, model, x_te)
    f_tr, f_te = transfer.extract_features(kind, x_tr), transfer.extract_features(kind, x_te)
    out = {
        "transfer": float(np.mean(probs.argmax(1) == y_te)),
        "nn": float(np.mean(transfer.nearest_neighbour(f_tr, y_tr, f_te) == y_te)),
        "seconds": float(model.teach_seconds),
        "predicted": probs.argmax(1),
    }
    if scratch:
        data = {
            "x_train": x_tr,
            "y_train": y_tr,
            "x_val": x_te,
            "y_val": y_te,
            "class_names": list(names),
            "kind": kind,
        }
        t0 = time.perf_counter()
        trained = train_teach_model(TeachConfig(kind=kind, seed=seed), data)
        out["scratch_seconds"] = time.perf_counter() - t0
        out["scratch"] = float(evaluate_arrays(trained.model, x_te, y_te, names)["accuracy"])
    return out


def curve(kind: str, names, x_train, y_train, x_test, y_test, counts, seeds, scratch_seeds) -> list[dict]:
    rows = []
    for k in counts:
        if k > min(np.bincount(y_train)):
            continue
        runs = []
        for seed in seeds:
            chosen = _pick(y_train, k, np.random.default_rng(1000 + seed))
            runs.append(
                one_run(kind, names, x_train[chosen], y_train[chosen], x_test, y_test, seed, seed in scratch_seeds)
            )
        rows.append(summarise(k, runs, y_test, names))
        print(kind, k, {key: rows[-1][key] for key in ("transfer", "nn", "scratch", "seconds")}, flush=True)
    return rows


def summarise(k: int, runs: list[dict], y_test, names) -> dict:
    row = {"count": k, "n_runs": len(runs)}
    for key in ("transfer", "nn", "seconds", "scratch", "scratch_seconds"):
        values = [r[key] for r in runs if key in r]
        row[key] = float(np.mean(values)) if values else None
        row[key + "_min"] = float(np.min(values)) if values else None
        row[key + "_max"] = float(np.max(values)) if values else None
    if y_test is not None:  # how often a true word is called "background noise", and the other way round
        confusion = np.zeros((len(names), len(names)), int)
        for r in runs:
            np.add.at(confusion, (y_test, r["predicted"]), 1)
        row["confusion"] = confusion.tolist()
    return row


def sound(root: Path, counts, seeds, scratch_seeds) -> dict:
    train, test = measure_teach.make_sound(root)
    tr, te = teach_data.load_folder("sound", train), teach_data.load_folder("sound", test)
    names = tr["class_names"]
    return {"names": names, "n_test": len(te["y"]),
            "rows": curve("sound", names, tr["x"], tr["y"], te["x"], te["y"], counts, seeds, scratch_seeds)}  # fmt: skip


def images(root: Path, scene: str, counts, seeds, scratch_seeds) -> dict:
    train, test = measure_teach.make_images(root, scene)
    tr, te = teach_data.load_folder("image", train), teach_data.load_folder("image", test)
    names = tr["class_names"]
    return {"names": names, "n_test": len(te["y"]),
            "rows": curve("image", names, tr["x"], tr["y"], te["x"], te["y"], counts, seeds, scratch_seeds)}  # fmt: skip


def drawings_seen(counts, seeds, scratch_seeds) -> dict:
    """5 words the backbone trained on, but only drawings of its held-out split (by drawing): train on k of them,
    test on the rest."""
    images_, words = transfer.quickdraw_words(DATA)
    test_rows = transfer.drawing_split(words)["test"]
    rows = test_rows[np.isin(words[test_rows], SEEN_WORDS)]
    x = images_[rows].astype(np.float32) / 255.0
    y = np.searchsorted(np.array(SEEN_WORDS), words[rows])
    rng = np.random.default_rng(5)
    pool = _pick(y, 32, rng)  # 32 per word to draw the training samples from; the rest is the test
    rest = np.setdiff1d(np.arange(len(y)), pool)
    return {"names": list(SEEN_WORDS), "n_test": len(rest),
            "rows": curve("drawing", SEEN_WORDS, x[pool], y[pool], x[rest], y[rest], counts, seeds, scratch_seeds)}  # fmt: skip


def drawings_unseen(counts, episodes: int, scratch_seeds) -> dict:
    """5-way projects of words the backbone never saw (transfer.HELD_OUT_WORDS, 10 drawings each): each episode
    draws 5 words and k drawings of each to train on, and tests on their other 10 - k drawings."""
    images_, words = transfer.quickdraw_words(DATA)
    rows_out = []
    for k in counts:
        if k >= 10:
            continue
        runs = []
        for seed in range(episodes):
            rng = np.random.default_rng(2000 + seed)
            chosen = rng.choice(np.array(transfer.HELD_OUT_WORDS), 5, replace=False)
            tr_rows, te_rows, y_tr, y_te = [], [], [], []
            for c, word in enumerate(chosen):
                rows = rng.permutation(np.flatnonzero(words == word))
                tr_rows += list(rows[:k])
                te_rows += list(rows[k:])
                y_tr += [c] * k
                y_te += [c] * (len(rows) - k)
            x_tr, x_te = images_[tr_rows].astype(np.float32) / 255.0, images_[te_rows].astype(np.float32) / 255.0
            runs.append(one_run("drawing", list(chosen), x_tr, np.array(y_tr), x_te, np.array(y_te), seed,
                                seed in scratch_seeds))  # fmt: skip
        row = summarise(k, runs, None, None)
        rows_out.append(row)
        print("unseen words", k, {key: row[key] for key in ("transfer", "nn", "scratch", "seconds")}, flush=True)
    return {"names": ["5 of " + ", ".join(transfer.HELD_OUT_WORDS)], "rows": rows_out, "episodes": episodes}


TUNE_VARIANTS = {  # name -> (L2, drawing augmentation): the head as it was, and what was tried
    "L2 0.001, no copies (the head before)": (1e-3, False),
    "L2 0.001, mirror + shifts": (1e-3, True),
    "L2 0.01, mirror + shifts": (1e-2, True),
    "L2 0.1, no copies": (0.1, False),
    "L2 0.1, mirror + shifts (chosen)": (0.1, True),
}


def tune_drawing_head(counts, episodes: int) -> dict:
    """The drawing head's settings against nearest neighbour on `episodes` 5-word projects of unseen words drawn
    with other seeds (5000 + i) than the measured projects (2000 + i): features of every drawing and of its
    augmented copies are taken once, then each variant trains a head per project and count."""
    images_, words = transfer.quickdraw_words(DATA)
    rows = np.flatnonzero(np.isin(words, transfer.HELD_OUT_WORDS))
    x, w = images_[rows].astype(np.float32) / 255.0, words[rows]
    xa, _ = transfer.augment("drawing", x, np.zeros(len(x), int))
    copies = transfer.extract_features("drawing", xa).reshape(-1, len(x), transfer.DRAWING_FEATURES)
    out = []
    for k in counts:
        if k >= 10:
            continue
        scores: dict[str, list[float]] = {"nearest neighbour (same features)": [], **{v: [] for v in TUNE_VARIANTS}}
        for seed in range(episodes):
            rng = np.random.default_rng(5000 + seed)
            chosen = rng.choice(np.array(transfer.HELD_OUT_WORDS), 5, replace=False)
            tr, te, y_tr, y_te = [], [], [], []
            for c, word in enumerate(chosen):
                r = rng.permutation(np.flatnonzero(w == word))
                tr, te, y_tr, y_te = tr + list(r[:k]), te + list(r[k:]), y_tr + [c] * k, y_te + [c] * (len(r) - k)
            y_tr, y_te = np.array(y_tr), np.array(y_te)
            pred = transfer.nearest_neighbour(copies[0][tr], y_tr, copies[0][te])
            scores["nearest neighbour (same features)"].append(float(np.mean(pred == y_te)))
            for name, (l2, copied) in TUNE_VARIANTS.items():
                f = copies[:, tr] if copied else copies[:1, tr]
                cfg = transfer.TransferConfig(seed=seed, l2=l2)
                head = transfer.train_head(f.reshape(-1, f.shape[-1]), np.tile(y_tr, len(f)), 5, cfg)
                scores[name].append(float(np.mean(np.asarray(head(copies[0][te])).argmax(1) == y_te)))
        out.append({"count": k, **{name: float(np.mean(v)) for name, v in scores.items()}})
        print("tune", k, out[-1], flush=True)
    return {"episodes": episodes, "rows": out}


def tune_table(tuned: dict) -> str:
    names = [n for n in tuned["rows"][0] if n != "count"]
    lines = ["| head | " + " | ".join(f"{r['count']} per class" for r in tuned["rows"]) + " |",
             "|---|" + "---|" * len(tuned["rows"])]  # fmt: skip
    for name in names:
        best = [max(v for n, v in r.items() if n != "count") for r in tuned["rows"]]
        cells = [f"**{r[name]:.3f}**" if r[name] == b else f"{r[name]:.3f}" for r, b in zip(tuned["rows"], best)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fmt(row: dict, key: str) -> str:
    if row.get(key) is None:
        return "—"
    spread = f" ({row[key + '_min']:.2f}–{row[key + '_max']:.2f})" if row["n_runs"] > 1 and key != "scratch" else ""
    return f"{row[key]:.3f}{spread}"


def table(result: dict) -> str:
    lines = [
        "| samples per class | transfer head | nearest neighbour (same features) | from-scratch CNN | head seconds |",
        "|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['count']} | **{fmt(r, 'transfer')}** | {fmt(r, 'nn')} | {fmt(r, 'scratch')} "
                     f"| {r['seconds']:.2f} |")  # fmt: skip
    return "\n".join(lines)


def background_line(result: dict) -> str:
    names = result["names"]
    b = names.index(teach_data.BACKGROUND)
    parts = []
    for r in result["rows"]:
        m = np.array(r["confusion"])
        words_as_noise = int(m[:, b].sum() - m[b, b])
        noise_as_words = int(m[b].sum() - m[b, b])
        parts.append(f"{r['count']} per class: {noise_as_words} of {int(m[b].sum())} background seconds called a word, "
                     f"{words_as_noise} of {int(m.sum() - m[b].sum())} words called background noise")  # fmt: skip
    return "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="counts 1 and 5, one seed, no scratch CNN (a smoke run)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=20, help="5-way projects of unseen words per count")
    parser.add_argument("--scratch-seeds", type=int, default=1, help="seeds the slow from-scratch CNN runs for")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(REPO / "docs" / "teach_transfer_measured.md"))
    parser.add_argument("--only", choices=PARTS, help="measure one part and print it; no doc is written")
    parser.add_argument("--tune", type=int, default=0, help="projects for the drawing head's tuning table (0: none)")
    args = parser.parse_args()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    counts = (1, 5) if args.quick else COUNTS
    seeds = range(1 if args.quick else args.seeds)
    scratch = set(range(0 if args.quick else args.scratch_seeds))
    episodes = 3 if args.quick else args.episodes
    started = time.time()
    root = Path(tempfile.mkdtemp(prefix="teach-transfer-"))
    parts = {
        "sound": lambda: sound(root, counts, seeds, scratch),
        "drawing-unseen": lambda: drawings_unseen(counts, episodes, scratch),
        "drawing-seen": lambda: drawings_seen(counts, seeds, scratch),
        "image-desk": lambda: images(root, "desk", counts, seeds, scratch),
        "image-cluttered": lambda: images(root, "cluttered", counts, seeds, scratch),
    }
    try:
        results = {name: run() for name, run in parts.items() if args.only in (None, name)}
        if args.tune:
            results["tune"] = tune_drawing_head(counts, args.tune)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.only:
        print(f"--only {args.only}: no doc written ({time.time() - started:.0f} s)")
        return
    write_doc(Path(args.out), results, time.time() - started, args)
    print(f"wrote {args.out} in {time.time() - started:.0f} s")


def write_doc(path: Path, results: dict, seconds: float, args) -> None:
    meta = transfer.store.load_metadata(transfer.BACKBONE_DIR)
    rep = meta.get("report", {})
    s, du, ds = results["sound"], results["drawing-unseen"], results["drawing-seen"]
    s8 = next((r for r in s["rows"] if r["count"] == 8), s["rows"][-1])
    d5 = next((r for r in du["rows"] if r["count"] == 5), du["rows"][-1])
    quick = " --quick (a smoke run, NOT the figures)" if args.quick else ""
    flags = [a for a in sys.argv[1:] if not a.startswith("--out")]
    command = " ".join([".venv/bin/python scripts/measure_teach_transfer.py", *flags])
    tuned = ""
    if "tune" in results:
        tuned = f"""
## How the drawing head was chosen (other projects than the tables above)

The head's settings for drawings were chosen on {results["tune"]["episodes"]} other five-word projects of the same
unseen words (seeds 5000 + i; the table above uses 2000 + i), *k* drawings per word to train on and the other
10 − *k* to test on; the mean accuracy of each head, the best per count in bold. The head is multinomial logistic
regression on standardised backbone features (`transfer.HEAD_L2`, `transfer.augment`): "mirror + shifts" trains on
each drawing, its mirror image and four 2-pixel shifts (the jitter the backbone learnt with), features taken of each.

{tune_table(results["tune"])}
"""
    text = f"""# Teach: transfer learning (a frozen extractor + a small head), measured

Written by `scripts/measure_teach_transfer.py`{quick}: `{command}` —
{seconds:.0f} s wall on this shared 2-core machine with TensorFlow limited to {args.threads} intra-op thread(s)
(Python {platform.python_version()}). Each row: *k* training samples per class drawn at random, scored on held-out
samples no model trained on; transfer and nearest neighbour are the mean over {args.seeds} seeds (min–max beside
it), the from-scratch CNN (`core.families.teach.model`, Teachable Machine's 50 epochs, trained on the same samples) over
{args.scratch_seeds} seed(s), as it takes 10–60 s a run. "Head seconds" is `transfer.fit` from model inputs to a trained
model: augmentation, feature extraction and the head's training (300 full-batch Adam steps in NumPy; L2 on the
kernel {transfer.HEAD_L2["sound"]:g} for sounds and photos, {transfer.HEAD_L2["drawing"]:g} for drawings, which also
train on a mirror image and four 2-pixel shifts of every drawing).

## Summary

- **Time to train the head**: sound, 4 classes x 8 clips: **{s8["seconds"]:.2f} s**; drawing, 5 classes x 5
  drawings: **{d5["seconds"]:.2f} s** (features included; the from-scratch CNN took {s8["scratch_seconds"] or 0:.0f} s and
  {d5["scratch_seconds"] or 0:.0f} s on the same samples).
- **Background noise**: {background_line(s)}.

## Sound: espeak-ng words in sox noise, unseen voices, speeds and a noisier room

Classes: {", ".join(s["names"])}; {s["n_test"]} held-out seconds; made exactly as in docs/teach_measured.md (train
voices {", ".join(measure_teach.TRAIN_VOICES)}; held-out voices {", ".join(measure_teach.TEST_VOICES)}, other speeds
and pitches, noise 0.03–0.12 instead of 0.005–0.03).

{table(s)}

## Drawing: Quick, Draw! words the backbone never saw (the fair test)

{du["episodes"]} projects per count, each of 5 words drawn at random from the 30 words kept out of the backbone's training
(`transfer.HELD_OUT_WORDS`: {", ".join(transfer.HELD_OUT_WORDS)}), *k* drawings of each to train on and the other
10 − *k* (other people's) to test on. Quick, Draw! has 10 drawings of each of these words here, so 32 per class
cannot be measured on them; see the next table for 32.

{table(du)}
{tuned}
## Drawing: words the backbone knows, drawings it never saw

Classes: {", ".join(ds["names"])}; the drawings are all from the backbone's held-out split (by drawing): 32 per
word to draw the training samples from, {ds["n_test"]} others to test on.

{table(ds)}

## Image: SYNTHETIC photos (scripts/measure_teach.py's generator), hand-crafted features

**One desk** (the same background; each object keeps its colour):

{table(results["image-desk"])}

**Cluttered scenes** (a new background and a random colour every photo: only the shape tells them apart):

{table(results["image-cluttered"])}

## The drawing backbone (saved_models/teach_drawing_backbone)

Trained by `scripts/train_drawing_backbone.py` on {rep.get("words", "?")} Quick, Draw! words
({rep.get("train_drawings", "?")} drawings, quickdraw_train.npz + quickdraw_other.npz less the 30 held-out words) in
{rep.get("seconds", "?")} s; held out BY DRAWING ({rep.get("test_drawings", "?")} drawings): accuracy over all its words
**{rep.get("accuracy_all_words", float("nan")):.3f}** (balanced over words {rep.get("balanced_accuracy_all_words", float("nan")):.3f}:
most of the 159 other words have 9 training drawings), over the 8 shapes' {rep.get("test_drawings_8_shapes", "?")} drawings
**{rep.get("accuracy_8_shapes_among_all_words", float("nan")):.3f}** among all words and
**{rep.get("accuracy_8_shapes_among_themselves", float("nan")):.3f}** among the 8 shapes alone.
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


if __name__ == "__main__":
    main()
