"""The shapes model's answer, "none of these" included: the rejection threshold, its tuning on held-out drawings,
and the one-line and per-class summaries of what the model was measured on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.families.shapes.data import OTHER


def answer(probs: np.ndarray, class_names: list[str], min_confidence: float) -> np.ndarray:
    """The model's answer per drawing, as a class index: the most likely class, or OTHER's index when OTHER wins
    or when no class reaches `min_confidence`. (C,) -> scalar array, (B, C) -> (B,)."""
    p = np.asarray(probs, dtype=np.float64)
    top = p.argmax(axis=-1)
    if OTHER not in class_names:
        return top
    other = class_names.index(OTHER)
    return np.where(p.max(axis=-1) < min_confidence, other, top)


NONE_OF_THESE = "none of these"  # how the OTHER output is shown to people


def display_names(class_names: list[str]) -> list[str]:
    """Class names as a page shows them: OTHER reads "none of these"."""
    return [NONE_OF_THESE if n == OTHER else n for n in class_names]


@dataclass(frozen=True)
class Verdict:
    index: int  # the answer's class index (OTHER's index for "none of these")
    name: str  # the answer as shown: a class name or NONE_OF_THESE
    confidence: float  # the top class's probability
    rejected: bool  # True when the answer is "none of these"
    message: str  # one sentence for the page


def verdict(probs: np.ndarray, class_names: list[str], min_confidence: float) -> Verdict:
    """What the Draw page says about one drawing's probabilities (C,)."""
    p = np.asarray(probs, dtype=np.float64)
    top = int(p.argmax())
    index = int(answer(p, class_names, min_confidence))
    if OTHER in class_names and index == class_names.index(OTHER):
        best = max((i for i, n in enumerate(class_names) if n != OTHER), key=lambda i: p[i])
        why = (
            f"it looks most like the drawings of other things it learned from ({p[top]:.0%})"
            if class_names[top] == OTHER
            else f"its best guess, {class_names[best]}, is only {p[best]:.0%} sure"
        )
        return Verdict(index, NONE_OF_THESE, float(p[top]), True, f"None of the shapes I know: {why}.")
    return Verdict(index, class_names[index], float(p[index]), False, f"It looks like a {class_names[index]}.")


def measured_summary(metadata: dict | None) -> str:
    """One line: what the model was trained on and how it scored on held-out real drawings (with the counts)."""
    m = (metadata or {}).get("metrics") or {}
    if m.get("heldout_main_accuracy") is None:
        return "This model has no figure measured on held-out real drawings."
    counts = m.get("heldout_counts") or {}
    n_main = sum(counts.get(c, 0) for c in ("circle", "square", "triangle", "star"))
    line = (
        f"Trained on real Quick, Draw! drawings (Google, CC BY 4.0). On {n_main:,} held-out real drawings of circle, "
        f"square, triangle and star it is right {m['heldout_main_accuracy']:.1%} of the time"
    )
    if m.get("heldout_other_rejected") is not None:
        line += (
            f"; it says “none of these” for {m['heldout_other_rejected']:.0%} of {m.get('heldout_n_other', 0):,} "
            "drawings of words it never saw"
        )
    return line + "."


def heldout_table(metadata: dict | None) -> list[dict]:
    """Rows (class, real drawings in all, held out, recall on them) from a model's metadata, for the page."""
    meta = metadata or {}
    m = meta.get("metrics") or {}
    per_class, counts, real = (
        m.get("heldout_per_class") or {},
        m.get("heldout_counts") or {},
        meta.get("real_counts") or {},
    )
    rows = [
        {
            "class": name,
            "real drawings": real.get(name, 0),
            "held out": counts.get(name, 0),
            "recall on them": None if recall is None else round(recall, 3),
        }
        for name, recall in per_class.items()
    ]
    if m.get("heldout_other_rejected") is not None:
        rows.append(
            {
                "class": NONE_OF_THESE,
                "real drawings": real.get(OTHER, 0),
                "held out": m.get("heldout_n_other", 0),
                "recall on them": round(m["heldout_other_rejected"], 3),
            }
        )
    return rows


def min_confidence_for(metadata: dict | None) -> float:
    """The rejection threshold a model was shipped with (0: only the OTHER output rejects)."""
    return float(((metadata or {}).get("rejection") or {}).get("min_confidence", 0.0))


MAIN_CLASSES = ("circle", "square", "triangle", "star")  # the classes with thousands of real drawings


def tune_min_confidence(probs: np.ndarray, y: np.ndarray, class_names: list[str], max_loss: float = 0.005) -> float:
    """The rejection threshold that rejects the most held-out "other" drawings while costing the in-class
    drawings at most `max_loss` accuracy against no threshold (chosen on validation data, never on a test)."""
    other = class_names.index(OTHER)
    in_class = y != other
    base = float((answer(probs[in_class], class_names, 0.0) == y[in_class]).mean())
    best, best_rejected = 0.0, -1.0
    for t in np.round(np.arange(0.0, 0.96, 0.05), 2):
        acc = float((answer(probs[in_class], class_names, t) == y[in_class]).mean())
        rejected = float((answer(probs[~in_class], class_names, t) == other).mean()) if (~in_class).any() else 0.0
        if acc >= base - max_loss and rejected > best_rejected:
            best, best_rejected = float(t), rejected
    return best
