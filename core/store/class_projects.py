"""The Teach projects a class's members shared with it, as the class sees them: read-only, with their classes and
sample counts; members only (core.store.access decides who is one)."""

from __future__ import annotations

from dataclasses import dataclass

from core.store import classroom, teach_rows
from core.store.access import my_class


@dataclass(frozen=True)
class SharedProject:
    """A Teach project shared with a class, as its members see it (read-only: its classes and sample counts)."""

    name: str
    nickname: str  # who shared it
    kind: str  # "image", "sound" or "drawing"
    classes: tuple[str, ...]
    samples: tuple[int, ...]  # per class, in the same order
    mine: bool


def _read_project(owner: str, name: str) -> tuple[str, tuple[str, ...], tuple[int, ...]] | None:
    """(kind, classes, samples per class) of a stored project; None when it is gone or damaged."""
    found = teach_rows.class_counts(owner, name)
    if found is None or found[0].classes is None:
        return None
    row, counts = found
    return row.kind, tuple(row.classes), tuple(counts.get(c, 0) for c in row.classes)


def class_projects(owner: str, code: str) -> list[SharedProject]:
    """The Teach projects members shared with the class (while they are members); members only."""
    view = my_class(owner, code)
    found = []
    for row in classroom.shared_projects(view.code):
        read = _read_project(row["owner"], row["project"])
        if read is not None:
            found.append(SharedProject(row["project"], row["nickname"], *read, mine=row["owner"] == owner))
    return found
