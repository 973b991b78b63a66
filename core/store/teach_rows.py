"""Teach projects as rows: a project (owner, name, kind, classes in order) and its samples' bytes as blobs keyed by
sample id. Every change is one transaction that first locks the project's row (SQLite: the file's write lock), so two
app processes adding to one class take turns and both respect its cap. Plain data in and out: the family decides."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select, text, update

from core.store import db
from core.store import schema as t

SAVE_REFUSED = "The project could not be changed: the database refused the write ({why}). Nothing was changed."
READ_REFUSED = "The Teach projects cannot be read from the database ({why})."
_P, _S = t.teach_projects, t.teach_samples
SAMPLE_ID = re.compile(r"^[0-9]{16}-[0-9a-f]{6}$")  # what new_sample_id makes


@dataclass(frozen=True)
class ProjectRow:
    """A project as stored: `key` is its row key, `revision` counts its changes (a cache is fresh at the same one)."""

    key: int
    owner: str
    name: str
    kind: str
    classes: list[str] | None  # None: the stored list is damaged
    created: str
    revision: int


@dataclass(frozen=True)
class ClassChange:
    """What a change of classes does: the new list in order, a class renamed (old, new), a class removed."""

    classes: list[str]
    renamed: tuple[str, str] | None = None
    removed: str | None = None


class Refused(Exception):
    """A new project the store refuses (not an error of the store: the family says why in its own words)."""


class Taken(Refused):
    """The owner has a project of that name already."""


class TooMany(Refused):
    """The owner has the most projects allowed."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


_last_id = [0]
_id_lock = threading.Lock()


def new_sample_id() -> str:
    """A sample id that sorts by creation time: microseconds, strictly increasing in this process, + a random tag
    (two processes' ids differ in the tag)."""
    with _id_lock:
        _last_id[0] = max(time.time_ns() // 1000, _last_id[0] + 1)
        return f"{_last_id[0]:016d}-{uuid.uuid4().hex[:6]}"


def _row(found) -> ProjectRow:
    key, owner, name, kind, classes, created, revision = found
    try:
        names = json.loads(classes)
        names = [str(c) for c in names] if isinstance(names, list) else None
    except ValueError:
        names = None
    return ProjectRow(int(key), owner, name, kind, names, created, int(revision))


_COLUMNS = (_P.c.id, _P.c.owner, _P.c.name, _P.c.kind, _P.c.classes, _P.c.created, _P.c.revision)


def _find(connection: Connection, owner: str, name: str, lock: bool = False) -> ProjectRow | None:
    """The project's row; with `lock`, held until the transaction ends (PostgreSQL: FOR UPDATE; SQLite's write
    transaction holds the whole file already)."""
    statement = select(*_COLUMNS).where(_P.c.owner == owner, _P.c.name == name)
    found = connection.execute(statement.with_for_update() if lock else statement).first()
    return None if found is None else _row(found)


def _bump(connection: Connection, key: int) -> None:
    connection.execute(update(_P).where(_P.c.id == key).values(revision=_P.c.revision + 1))


def _owner_lock(connection: Connection, owner: str) -> None:
    """PostgreSQL: one project creation per owner at a time (the cap is counted, then a row added)."""
    if connection.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"teach:{owner}".encode()).digest()[:8], "big", signed=True)
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


# ---------------------------------------------------------------- reads


def names(owner: str) -> list[str]:
    """The owner's project names, sorted."""
    with db.reading(None, READ_REFUSED) as connection:
        return sorted(connection.execute(select(_P.c.name).where(_P.c.owner == owner)).scalars())


def find(owner: str, name: str) -> ProjectRow | None:
    with db.reading(None, READ_REFUSED) as connection:
        return _find(connection, owner, name)


def index(owner: str, name: str) -> tuple[ProjectRow, list[tuple[str, str, str]]] | None:
    """The project and its samples as (id, class, suffix), oldest first, in one snapshot; no bytes are read."""
    with db.reading(None, READ_REFUSED) as connection:
        row = _find(connection, owner, name)
        if row is None:
            return None
        found = connection.execute(
            select(_S.c.id, _S.c.class_name, _S.c.suffix).where(_S.c.project == row.key).order_by(_S.c.id)
        ).all()
    return row, [tuple(r) for r in found]


def sample_bytes(key: int, ids: list[str]) -> dict[str, bytes]:
    """{sample id: bytes} of the project's samples among `ids` (a sample deleted meanwhile is left out)."""
    out: dict[str, bytes] = {}
    with db.reading(None, READ_REFUSED) as connection:
        for start in range(0, len(ids), 200):  # a bounded IN list; 200 samples of at most 5 MB at a time
            chunk = ids[start : start + 200]
            rows = connection.execute(select(_S.c.id, _S.c.data).where(_S.c.project == key, _S.c.id.in_(chunk)))
            out.update({sample_id: bytes(data) for sample_id, data in rows})
    return out


def class_counts(owner: str, name: str) -> tuple[ProjectRow, dict[str, int]] | None:
    """The project and how many samples each class name holds."""
    with db.reading(None, READ_REFUSED) as connection:
        row = _find(connection, owner, name)
        if row is None:
            return None
        found = connection.execute(
            select(_S.c.class_name, func.count()).where(_S.c.project == row.key).group_by(_S.c.class_name)
        ).all()
    return row, {c: int(n) for c, n in found}


