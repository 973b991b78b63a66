"""User-gathered samples in one SQLite database (WAL mode): colour labels and drawings, with export helpers.

Every sample belongs to an owner (core.identity's owner id; "" for the command line) and is private to them unless
they add it to a class (core.classroom), which pools its members' shared samples. Reads with `owner=None` see every
owner's samples (the command line and tests); the pages always pass the user's owner."""

from __future__ import annotations

import datetime as dt
import io
import re
import sqlite3
from pathlib import Path

import numpy as np

from core.settings import get_settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS color_labels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    r INTEGER NOT NULL CHECK (r BETWEEN 0 AND 255),
    g INTEGER NOT NULL CHECK (g BETWEEN 0 AND 255),
    b INTEGER NOT NULL CHECK (b BETWEEN 0 AND 255),
    label TEXT NOT NULL,
    created_at TEXT NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    class_code TEXT NOT NULL DEFAULT ''   -- the class it is shared with ('' private)
);
CREATE TABLE IF NOT EXISTS drawings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    image BLOB NOT NULL,          -- 28*28 uint8, white strokes on black
    label TEXT NOT NULL,
    created_at TEXT NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    class_code TEXT NOT NULL DEFAULT ''
);
"""
# Databases written before samples had owners get the two columns (their rows belong to "", the command line's).
MIGRATIONS = [
    (table, column, f"ALTER TABLE {table} ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")
    for table in ("color_labels", "drawings")
    for column in ("owner", "class_code")
]
IMAGE_SHAPE = (28, 28)


class SampleStoreError(RuntimeError):
    """The sample database cannot be opened or written; the message says why in plain words."""


_ABSOLUTE_PATH = re.compile(r"""(?:[A-Za-z]:)?[/\\][^\s'",;:()]+""")  # what a path looks like in an error's text


def plain_db_error(exc: BaseException) -> str:
    """An error of the database in words a user can read, with no file path in it (a path tells an attacker where
    the server keeps its data, and the user nothing): the system's reason for an OSError, sqlite's own short text."""
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return _ABSOLUTE_PATH.sub("…", str(exc)).strip() or type(exc).__name__


def _damaged(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.DatabaseError) and ("malformed" in text or "not a database" in text)


DAMAGED = (
    "The sample database is damaged ({why}), so the saved colour labels and drawings cannot be read or changed "
    "now. The rest of the page works; whoever runs this server can repair the file (sqlite3's .recover)."
)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# (database, inode) pairs whose schema this process has made: later opens skip it (a page's access checks open the
# database several times a run; the schema and its migrations took half of each open).
_READY: set[tuple[str, int]] = set()


def file_key(path: Path) -> tuple[str, int] | None:
    """(path, inode) of an existing database file, else None: a replaced or deleted file is a new database."""
    try:
        return str(path), path.stat().st_ino
    except OSError:
        return None


def connect(path: str | Path | None = None) -> sqlite3.Connection:
    """Open (creating if needed) the sample database in WAL mode."""
    path = Path(path or get_settings().database)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=10)
        conn.execute("PRAGMA synchronous=NORMAL")
        if file_key(path) not in _READY:
            conn.execute("PRAGMA journal_mode=WAL")  # kept in the file: once per database
            conn.executescript(SCHEMA)
            for table, column, sql in MIGRATIONS:
                if column not in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
                    conn.execute(sql)
            _READY.add(file_key(path))
    except (sqlite3.Error, OSError) as exc:
        if isinstance(exc, sqlite3.Error) and _damaged(exc):
            raise SampleStoreError(DAMAGED.format(why=plain_db_error(exc))) from None
        raise SampleStoreError(f"The sample database cannot be opened or written ({plain_db_error(exc)}).") from None
    return conn


def _write(path, sql: str, params: tuple) -> int:
    try:
        conn = connect(path)
        try:
            with conn:
                cur = conn.execute(sql, params)
        finally:
            conn.close()
        return int(cur.lastrowid or cur.rowcount)
    except sqlite3.Error as exc:
        if _damaged(exc):
            raise SampleStoreError(DAMAGED.format(why=plain_db_error(exc))) from None
        raise SampleStoreError(
            f"The sample could not be saved: the database refused the write ({plain_db_error(exc)})."
        ) from None


