"""Crash-safety helper process: saves model versions and sample rows in a loop until it is killed.

Run by tests/test_crash_safety.py, which SIGKILLs it while a save is in flight.
"""

import sys
from pathlib import Path

import numpy as np

from core import samples, store

source, models_dir, db = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
model_json = store.read_model_json(source)
shard = (source / store.SHARD_NAME).read_bytes()
i = 0
while True:
    i += 1
    model_json["userDefinedMetadata"] = {"family": "colors", "run": i}
    store.write_model_folder(models_dir / "colors" / f"20990101-{i:06d}-crash", model_json, shard)
    samples.add_drawing(np.full((28, 28), i % 256, np.uint8), "crash", path=db)
    print(i, flush=True)