# ---------------------------------------------------------------- writes, each one transaction


def create(owner: str, name: str, kind: str, classes: list[str], created: str, max_projects: int) -> ProjectRow:
    """A new project with no samples; Taken or TooMany (and nothing stored) otherwise."""
    try:
        with db.writing(None, SAVE_REFUSED) as connection:
            _owner_lock(connection, owner)
            if _find(connection, owner, name) is not None:
                raise Taken(name)
            have = connection.execute(select(func.count()).select_from(_P).where(_P.c.owner == owner)).scalar()
            if int(have or 0) >= max_projects:
                raise TooMany(name)
            row = {"owner": owner, "name": name, "kind": kind, "classes": json.dumps(classes), "created": created}
            connection.execute(insert(_P).values(**row, revision=1))
            made = _find(connection, owner, name)
    except db.DatabaseError as error:
        if "UNIQUE" in str(error) or "duplicate" in str(error):  # made by another process between look and insert
            raise Taken(name) from None
        raise
    assert made is not None
    return made


def change_classes(owner: str, name: str, decide: Callable[[ProjectRow], ClassChange | None]) -> ProjectRow | None:
    """Change the project's classes as `decide` says, given the locked row (it raises to refuse; None: no change).
    A rename moves the class's samples with it; a removal deletes them. None when the project is gone."""
    with db.writing(None, SAVE_REFUSED) as connection:
        row = _find(connection, owner, name, lock=True)
        if row is None:
            return None
        change = decide(row)
        if change is None:
            return row
        if change.renamed is not None:
            old, new = change.renamed
            connection.execute(update(_S).where(_S.c.project == row.key, _S.c.class_name == old).values(class_name=new))
        if change.removed is not None:
            connection.execute(delete(_S).where(_S.c.project == row.key, _S.c.class_name == change.removed))
        connection.execute(update(_P).where(_P.c.id == row.key).values(classes=json.dumps(change.classes)))
        _bump(connection, row.key)
        return _find(connection, owner, name)


def add_samples(
    owner: str, name: str, class_name: str, files: list[bytes], suffix: str, room: Callable[[ProjectRow, int], int]
) -> tuple[ProjectRow, list[str]] | None:
    """Add the first `room(row, have)` of `files` to the class, checked and inserted in one transaction on the
    locked row (`have`: the class's samples now; `room` raises to refuse). Returns the row and the new ids, oldest
    first; None when the project is gone. All or nothing: a refused insert keeps none of them."""
    with db.writing(None, SAVE_REFUSED) as connection:
        row = _find(connection, owner, name, lock=True)
        if row is None:
            return None
        have = connection.execute(
            select(func.count()).select_from(_S).where(_S.c.project == row.key, _S.c.class_name == class_name)
        ).scalar()
        keep = files[: max(0, room(row, int(have or 0)))]
        ids = [new_sample_id() for _ in keep]
        created = _now()
        for sample_id, data in zip(ids, keep):  # one statement each: a refusal names no other sample's bytes
            values = {"id": sample_id, "project": row.key, "class_name": class_name, "suffix": suffix}
            connection.execute(insert(_S).values(**values, data=data, created=created))
        if ids:
            _bump(connection, row.key)
    return row, ids


def delete_sample(owner: str, name: str, class_name: str, sample_id: str) -> bool | None:
    """Delete one sample of the class; False when it is not there, None when the project is gone."""
    with db.writing(None, SAVE_REFUSED) as connection:
        row = _find(connection, owner, name, lock=True)
        if row is None:
            return None
        gone = connection.execute(
            delete(_S).where(_S.c.project == row.key, _S.c.class_name == class_name, _S.c.id == sample_id)
        ).rowcount
        if gone:
            _bump(connection, row.key)
    return bool(gone)


def delete_project(owner: str, name: str) -> bool:
    """Delete the project, its samples and its class share in one transaction; False when there was none."""
    with db.writing(None, SAVE_REFUSED) as connection:
        row = _find(connection, owner, name, lock=True)
        if row is None:
            return False
        connection.execute(delete(_S).where(_S.c.project == row.key))
        connection.execute(delete(_P).where(_P.c.id == row.key))
        shared = t.shared_projects.c
        connection.execute(delete(t.shared_projects).where(shared.owner == owner, shared.project == name))
    return True


def import_project(
    owner: str, name: str, kind: str, classes: list[str], created: str, samples: list[tuple[str, str, str, bytes]]
) -> bool:
    """Store a whole project with its samples (id, class, suffix, bytes) in one transaction; False (and nothing
    added) when the owner has a project of that name already. A sample id another project holds gets a new one."""
    with db.writing(None, SAVE_REFUSED) as connection:
        if _find(connection, owner, name) is not None:
            return False
        row = {"owner": owner, "name": name, "kind": kind, "classes": json.dumps(classes), "created": created}
        connection.execute(insert(_P).values(**row, revision=1))
        made = _find(connection, owner, name)
        assert made is not None
        for sample_id, class_name, suffix, data in samples:
            taken = connection.execute(select(_S.c.id).where(_S.c.id == sample_id)).first() is not None
            if taken or not SAMPLE_ID.match(sample_id):
                sample_id = new_sample_id()
            values = {"id": sample_id, "project": made.key, "class_name": class_name, "suffix": suffix}
            connection.execute(insert(_S).values(**values, data=data, created=created or _now()))
    return True
