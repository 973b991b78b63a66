"""Pretrain the Teach page's drawing backbone on real Quick, Draw! drawings and save it to
saved_models/teach_drawing_backbone (core.store's TF.js layers format). Rebuild it with:

    .venv/bin/python scripts/train_drawing_backbone.py [--epochs 14] [--threads 2] [--out saved_models/teach_drawing_backbone]

Data: ../shared/data/quickdraw_train.npz (8 shapes) and quickdraw_other.npz (159 other words), every word except
core.families.teach.transfer.HELD_OUT_WORDS (30 words kept out for the fair few-shot test); split BY DRAWING: 10%
of every word's drawings held out (transfer.drawing_split). Prints the held-out accuracy over all its words and
over the 8 shapes, and stores them in the model's metadata. About 5-8 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from core.families.teach import transfer  # noqa: E402
from core.store import models as store  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SHAPES = ("circle", "square", "star", "triangle", "zigzag", "line", "hexagon", "octagon")


def augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A new jitter of every drawing, each epoch: shifted up to 2 pixels (the 28x28 frame has a 2-pixel margin) and
    mirrored left-right half the time (a mirrored airplane is still an airplane)."""
    out = np.zeros_like(x)
    flip = rng.random(len(x)) < 0.5
    x = np.where(flip[:, None, None], x[:, :, ::-1], x)
    shifts = rng.integers(-2, 3, size=(len(x), 2))
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            rows = np.flatnonzero((shifts[:, 0] == dy) & (shifts[:, 1] == dx))
            if len(rows):
                out[rows] = np.roll(x[rows], (dy, dx), axis=(1, 2))  # the margin is black, so rolling only moves black
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=14)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow intra-op threads (the machine has 2 cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--out", default=str(transfer.BACKBONE_DIR))
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    started = time.time()
    images, words = transfer.quickdraw_words(args.data)
    split = transfer.drawing_split(words)
    vocab = sorted(set(words[split["train"]].tolist()))
    index = {w: i for i, w in enumerate(vocab)}
    y = np.array([index.get(w, -1) for w in words])
    x = images.astype(np.float32) / 255.0  # decode_drawing's convention: white strokes on black, 0..1
    x_train, y_train = x[split["train"]], y[split["train"]]
    x_test, y_test = x[split["test"]], y[split["test"]]
    # Words have 9 to 4,500 training drawings: weigh each drawing by 1/sqrt(its word's count), so the rare words
    # shape the features too without 9 drawings each being repeated 500 times (which would only be memorised).
    counts = np.bincount(y_train, minlength=len(vocab))
    weight = 1.0 / np.sqrt(counts[y_train])
    weight = (weight / weight.mean()).astype(np.float32)
    print(f"{len(vocab)} words, {len(x_train):,} drawings to train, {len(x_test):,} held out", flush=True)

    model = transfer.build_backbone(len(vocab), seed=args.seed)
    steps = args.epochs * int(np.ceil(len(x_train) / args.batch))
    schedule = keras.optimizers.schedules.CosineDecay(2e-3, steps, alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy",
                  weighted_metrics=["accuracy"])  # fmt: skip
    rng = np.random.default_rng(args.seed)
    for epoch in range(args.epochs):
        t0 = time.time()
        order = rng.permutation(len(x_train))
        hist = model.fit(augment(x_train[order], rng), y_train[order], sample_weight=weight[order],
                         batch_size=args.batch, epochs=1, verbose=0, shuffle=False)  # fmt: skip
        acc = float(np.mean(model.predict(x_test, batch_size=512, verbose=0).argmax(1) == y_test))
        print(f"epoch {epoch + 1}: loss {hist.history['loss'][-1]:.3f}, held-out accuracy {acc:.3f} "
              f"({time.time() - t0:.0f} s)", flush=True)  # fmt: skip

    pred = model.predict(x_test, batch_size=512, verbose=0).argmax(1)
    shape_rows = np.isin(words[split["test"]], SHAPES)
    shape_ids = [index[s] for s in SHAPES]
    shape_pred = np.array(shape_ids)[model.predict(x_test[shape_rows], verbose=0)[:, shape_ids].argmax(1)]
    per_word = {w: float(np.mean(pred[y_test == i] == i)) for i, w in enumerate(vocab)}
    report = {
        "words": len(vocab),
        "train_drawings": int(len(x_train)),
        "test_drawings": int(len(x_test)),
        "accuracy_all_words": float(np.mean(pred == y_test)),
        "balanced_accuracy_all_words": float(np.mean(list(per_word.values()))),
        "accuracy_8_shapes_among_all_words": float(np.mean(pred[shape_rows] == y_test[shape_rows])),
        "accuracy_8_shapes_among_themselves": float(np.mean(shape_pred == y_test[shape_rows])),
        "test_drawings_8_shapes": int(shape_rows.sum()),
        "seconds": round(time.time() - started, 1),
        "epochs": args.epochs,
    }
    for key, value in report.items():
        print(f"{key}: {value}")
    store.save_model(
        model,
        args.out,
        {
            "family": "teach-drawing-backbone",
            "kind": "drawing",
            "features_layer": transfer.BACKBONE_FEATURES,
            "features": transfer.DRAWING_FEATURES,
            "input": "(28, 28) float32 in [0, 1], white strokes on black (core.teach_data.decode_drawing)",
            "class_names": vocab,
            "held_out_words": list(transfer.HELD_OUT_WORDS),
            "split": {"seed": transfer.SPLIT_SEED, "test_fraction": transfer.TEST_FRACTION, "by": "drawing"},
            "data": "Quick, Draw! dataset by Google (CC BY 4.0): quickdraw_train.npz + quickdraw_other.npz",
            "command": "python scripts/train_drawing_backbone.py",
            "report": report,
        },
    )
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
