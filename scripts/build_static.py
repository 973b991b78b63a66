"""Rebuild static/ (served at app/static/): TensorFlow.js' browser bundle from node_modules and the shipped shapes
model in the TF.js layers format, written by the store's own exporter. Run from the repository root:

    python scripts/build_static.py

tests/unit/test_draw_live.py fails when the served copies drift from saved_models/ or from the pinned TF.js.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from core.settings import SHIPPED_MODELS_DIR  # noqa: E402
from core.store.export import export_tfjs  # noqa: E402

STATIC = REPO / "static"
TFJS_DIST = REPO / "node_modules" / "@tensorflow" / "tfjs"


def main() -> int:
    pinned = json.loads((REPO / "package.json").read_text())["dependencies"]["@tensorflow/tfjs"]
    installed = json.loads((TFJS_DIST / "package.json").read_text())["version"]
    if installed != pinned:
        print(f"node_modules has @tensorflow/tfjs {installed}, package.json pins {pinned}: run npm ci", file=sys.stderr)
        return 2
    (STATIC / "tfjs").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(TFJS_DIST / "dist" / "tf.min.js", STATIC / "tfjs" / "tf.min.js")
    report = export_tfjs(SHIPPED_MODELS_DIR / "shapes", STATIC / "models" / "shapes")
    print(json.dumps({"tfjs": installed, "shapes": report["outdir"], "bytes": report["bytes"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
