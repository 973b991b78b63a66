"""The Colors page's JavaScript forward pass itself, under Node, against Keras; and the live view's modules import no
Streamlit (each in a subprocess)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from core.families.colors import live as colors_live
from core.families.colors import model as colors
from tests.helpers.colors_live import MODELS, probe_colours


@MODELS
def test_the_javascript_itself_under_node_equals_keras(model):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    w = colors.forward_weights(model())
    rgb = probe_colours()
    script = (
        colors_live.FORWARD_JS
        + "const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        + "process.stdout.write(JSON.stringify(input.rgb.map((c) => forwardColor(input.w, c))));"
    )
    run = subprocess.run(
        [node, "-e", script], input=json.dumps({"w": w, "rgb": rgb.tolist()}), capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    keras_logits, keras_probs = colors.predict_logits_proba(model(), rgb)
    assert len(out) == len(rgb)
    np.testing.assert_allclose([o["logits"] for o in out], keras_logits, atol=1e-5)
    np.testing.assert_allclose([o["probs"] for o in out], keras_probs, atol=1e-5)
    hidden = colors.embed_colors(model(), rgb)
    np.testing.assert_allclose([o["hidden"] for o in out], hidden, atol=1e-5)


def test_new_modules_do_not_import_streamlit():
    code = "import core.families.colors.live, core.families.colors.figures, sys; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
