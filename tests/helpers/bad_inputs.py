"""The bad-input sweep's world (tests/unit/test_bad_inputs.py for core and the CLI, tests/apptest/test_bad_inputs.py
for the pages): the data every case starts from, and the two checks every case ends with — a plain message with no
traceback text in it, and nothing lost (the user's label, drawing and version; the shipped model files)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from core.store import models as store
from core.store import samples
from tests.helpers.paths import REPO

TRACEBACK = re.compile(r'Traceback \(most recent call last\)|File "[^"]+", line \d+|^\s+raise ', re.M)


@lru_cache(maxsize=1)
def shipped_colors():
    return store.load_model(store.shipped_model_dir("colors"))


def shipped_digest() -> dict[str, tuple[int, int, int]]:
    """Size, modification time (ns) and inode of every file of every shipped model: a bad input must never touch
    them. Any write changes the time, any replacement the inode; hashing the ~20 MB of weights twice per case instead
    cost the sweep ~9 s."""
    out = {}
    for path in sorted((REPO / "saved_models").rglob("*")):
        if path.is_file():
            st = path.stat()
            out[str(path.relative_to(REPO))] = (st.st_size, st.st_mtime_ns, st.st_ino)
    return out


@dataclass
class Env:
    tmp: Path
    capsys: pytest.CaptureFixture
    mp: pytest.MonkeyPatch
    version: store.Version
    version_files: dict  # the version folder's bytes (sha256 per file), as saved


def folder_digest(folder: Path) -> dict[str, str]:
    return {
        str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(Path(folder).rglob("*"))
        if f.is_file()
    }


def snapshot() -> dict:
    return {
        "colors": samples.color_labels(),
        "drawings": [(i, lab, img.tobytes()) for i, img, lab, _ in samples.drawings()],
        "versions": [v.version_id for v in store.list_versions("colors")],
    }


@contextmanager
def sweep_env(tmp_path: Path, capsys: pytest.CaptureFixture) -> Iterator[Env]:
    """Data a careless handler could lose: a colour label, a drawing, a user version of the colour model (in the
    test's own user-data folder: the `user_data` fixture must come first)."""
    samples.add_color_label((20, 200, 30), "green")
    img = np.zeros((28, 28), np.uint8)
    img[6:22, 6:22] = 255
    samples.add_drawing(img, "square")
    version = store.save_version(shipped_colors().model, "colors", "before", {"owner": "someone-else"})
    mp = pytest.MonkeyPatch()
    try:
        yield Env(tmp_path, capsys, mp, version, folder_digest(version.path))
    finally:
        mp.undo()


def assert_nothing_lost(env: Env, before: dict, shipped_before: dict) -> None:
    env.mp.undo()  # a case may point settings at a broken place; the check reads the real ones
    assert snapshot() == before
    # The user's version is byte for byte as saved (loading it into Keras for every case cost the sweep ~8 s; one
    # test below loads it and checks its predictions).
    assert folder_digest(env.version.path) == env.version_files
    assert store.load_model(store.shipped_model_dir("colors")).metadata.get("class_names")
    assert shipped_digest() == shipped_before


def check_message(message: str, expect: str) -> None:
    assert message, "the bad input was accepted silently"
    assert expect.lower() in message.lower(), f"{expect!r} not in {message!r}"
    assert not TRACEBACK.search(message), message
