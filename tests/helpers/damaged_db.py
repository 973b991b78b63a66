"""A real SQLite sample database with one damaged page: enough colour labels to span many pages, then one page of
the labels' table overwritten with garbage (as a bad sector or a torn write leaves it). Reading the labels then fails
inside sqlite with "database disk image is malformed"; the schema page is intact, so the file still opens."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from core.store import db, samples

PAGE = 4096  # sqlite's default page size


def _labels_unreadable(path: Path) -> bool:
    check = sqlite3.connect(path)
    try:
        check.execute("SELECT COUNT(*), SUM(r) FROM color_labels").fetchall()
    except sqlite3.DatabaseError:
        return True
    finally:
        check.close()
    return False


def damaged_sample_db(path: Path, owner: str = "") -> Path:
    samples.color_label_counts(path=path)  # the tables, made by the store as any server makes them
    db.dispose_all()  # no pooled connection of ours holds the file while it is damaged
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO color_labels (r, g, b, label, created_at, owner) VALUES (?, ?, ?, ?, ?, ?)",
            [(i % 256, 1, 2, "red", "2026-01-01T00:00:00+00:00", owner) for i in range(3000)],
        )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything into the main file, so the damage is what is read
    conn.close()
    pages = path.stat().st_size // PAGE
    assert pages > 8, pages
    for page in range(pages // 2, pages):  # a leaf of the labels' table, far from the schema on page 1
        with open(path, "r+b") as f:
            f.seek(PAGE * page)
            original = f.read(512)
            f.seek(PAGE * page)
            f.write(b"\xff" * 512)
        if _labels_unreadable(path):
            break
        with open(path, "r+b") as f:  # an index's page, or free: put it back and try the next one
            f.seek(PAGE * page)
            f.write(original)
    else:
        raise AssertionError("no page written over was one the labels' table reads")
    db.dispose_all()  # a fresh look at the file, as a new server would take
    return path