def _read(path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.Error as exc:  # a damaged page, a locked file: plain words, never sqlite's exception on a page
        if _damaged(exc):
            raise SampleStoreError(DAMAGED.format(why=plain_db_error(exc))) from None
        raise SampleStoreError(f"The sample database cannot be read ({plain_db_error(exc)}).") from None
    finally:
        conn.close()


# ---------------------------------------------------------------- colour labels


def check_label(label) -> str:
    """A label of 1 to MLX_MAX_TYPED_CHARS characters of text: checked here too, whatever the widget allowed."""

    limit = get_settings().max_typed_chars
    if not isinstance(label, str) or not label.strip():
        raise ValueError("A label must be some text, such as 'red' or 'circle'.")
    if len(label) > limit:
        raise ValueError(f"A label is at most {limit} characters long (this one has {len(label):,}).")
    return label


def _mine(owner: str | None, where: str = "") -> tuple[str, tuple]:
    """The WHERE clause (and its parameters) for one owner's rows, or every row when owner is None."""
    clauses = ([where] if where else []) + (["owner = ?"] if owner is not None else [])
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", (owner,) if owner is not None else ()


def add_color_label(rgb: tuple[int, int, int], label: str, path=None, owner: str = "") -> int:
    label = check_label(label)
    try:
        r, g, b = (int(v) for v in rgb)
    except (TypeError, ValueError):  # NaN, text or the wrong number of values: the same plain message
        raise ValueError("R, G and B must each be whole numbers between 0 and 255.") from None
    if not all(0 <= v <= 255 for v in (r, g, b)):
        raise ValueError("R, G and B must each be between 0 and 255.")
    return _write(
        path,
        "INSERT INTO color_labels (r, g, b, label, created_at, owner) VALUES (?, ?, ?, ?, ?, ?)",
        (r, g, b, label, _now(), str(owner)),
    )


def color_labels(path=None, owner: str | None = None) -> list[tuple[int, int, int, str]]:
    where, params = _mine(owner)
    return [tuple(row) for row in _read(path, f"SELECT r, g, b, label FROM color_labels{where} ORDER BY id", params)]


def color_label_counts(path=None, owner: str | None = None) -> dict[str, int]:
    where, params = _mine(owner)
    return dict(_read(path, f"SELECT label, COUNT(*) FROM color_labels{where} GROUP BY label ORDER BY label", params))


def export_color_csv(path=None, owner: str | None = None) -> str:
    """The labels as CSV in the `python -m core evaluate colors` format (header r,g,b,label)."""
    lines = ["r,g,b,label"] + [f"{r},{g},{b},{label}" for r, g, b, label in color_labels(path, owner)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- drawings


def add_drawing(image: np.ndarray, label: str, path=None, owner: str = "") -> int:
    label = check_label(label)
    image = np.asarray(image)
    if image.shape != IMAGE_SHAPE or image.dtype != np.uint8:
        raise ValueError(f"A drawing sample must be a 28x28 uint8 image (got {image.shape} {image.dtype}).")
    return _write(
        path,
        "INSERT INTO drawings (image, label, created_at, owner) VALUES (?, ?, ?, ?)",
        (image.tobytes(), label, _now(), str(owner)),
    )


def drawings(label: str | None = None, path=None, owner: str | None = None) -> list[tuple[int, np.ndarray, str, str]]:
    """(id, image, label, created_at) rows, optionally for one label."""
    where, params = _mine(owner, "label = ?" if label else "")
    rows = _read(
        path, f"SELECT id, image, label, created_at FROM drawings{where} ORDER BY id", (label,) * bool(label) + params
    )
    return [(i, np.frombuffer(img, dtype=np.uint8).reshape(IMAGE_SHAPE), lab, at) for i, img, lab, at in rows]


def drawing_counts(path=None, owner: str | None = None) -> dict[str, int]:
    where, params = _mine(owner)
    return dict(_read(path, f"SELECT label, COUNT(*) FROM drawings{where} GROUP BY label ORDER BY label", params))


def delete_drawing(sample_id: int, path=None, owner: str | None = None) -> int:
    """Delete one drawing; with an owner, only if it is theirs (returns 0 otherwise)."""
    where, params = _mine(owner, "id = ?")
    return _write(path, f"DELETE FROM drawings{where}", (int(sample_id),) + params)


def export_drawings_npz(label: str | None = None, path=None, owner: str | None = None) -> bytes:
    """Drawings as .npz bytes in the `python -m core evaluate shapes` format: images (N,28,28) uint8, labels (N,)."""
    rows = drawings(label, path, owner)
    images = np.stack([r[1] for r in rows]) if rows else np.zeros((0, *IMAGE_SHAPE), np.uint8)
    labels = np.array([r[2] for r in rows], dtype=str)
    buf = io.BytesIO()
    np.savez_compressed(buf, images=images, labels=labels)
    return buf.getvalue()


# ---------------------------------------------------------------- sharing with a class


def share_with_class(owner: str, class_code: str, path=None) -> int:
    """Add every sample of `owner` to the class `class_code` ('' takes them out again); returns how many."""
    if not owner:
        raise ValueError("Only a signed-in or returning user can share samples with a class.")
    n = 0
    for table in ("color_labels", "drawings"):
        n += _write(path, f"UPDATE {table} SET class_code = ? WHERE owner = ?", (str(class_code), owner))
    return n


def shared_counts(owner: str, class_code: str, path=None) -> int:
    """How many of `owner`'s samples are in the class."""
    return sum(
        _read(path, f"SELECT COUNT(*) FROM {t} WHERE owner = ? AND class_code = ?", (owner, class_code))[0][0]
        for t in ("color_labels", "drawings")
    )


def class_color_labels(class_code: str, path=None) -> list[tuple[int, int, int, str]]:
    """The class's pooled colour labels: every member's shared ones."""
    rows = _read(path, "SELECT r, g, b, label FROM color_labels WHERE class_code = ? ORDER BY id", (class_code,))
    return [tuple(row) for row in rows]


def class_drawings(class_code: str, path=None) -> list[tuple[int, np.ndarray, str, str]]:
    """The class's pooled drawings, as (id, image, label, created_at) rows."""
    rows = _read(
        path, "SELECT id, image, label, created_at FROM drawings WHERE class_code = ? ORDER BY id", (class_code,)
    )
    return [(i, np.frombuffer(img, dtype=np.uint8).reshape(IMAGE_SHAPE), lab, at) for i, img, lab, at in rows]


# ---------------------------------------------------------------- rows with ids (core.store.access builds on these)

TABLES = {"colors": "color_labels", "drawings": "drawings"}  # a sample kind -> its table


def color_label_rows(path=None, owner: str | None = None, class_code: str | None = None) -> list[tuple]:
    """(id, r, g, b, label, created_at, owner, class_code) rows of one owner's labels, or of one class's pool."""
    where, params = _mine(owner, "class_code = ?" if class_code is not None else "")
    params = ((class_code,) if class_code is not None else ()) + params
    sql = f"SELECT id, r, g, b, label, created_at, owner, class_code FROM color_labels{where} ORDER BY id"
    return [tuple(row) for row in _read(path, sql, params)]


def drawing_rows(path=None, owner: str | None = None, class_code: str | None = None) -> list[tuple]:
    """(id, image, label, created_at, owner, class_code) rows of one owner's drawings, or of one class's pool."""
    where, params = _mine(owner, "class_code = ?" if class_code is not None else "")
    params = ((class_code,) if class_code is not None else ()) + params
    rows = _read(
        path, f"SELECT id, image, label, created_at, owner, class_code FROM drawings{where} ORDER BY id", params
    )
    return [
        (i, np.frombuffer(img, dtype=np.uint8).reshape(IMAGE_SHAPE), lab, at, o, c) for i, img, lab, at, o, c in rows
    ]


def delete_sample(kind: str, sample_id: int, path=None, owner: str | None = None, class_code: str | None = None) -> int:
    """Delete one colour label or drawing, only if it is `owner`'s (or in `class_code`'s pool); returns 0 or 1."""
    clauses, params = ["id = ?"], [int(sample_id)]
    if owner is not None:
        clauses.append("owner = ?")
        params.append(owner)
    if class_code is not None:
        clauses.append("class_code = ?")
        params.append(class_code)
    return _write(path, f"DELETE FROM {TABLES[kind]} WHERE {' AND '.join(clauses)}", tuple(params))


def sample_owner(kind: str, sample_id: int, path=None) -> tuple[str, str] | None:
    """(owner, class_code) of one sample, or None when there is no such sample."""
    rows = _read(path, f"SELECT owner, class_code FROM {TABLES[kind]} WHERE id = ?", (int(sample_id),))
    return (rows[0][0], rows[0][1]) if rows else None


def delete_shared_by(owner: str, class_code: str, path=None) -> int:
    """Delete every sample `owner` shared with `class_code` (a teacher removing a member with their samples)."""
    return sum(
        _write(path, f"DELETE FROM {t} WHERE owner = ? AND class_code = ?", (owner, class_code))
        for t in TABLES.values()
    )


def unshare_from(owner: str, class_code: str, path=None) -> int:
    """Take `owner`'s samples out of `class_code`'s pool only (samples shared with another class stay there)."""
    return sum(
        _write(path, f"UPDATE {t} SET class_code = '' WHERE owner = ? AND class_code = ?", (owner, class_code))
        for t in TABLES.values()
    )


COLOR_LABELS, DRAWINGS = "colors", "drawings"  # the two kinds of sample, as a family's `user_samples` names them


def owner_samples(owner: str | None, kind: str) -> list:
    """One owner's samples of `kind`: color_labels() rows or drawings() rows."""
    return color_labels(owner=owner) if kind == COLOR_LABELS else drawings(owner=owner)


def class_samples(class_code: str, kind: str) -> list:
    """A class's pooled samples of `kind`, in the same rows as owner_samples."""
    return class_color_labels(class_code) if kind == COLOR_LABELS else class_drawings(class_code)
