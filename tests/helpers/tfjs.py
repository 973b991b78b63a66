"""Loading a model folder in real @tensorflow/tfjs under Node (tfjs_check.js), for the TF.js export checks.
scripts/test.sh installs @tensorflow/tfjs (package.json pins 4.22.0)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np

from tests.helpers.paths import HELPERS, REPO

NODE = shutil.which("node")
TFJS_INSTALLED = (REPO / "node_modules" / "@tensorflow" / "tfjs").is_dir()
TOLERANCE = 1e-4  # the bound on |TF.js − Keras|


def run_tfjs(folder: Path, x: np.ndarray, tmp_path: Path, *flags: str) -> np.ndarray:
    spec = tmp_path / f"{folder.name}-inputs.json"
    dtype = "int32" if x.dtype.kind in "iu" else "float32"
    spec.write_text(json.dumps({"shape": list(x.shape), "dtype": dtype, "data": x.ravel().tolist()}))
    proc = subprocess.run(
        [NODE, str(HELPERS / "tfjs_check.js"), *flags, str(folder), str(spec)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"TF.js could not load {folder}:\n{proc.stderr[-3000:]}"
    out = json.loads(proc.stdout)
    return np.asarray(out["data"], dtype=np.float64).reshape(out["shape"])
