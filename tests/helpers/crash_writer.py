"""Crash-safety helper process: saves model versions and sample rows in a loop until it is killed.

Run by tests/slow/test_crash_safety.py, which SIGKILLs it while a save is in flight. Bounded all the same (saves, time,
and its parent being alive): an orphaned writer once filled a disk with 74 GB of versions.
"""

import os
import sys
import time
from pathlib import Path

import numpy as np

from core.store import blobs, samples
from core.store import models as store

source, models_dir, db = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
model_json = store.read_model_json(source)
shard = (source / store.SHARD_NAME).read_bytes()
MAX_SAVES, MAX_SECONDS = 300, 120
parent, started = os.getppid(), time.monotonic()
i = 0
while i < MAX_SAVES and time.monotonic() - started < MAX_SECONDS and os.getppid() == parent:
    i += 1
    model_json["userDefinedMetadata"] = {"family": "colors", "run": i}
    folder = store.write_model_folder(models_dir / "colors" / f"20990101-{i:06d}-crash", model_json, shard)
    blobs.put_folder("colors", folder.name, folder)  # listed from here on: its rows are all in, or none is
    samples.add_drawing(np.full((28, 28), i % 256, np.uint8), "crash", path=db)
    print(i, flush=True)
