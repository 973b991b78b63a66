"""A tensor's values as the Inspect page shows them, in NumPy: summary statistics, a histogram, a 2-D matrix for the
heatmap, and the difference between two versions' tensors. No model, no files: arrays in, numbers out."""

from __future__ import annotations

import math

import numpy as np

STATS_CHUNK = 2**20  # values summed at a time in float64: 8 MB of temporaries, whatever the tensor's size


def tensor_stats(array: np.ndarray) -> dict:
    """Count, min, max, mean and standard deviation, summed in float64 chunk by chunk (two passes), so a 9 M-value
    kernel never gets a 72 MB float64 copy."""
    a = np.asarray(array).ravel()
    if a.size == 0:
        return {"count": 0, "min": None, "max": None, "mean": None, "std": None}
    chunks = range(0, a.size, STATS_CHUNK)
    mean = sum(float(a[i : i + STATS_CHUNK].sum(dtype=np.float64)) for i in chunks) / a.size
    squares = sum(float(np.square(a[i : i + STATS_CHUNK].astype(np.float64) - mean).sum()) for i in chunks)
    return {
        "count": int(a.size),
        "min": float(a.min()),
        "max": float(a.max()),
        "mean": mean,
        "std": math.sqrt(squares / a.size),
    }


def tensor_histogram(array: np.ndarray, bins: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """(counts, bin edges) of a tensor's finite values (NaN and infinity have no bin; the checks report them)."""
    a = np.asarray(array).ravel()  # float32 stays float32: np.histogram bins it in blocks, with no float64 copy
    finite = np.isfinite(a)
    if not finite.all():
        a = a[finite]
    if a.size == 0:
        return np.zeros(0, dtype=int), np.zeros(1)
    return np.histogram(a, bins=bins)


def tensor_matrix(array: np.ndarray, max_cells: int = 40_000) -> tuple[np.ndarray, str]:
    """A 2-D view for a heatmap and a caption saying how it was laid out.

    A conv kernel (kh, kw, in, out) becomes a mosaic: one kh×kw tile per (input channel row, filter column), separated
    by blank lines. Large matrices are thinned by striding, so the browser never receives millions of cells.
    """
    a = np.asarray(array)  # converted to float64 after thinning, so a large matrix is never copied whole
    if a.ndim == 0:
        matrix, caption = a.reshape(1, 1), "a scalar"
    elif a.ndim == 1:
        matrix, caption = a.reshape(1, -1), f"{a.shape[0]} values in one row"
    elif a.ndim == 2:
        matrix, caption = a, f"rows = {a.shape[0]} inputs, columns = {a.shape[1]} outputs"
    elif a.ndim == 4:
        kh, kw, cin, cout = a.shape
        # One input channel (a first conv layer): wrap the filters into a near-square grid so each tile is visible.
        grid_rows, grid_cols = (
            (math.ceil(cout / math.ceil(math.sqrt(cout))), math.ceil(math.sqrt(cout))) if cin == 1 else (cin, cout)
        )
        matrix = np.full((grid_rows * (kh + 1) - 1, grid_cols * (kw + 1) - 1), np.nan, dtype=np.float32)
        for i in range(cin):
            for o in range(cout):
                r, c = divmod(o, grid_cols) if cin == 1 else (i, o)
                matrix[r * (kh + 1) : r * (kh + 1) + kh, c * (kw + 1) : c * (kw + 1) + kw] = a[:, :, i, o]
        caption = (
            f"one {kh}×{kw} tile per filter ({cout} filters, row by row)"
            if cin == 1
            else f"one {kh}×{kw} tile per input channel (rows, {cin}) and filter (columns, {cout})"
        )
    else:
        matrix, caption = a.reshape(-1, a.shape[-1]), f"flattened to {a.size // a.shape[-1]} × {a.shape[-1]}"
    step = 1
    while matrix[::step, ::step].size > max_cells:
        step += 1
    if step > 1:
        matrix = matrix[::step, ::step]
        caption += f"; every {step}th row and column shown"
    return np.asarray(matrix, dtype=np.float64), caption


def diff_arrays(before: dict[str, np.ndarray], after: dict[str, np.ndarray]) -> list[dict]:
    """Per tensor: the L2 norm of the change, the relative change ‖after − before‖ / ‖before‖, and the largest change."""
    rows = []
    for name in list(before) + [n for n in after if n not in before]:
        a, b = before.get(name), after.get(name)
        row = {"name": name, "shape": list(np.shape(a if a is not None else b))}
        if a is None or b is None or a.shape != b.shape:
            why = "only in the second" if a is None else "only in the first" if b is None else "shapes differ"
            rows.append({**row, "l2_change": None, "relative_change": None, "max_abs_change": None, "note": why})
            continue
        delta = b.astype(np.float64) - a.astype(np.float64)
        change = float(np.linalg.norm(delta))
        norm = float(np.linalg.norm(a.astype(np.float64)))
        rows.append(
            {
                **row,
                "l2_change": change,
                "relative_change": change / norm if norm > 0 else (0.0 if change == 0 else None),
                "max_abs_change": float(np.abs(delta).max()) if delta.size else 0.0,
                "note": "",
            }
        )
    return rows
