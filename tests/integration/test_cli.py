"""The command line end to end: `python -m core` as a module in a subprocess, and a real `train colors --out` (5 folds
and a full fit) that leaves the shipped model alone."""

import json
import subprocess
import sys

from tests.helpers.cli import run_cli
from tests.helpers.paths import REPO


def test_train_colors_to_out_leaves_shipped_model_alone(tmp_path, capsys):
    shipped = (REPO / "saved_models/colors/model.json").read_bytes()
    code, out, _ = run_cli(capsys, "train", "colors", "--epochs", "2", "--out", str(tmp_path / "c"), "--seed", "1")
    assert code == 0, out
    report = json.loads(out)
    assert (
        report["out"] == str(tmp_path / "c")
        and 0 <= report["heldout_accuracy"] <= 1
        and report["heldout_people"] == 113
    )
    assert (tmp_path / "c" / "model.json").is_file()
    assert (REPO / "saved_models/colors/model.json").read_bytes() == shipped


def test_cli_runs_as_a_module():
    proc = subprocess.run([sys.executable, "-m", "core", "--help"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0
    for command in ("train", "evaluate", "inspect", "export", "experiment"):
        assert command in proc.stdout
