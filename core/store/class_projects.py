"""The Teach projects a class's members shared with it, as the class sees them: read-only, with their classes and
sample counts; members only (core.store.access decides who is one)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.store import classroom
from core.store.access import TEACH_PROJECT_JSON, my_class, teach_project_dir


@dataclass(frozen=True)
class SharedProject:
    """A Teach project shared with a class, as its members see it (read-only: its classes and sample counts)."""

    name: str
    nickname: str  # who shared it
    kind: str  # "image", "sound" or "drawing"
    classes: tuple[str, ...]
    samples: tuple[int, ...]  # per class, in the same order
    mine: bool


def _read_project(folder: Path) -> tuple[str, tuple[str, ...], tuple[int, ...]] | None:
    """(kind, classes, samples per class) of a project folder; None when it is gone or unreadable."""
    try:
        meta = json.loads((folder / TEACH_PROJECT_JSON).read_text())
        classes = tuple(str(c) for c in meta["classes"])
        counts = tuple(
            sum(1 for f in (folder / c).iterdir() if not f.name.startswith(".")) if (folder / c).is_dir() else 0
            for c in classes
        )
        return str(meta["kind"]), classes, counts
    except (OSError, ValueError, KeyError, TypeError):
        return None


def class_projects(owner: str, code: str) -> list[SharedProject]:
    """The Teach projects members shared with the class (while they are members); members only."""
    view = my_class(owner, code)
    found = []
    for row in classroom.shared_projects(view.code):
        read = _read_project(teach_project_dir(row["owner"], row["project"]))
        if read is not None:
            found.append(SharedProject(row["project"], row["nickname"], *read, mine=row["owner"] == owner))
    return found
