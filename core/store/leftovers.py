"""The hidden folders a killed save or delete leaves behind, and their cleaning: only old ones that nobody holds the
lock of, so a save being written now is never touched. The lock a writer holds on its folder is taken here too."""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from pathlib import Path

# Hidden folders a save or a delete leaves when its process is killed midway: `.tmp-<name>-<hex>` (a save's new files)
# and `.deleted-<name>-<hex>` (a delete's folder, renamed away before its slow removal). The old model of a two-step
# replace (`.old-*`) is not here: recover_folder may still need it.
TMP_PREFIX = ".tmp-"
LEFTOVER_PREFIXES = (TMP_PREFIX, ".deleted-")
LEFTOVER_AGE_S = 600.0  # older than any save takes; the lock below is what protects one being written now
_CLEANED: set[str] = set()  # folders this process has cleaned once ("at start": its first look at each)


def hold(folder: Path) -> int:
    """Open `folder` and take its flock; the caller closes the descriptor to let go."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
        os.close(fd)
        raise
    return fd


def _abandoned(path: Path) -> bool:
    """True when nobody writes `path` now: its flock is free (a live writer holds it until it is done)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    finally:
        os.close(fd)  # closing drops the probe's lock
    return True


def clean_leftovers(parent: str | Path, now: float | None = None) -> list[str]:
    """Remove the hidden leftovers of killed saves and deletes in `parent`; returns the names removed.

    Only old ones (LEFTOVER_AGE_S) whose flock is free: a folder being written now is never touched, whatever its age.
    """
    parent = Path(parent)
    now = time.time() if now is None else now
    removed = []
    try:
        children = [c for c in parent.iterdir() if c.name.startswith(LEFTOVER_PREFIXES) and c.is_dir()]
    except OSError:
        return removed
    for child in children:
        try:
            old = now - child.stat().st_mtime > LEFTOVER_AGE_S
        except OSError:
            continue
        if old and _abandoned(child):
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child.name)
    return removed


def clean_leftovers_once(parent: str | Path) -> None:
    """clean_leftovers the first time this process looks at `parent` (a server's or worker's start)."""
    key = str(parent)
    if key not in _CLEANED:
        _CLEANED.add(key)
        clean_leftovers(parent)
