"""`python -m core experiment vector-search` in a subprocess: one JSON object, and a plain error for an unknown concept."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers.paths import REPO


def test_experiment_cli_prints_json(user_data):
    cmd = [sys.executable, "-m", "core", "experiment", "vector-search", "--pool", "colors", "--concept", "teal"]
    done = subprocess.run(
        [*cmd, "--budget", "23", "--pool-size", "400", "--target", "0.5"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    assert set(out["strategies"]) == {"vector_search", "vector_search_top", "random"}
    assert out["strategies"]["random"]["curve"]["labels"] == [3, 8, 13, 18, 23]  # rounds of 5 after 3 seed clicks
    assert out["over_seeds"]["seeds"] == [0, 1, 2, 3, 4]  # 5 seeds unless --seeds says otherwise
    assert set(out["over_seeds"]["spread"]["vector_search"]) == {"mean", "sd", "min", "max", "reached"}
    bad = subprocess.run([*cmd[:-1], "mauve"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "Unknown concept" in bad.stderr
