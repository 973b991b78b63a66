"""SIGKILL during a model save, 10 times: the previous version still loads, no half-written version is listed,
and the SQLite samples are intact."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

from core.store import leftovers, samples
from core.store import models as store
from tests.helpers.paths import HELPERS, REPO


def _biggest_shipped_model():
    folders = [p for p in (REPO / "saved_models").iterdir() if (p / store.SHARD_NAME).is_file()]
    return max(folders, key=lambda p: (p / store.SHARD_NAME).stat().st_size)


def _wait_for_a_save_in_flight(family_dir, models_dir, done_before: int, proc) -> None:
    """Until a save is in flight (its hidden temp folder exists) and at least one more save has finished."""
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        try:
            in_flight = family_dir.is_dir() and any(p.name.startswith(".tmp-") for p in family_dir.iterdir())
            done = len(store.list_versions("colors", models_dir=models_dir))
        except FileNotFoundError:  # a temp folder renamed between the listing and a look inside it
            continue
        if in_flight and done > done_before:
            return
        time.sleep(0.0005)  # poll without starving the writer on a 2-core machine


def test_sigkill_during_save_ten_times(tmp_path):
    source = _biggest_shipped_model()
    models_dir, db = tmp_path / "models", tmp_path / "samples.sqlite3"
    samples.add_drawing(__import__("numpy").zeros((28, 28), "uint8"), "before", path=db)
    kills_mid_save = 0
    for attempt in range(10):
        before = store.list_versions("colors", models_dir=models_dir)
        rows_before = sum(samples.drawing_counts(path=db).values())
        proc = subprocess.Popen(
            [sys.executable, str(HELPERS / "crash_writer.py"), str(source), str(models_dir), str(db)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        family_dir = models_dir / "colors"
        try:
            _wait_for_a_save_in_flight(family_dir, models_dir, len(before), proc)
        finally:  # whatever happens, the writer never outlives its attempt
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        kills_mid_save += int(any(p.name.startswith(".tmp-") for p in family_dir.iterdir()))

        listed = store.list_versions("colors", models_dir=models_dir)
        assert len(listed) >= len(before), f"attempt {attempt}: a finished version disappeared"
        for version in listed:  # every listed version is complete and loads
            model_json = store.read_model_json(version.path)
            store.read_weight_arrays(model_json, {store.SHARD_NAME: (version.path / store.SHARD_NAME).read_bytes()})
        newest = listed[0]
        assert store.load_model(newest.path).model is not None
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
        assert sum(samples.drawing_counts(path=db).values()) >= rows_before
        assert samples.drawing_counts(path=db)["before"] == 1
    assert kills_mid_save >= 5, f"only {kills_mid_save} of 10 kills landed during a save"
    # The killed writers' temp folders, once old, are cleaned: their flocks died with them (issue 25).
    left = {p.name for p in (models_dir / "colors").iterdir() if p.name.startswith(".tmp-")}
    later = time.time() + 2 * leftovers.LEFTOVER_AGE_S
    assert left and left <= set(leftovers.clean_leftovers(models_dir / "colors", now=later))
    assert not any(p.name.startswith(".tmp-") for p in (models_dir / "colors").iterdir())
