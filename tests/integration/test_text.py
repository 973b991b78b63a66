"""The text family in subprocesses: `python -m core train text` on a tiny corpus keeps the best epoch's weights, and
its modules import no Streamlit."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np

from core.families.text import model as T
from tests.helpers.text import CORPUS


def test_train_cli_tiny_keeps_the_best_epoch(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(CORPUS, encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "core", "train", "text", "--corpus", str(path), "--preset", "tiny", "--epochs", "3"]
        + ["--out", str(out), "--seed", "5"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    loaded, vocab = T.load_text_model(out)
    meta = loaded.metadata
    assert len(meta["history"]["val_loss"]) == 3
    assert result["best_epoch"] == int(np.argmin(meta["history"]["val_loss"])) + 1
    assert meta["config"]["seed"] == 5 and meta["config"]["preset"] == "tiny"
    # the saved weights are the best epoch's: evaluating the validation tail reproduces its loss
    val = T.split_corpus(CORPUS, 0.1)[1]
    scored = T.evaluate_text(loaded.model, vocab, val, meta["config"]["seq_length"])
    assert math.isclose(scored["loss_nats_per_char"], result["val_loss_nats_per_char"], rel_tol=1e-3)


def test_core_text_does_not_import_streamlit():
    code = "import core.families.text.model, core.families.text.figures, sys; print('streamlit' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "False"
