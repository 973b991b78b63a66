"""User-gathered samples in the database (core.store.db): colour labels and drawings, with export helpers.

Every sample belongs to an owner (core.identity's owner id; "" for the command line) and is private to them unless
they add it to a class (core.classroom), which pools its members' shared samples. Reads with `owner=None` see every
owner's samples (the command line and tests); the pages always pass the user's owner. `path` (tests, the command line)
names an SQLite file instead of the configured database."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
from sqlalchemy import delete, func, insert, select, update

from core.settings import get_settings
from core.store import db, schema

IMAGE_SHAPE = (28, 28)
SampleStoreError = db.DatabaseError  # the name the pages catch: the database cannot be opened, read or written
plain_db_error = db.plain_db_error
DAMAGED = db.DAMAGED
SAVE_REFUSED = "The sample could not be saved: the database refused the write ({why})."
READ_REFUSED = "The sample database cannot be read ({why})."
TABLES = {"colors": "color_labels", "drawings": "drawings"}  # a sample kind -> its table
_TABLE = {"colors": schema.color_labels, "drawings": schema.drawings}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _write(path, statement) -> int:
    """Run one write in its own transaction; the new row's id for an INSERT, else the rows it changed."""
    with db.writing(path, SAVE_REFUSED) as connection:
        result = connection.execute(statement)
        if result.is_insert:
            return int(result.inserted_primary_key[0])
        return int(result.rowcount or 0)


def _read(path, statement) -> list[tuple]:
    with db.reading(path, READ_REFUSED) as connection:
        return [tuple(row) for row in connection.execute(statement)]


# ---------------------------------------------------------------- colour labels


def check_label(label) -> str:
    """A label of 1 to MLX_MAX_TYPED_CHARS characters of text: checked here too, whatever the widget allowed."""

    limit = get_settings().max_typed_chars
    if not isinstance(label, str) or not label.strip():
        raise ValueError("A label must be some text, such as 'red' or 'circle'.")
    if len(label) > limit:
        raise ValueError(f"A label is at most {limit} characters long (this one has {len(label):,}).")
    return label


def _mine(table, owner: str | None, *conditions):
    """The conditions for one owner's rows (every row when owner is None)."""
    return [*conditions, *([table.c.owner == owner] if owner is not None else [])]


def add_color_label(rgb: tuple[int, int, int], label: str, path=None, owner: str = "") -> int:
    label = check_label(label)
    try:
        r, g, b = (int(v) for v in rgb)
    except (TypeError, ValueError):  # NaN, text or the wrong number of values: the same plain message
        raise ValueError("R, G and B must each be whole numbers between 0 and 255.") from None
    if not all(0 <= v <= 255 for v in (r, g, b)):
        raise ValueError("R, G and B must each be between 0 and 255.")
    row = {"r": r, "g": g, "b": b, "label": label, "created_at": _now(), "owner": str(owner)}
    return _write(path, insert(schema.color_labels).values(**row))


def color_labels(path=None, owner: str | None = None) -> list[tuple[int, int, int, str]]:
    t = schema.color_labels
    return _read(path, select(t.c.r, t.c.g, t.c.b, t.c.label).where(*_mine(t, owner)).order_by(t.c.id))


def _counts(path, table, owner: str | None) -> dict[str, int]:
    statement = (
        select(table.c.label, func.count()).where(*_mine(table, owner)).group_by(table.c.label).order_by(table.c.label)
    )
    return dict(_read(path, statement))


def color_label_counts(path=None, owner: str | None = None) -> dict[str, int]:
    return _counts(path, schema.color_labels, owner)


