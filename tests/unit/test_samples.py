"""The sample database: colour labels and drawings in SQLite (WAL), exports, and an unwritable database."""

import io
import sqlite3

import numpy as np
import pytest

from core.store import samples


def test_color_labels_round_trip_and_csv(user_data):
    samples.add_color_label((255, 0, 0), "red")
    samples.add_color_label((0, 0, 255), "blue")
    samples.add_color_label((1, 2, 3), "blue")
    assert samples.color_label_counts() == {"blue": 2, "red": 1}
    assert samples.export_color_csv().splitlines() == ["r,g,b,label", "255,0,0,red", "0,0,255,blue", "1,2,3,blue"]
    mode = sqlite3.connect(user_data / "samples.sqlite3").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_out_of_range_color_label_is_refused():
    with pytest.raises(ValueError):
        samples.add_color_label((256, 0, 0), "red")
    assert samples.color_label_counts() == {}


def test_drawings_round_trip_delete_and_npz():
    img = np.zeros((28, 28), np.uint8)
    img[5:10, 5:10] = 255
    first = samples.add_drawing(img, "square")
    samples.add_drawing(np.zeros((28, 28), np.uint8), "circle")
    assert samples.drawing_counts() == {"circle": 1, "square": 1}
    rows = samples.drawings("square")
    assert len(rows) == 1 and np.array_equal(rows[0][1], img)
    data = np.load(io.BytesIO(samples.export_drawings_npz()))
    assert data["images"].shape == (2, 28, 28) and data["images"].dtype == np.uint8
    assert list(data["labels"]) == ["square", "circle"]
    samples.delete_drawing(first)
    assert samples.drawing_counts() == {"circle": 1}


def test_wrong_drawing_shape_is_refused():
    with pytest.raises(ValueError, match="28x28"):
        samples.add_drawing(np.zeros((28, 27), np.uint8), "circle")


def test_unwritable_database_gives_a_plain_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(samples.SampleStoreError, match="cannot be opened"):
        samples.add_color_label((1, 2, 3), "red", path=blocker / "db.sqlite3")


def test_read_only_database_keeps_existing_rows(tmp_path):
    db = tmp_path / "ro.sqlite3"
    samples.add_color_label((1, 2, 3), "red", path=db)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA query_only = ON")
    with pytest.raises(sqlite3.Error):
        conn.execute("INSERT INTO color_labels (r, g, b, label, created_at) VALUES (1, 1, 1, 'x', 'now')")
    conn.close()
    assert samples.color_labels(path=db) == [(1, 2, 3, "red")]
