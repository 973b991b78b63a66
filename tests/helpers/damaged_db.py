"""A real SQLite sample database with one damaged page: enough colour labels to span many pages, then one page of
the labels' table overwritten with garbage (as a bad sector or a torn write leaves it). Reading the labels then fails
inside sqlite with "database disk image is malformed"; the schema page is intact, so the file still opens."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from core.store import samples

PAGE = 4096  # sqlite's default page size


def damaged_sample_db(path: Path, owner: str = "") -> Path:
    conn = samples.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO color_labels (r, g, b, label, created_at, owner) VALUES (?, ?, ?, ?, ?, ?)",
            [(i % 256, 1, 2, "red", "2026-01-01T00:00:00+00:00", owner) for i in range(3000)],
        )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything into the main file, so the damage is what is read
    conn.close()
    pages = path.stat().st_size // PAGE
    assert pages > 8, pages
    with open(path, "r+b") as f:
        f.seek(PAGE * (pages // 2))  # a leaf of the labels' table, far from the schema on page 1
        f.write(b"\xff" * 512)
    check = sqlite3.connect(path)
    try:
        check.execute("SELECT COUNT(*), SUM(r) FROM color_labels").fetchall()
    except sqlite3.DatabaseError:
        pass
    else:
        raise AssertionError("the page written over was not one the labels' table reads")
    finally:
        check.close()
    samples._READY.clear()  # a fresh look at the file, as a new server would take
    return path