def export_color_csv(path=None, owner: str | None = None) -> str:
    """The labels as CSV in the `python -m core evaluate colors` format (header r,g,b,label)."""
    lines = ["r,g,b,label"] + [f"{r},{g},{b},{label}" for r, g, b, label in color_labels(path, owner)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- drawings


def _image(blob: bytes) -> np.ndarray:
    return np.frombuffer(bytes(blob), dtype=np.uint8).reshape(IMAGE_SHAPE)


def add_drawing(image: np.ndarray, label: str, path=None, owner: str = "") -> int:
    label = check_label(label)
    image = np.asarray(image)
    if image.shape != IMAGE_SHAPE or image.dtype != np.uint8:
        raise ValueError(f"A drawing sample must be a 28x28 uint8 image (got {image.shape} {image.dtype}).")
    row = {"image": image.tobytes(), "label": label, "created_at": _now(), "owner": str(owner)}
    return _write(path, insert(schema.drawings).values(**row))


def drawings(label: str | None = None, path=None, owner: str | None = None) -> list[tuple[int, np.ndarray, str, str]]:
    """(id, image, label, created_at) rows, optionally for one label."""
    t = schema.drawings
    where = _mine(t, owner, *([t.c.label == label] if label else []))
    rows = _read(path, select(t.c.id, t.c.image, t.c.label, t.c.created_at).where(*where).order_by(t.c.id))
    return [(i, _image(img), lab, at) for i, img, lab, at in rows]


def drawing_counts(path=None, owner: str | None = None) -> dict[str, int]:
    return _counts(path, schema.drawings, owner)


def delete_drawing(sample_id: int, path=None, owner: str | None = None) -> int:
    """Delete one drawing; with an owner, only if it is theirs (returns 0 otherwise)."""
    t = schema.drawings
    return _write(path, delete(t).where(*_mine(t, owner, t.c.id == int(sample_id))))


def export_drawings_npz(label: str | None = None, path=None, owner: str | None = None) -> bytes:
    """Drawings as .npz bytes in the `python -m core evaluate shapes` format: images (N,28,28) uint8, labels (N,)."""
    rows = drawings(label, path, owner)
    images = np.stack([r[1] for r in rows]) if rows else np.zeros((0, *IMAGE_SHAPE), np.uint8)
    labels = np.array([r[2] for r in rows], dtype=str)
    buf = io.BytesIO()
    np.savez_compressed(buf, images=images, labels=labels)
    return buf.getvalue()


# ---------------------------------------------------------------- sharing with a class


def _write_both(path, make) -> int:
    """One statement per sample table, in one transaction: both tables change, or neither."""
    with db.writing(path, SAVE_REFUSED) as connection:
        return sum(int(connection.execute(make(t)).rowcount or 0) for t in _TABLE.values())


def share_with_class(owner: str, class_code: str, path=None) -> int:
    """Add every sample of `owner` to the class `class_code` ('' takes them out again); returns how many."""
    if not owner:
        raise ValueError("Only a signed-in or returning user can share samples with a class.")
    return _write_both(path, lambda t: update(t).where(t.c.owner == owner).values(class_code=str(class_code)))


def shared_counts(owner: str, class_code: str, path=None) -> int:
    """How many of `owner`'s samples are in the class."""
    with db.reading(path, READ_REFUSED) as connection:
        return sum(
            int(
                connection.execute(
                    select(func.count()).where(t.c.owner == owner, t.c.class_code == class_code)
                ).scalar()
            )
            for t in _TABLE.values()
        )


def class_color_labels(class_code: str, path=None) -> list[tuple[int, int, int, str]]:
    """The class's pooled colour labels: every member's shared ones."""
    t = schema.color_labels
    return _read(path, select(t.c.r, t.c.g, t.c.b, t.c.label).where(t.c.class_code == class_code).order_by(t.c.id))


def class_drawings(class_code: str, path=None) -> list[tuple[int, np.ndarray, str, str]]:
    """The class's pooled drawings, as (id, image, label, created_at) rows."""
    t = schema.drawings
    statement = select(t.c.id, t.c.image, t.c.label, t.c.created_at).where(t.c.class_code == class_code)
    return [(i, _image(img), lab, at) for i, img, lab, at in _read(path, statement.order_by(t.c.id))]


# ---------------------------------------------------------------- rows with ids (core.store.access builds on these)


def _pool(table, owner: str | None, class_code: str | None) -> list:
    return _mine(table, owner, *([table.c.class_code == class_code] if class_code is not None else []))


def color_label_rows(path=None, owner: str | None = None, class_code: str | None = None) -> list[tuple]:
    """(id, r, g, b, label, created_at, owner, class_code) rows of one owner's labels, or of one class's pool."""
    t = schema.color_labels
    columns = (t.c.id, t.c.r, t.c.g, t.c.b, t.c.label, t.c.created_at, t.c.owner, t.c.class_code)
    return _read(path, select(*columns).where(*_pool(t, owner, class_code)).order_by(t.c.id))


def drawing_rows(path=None, owner: str | None = None, class_code: str | None = None) -> list[tuple]:
    """(id, image, label, created_at, owner, class_code) rows of one owner's drawings, or of one class's pool."""
    t = schema.drawings
    columns = (t.c.id, t.c.image, t.c.label, t.c.created_at, t.c.owner, t.c.class_code)
    rows = _read(path, select(*columns).where(*_pool(t, owner, class_code)).order_by(t.c.id))
    return [(i, _image(img), lab, at, o, c) for i, img, lab, at, o, c in rows]


def delete_sample(kind: str, sample_id: int, path=None, owner: str | None = None, class_code: str | None = None) -> int:
    """Delete one colour label or drawing, only if it is `owner`'s (or in `class_code`'s pool); returns 0 or 1."""
    t = _TABLE[kind]
    return _write(path, delete(t).where(*_pool(t, owner, class_code), t.c.id == int(sample_id)))


def sample_owner(kind: str, sample_id: int, path=None) -> tuple[str, str] | None:
    """(owner, class_code) of one sample, or None when there is no such sample."""
    t = _TABLE[kind]
    rows = _read(path, select(t.c.owner, t.c.class_code).where(t.c.id == int(sample_id)))
    return (rows[0][0], rows[0][1]) if rows else None


def delete_shared_by(owner: str, class_code: str, path=None) -> int:
    """Delete every sample `owner` shared with `class_code` (a teacher removing a member with their samples)."""
    return _write_both(path, lambda t: delete(t).where(t.c.owner == owner, t.c.class_code == class_code))


def unshare_from(owner: str, class_code: str, path=None) -> int:
    """Take `owner`'s samples out of `class_code`'s pool only (samples shared with another class stay there)."""
    return _write_both(
        path, lambda t: update(t).where(t.c.owner == owner, t.c.class_code == class_code).values(class_code="")
    )


COLOR_LABELS, DRAWINGS = "colors", "drawings"  # the two kinds of sample, as a family's `user_samples` names them


def owner_samples(owner: str | None, kind: str) -> list:
    """One owner's samples of `kind`: color_labels() rows or drawings() rows."""
    return color_labels(owner=owner) if kind == COLOR_LABELS else drawings(owner=owner)


def class_samples(class_code: str, kind: str) -> list:
    """A class's pooled samples of `kind`, in the same rows as owner_samples."""
    return class_color_labels(class_code) if kind == COLOR_LABELS else class_drawings(class_code)
