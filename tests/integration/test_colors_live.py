"""The Colors page's JavaScript forward pass itself, under Node, against Keras; and the live view's modules import no
Streamlit (each in a subprocess)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from core import maths
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


def test_the_three_ways_javascript_under_node_equals_the_python():
    """softmaxT, divideBySum and explainDivideBySum against core.maths.softmax and the model's divide_by_sum /
    explain_divide_by_sum, on logits that take every branch: ties, T = 0, a sum of zero, a negative sum, cancelling."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    rng = np.random.default_rng(4)
    cases = [rng.normal(0, 3, 9).tolist() for _ in range(40)]
    cases += [[1.0] * 9, [2.0, 2.0, -1, 0, 0, 0, 0, 0, 0], [1.0, -1.0, 0, 0, 0, 0, 0, 0, 0]]
    cases += [[-3.0, -1, -2, -0.5, -4, -1, -2, -3, -1], [5.0, -4.9, 0.3, 0, 0, 0, 0, 0, 0]]
    temps = [0.0, 0.05, 1.0, 2.5, 5.0]
    script = (
        colors_live.SOFTMAX_JS
        + "const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        + "process.stdout.write(JSON.stringify(input.cases.map((z) => ({"
        + "  soft: input.temps.map((t) => softmaxT(z, t)), sum: divideBySum(z), why: explainDivideBySum(z) }))));"
    )
    run = subprocess.run(
        [node, "-e", script], input=json.dumps({"cases": cases, "temps": temps}), capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert len(out) == len(cases)
    for z, got in zip(cases, out):
        for t, soft in zip(temps, got["soft"]):
            np.testing.assert_allclose(soft, maths.softmax(z, t), atol=1e-12)
        values, warning = colors.divide_by_sum(z)
        if values is None:
            assert got["sum"]["values"] is None and got["sum"]["warning"] == warning
        else:
            np.testing.assert_allclose(got["sum"]["values"], values, rtol=1e-12)
        assert got["why"] == colors.explain_divide_by_sum(z)
