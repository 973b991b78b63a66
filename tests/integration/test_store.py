"""The model store's replace under SIGKILL: a subprocess killed between the steps of a replace leaves the old or the
new model, and every read recovers first."""

import os

import pytest

from core.store import models as store
from tests.helpers.paths import REPO
from tests.helpers.store import tiny_color_model, which


@pytest.fixture
def color_model():
    return tiny_color_model()


KILLER = """
import os, signal, sys
from pathlib import Path
from core.store import models as store
folder, step, exchange = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
model_json = store.read_model_json(folder)
model_json["userDefinedMetadata"]["which"] = "new"
shard = (folder / store.SHARD_NAME).read_bytes()
if not exchange:
    store._exchange = lambda a, b: False
store._STEP_HOOK = lambda name: os.kill(os.getpid(), signal.SIGKILL) if name == step else None
store.write_model_folder(folder, model_json, shard)
"""


@pytest.mark.parametrize(
    "exchange,step,expected",
    [(True, "written", "old"), (True, "exchanged", "new"), (False, "moved-aside", "old"), (False, "moved-in", "new")],
)
def test_sigkill_between_the_steps_of_a_replace_leaves_the_old_or_the_new_model(
    tmp_path, color_model, exchange, step, expected
):
    import signal
    import subprocess
    import sys

    folder = store.save_model(color_model, tmp_path / "m", {"which": "old"})
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(folder), step, "1" if exchange else "0"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    if step == "moved-aside":
        assert not folder.exists()  # the kill came between the renames: only a read can put it back
    assert which(folder) == expected  # every read recovers first
    assert folder.is_dir()
