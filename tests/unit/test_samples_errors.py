"""Unit: the sample database's errors reach the user in plain words, without a file path (issue 25)."""

from __future__ import annotations

import pytest

from core.settings import get_settings
from core.store import access, classroom, samples
from tests.helpers.damaged_db import damaged_sample_db

OWNER = "u" + "d" * 20


def test_a_damaged_page_is_a_plain_message_for_reads_and_writes_that_reach_it(user_data):
    db = damaged_sample_db(get_settings().database, owner=OWNER)
    calls = [
        lambda: access.color_label_counts(OWNER),
        lambda: samples.color_labels(owner=OWNER),
        lambda: samples.share_with_class(OWNER, "ABCDEFGH"),
    ]
    for call in calls:
        with pytest.raises(samples.SampleStoreError, match="damaged") as refused:
            call()
        message = str(refused.value)
        assert "malformed" in message and str(db.parent) not in message and "/" not in message, message


def test_no_message_holds_the_database_path(user_data, tmp_path, monkeypatch):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the database's folder should be")
    monkeypatch.setenv("MLX_DB_PATH", str(blocker / "samples.sqlite"))
    for call in (lambda: samples.add_color_label((1, 2, 3), "red"), lambda: classroom.open_class(OWNER, "x")):
        with pytest.raises(samples.SampleStoreError, match="cannot be opened") as refused:
            call()
        assert str(tmp_path) not in str(refused.value) and "blocker" not in str(refused.value), refused.value


@pytest.mark.parametrize(
    ("error", "plain"),
    [
        (OSError(13, "Permission denied", "/srv/mlx/samples.sqlite3"), "Permission denied"),
        (RuntimeError("unable to open /srv/mlx/data/samples.sqlite3 for writing"), "unable to open … for writing"),
        (RuntimeError(r"cannot open C:\data\samples.sqlite3"), "cannot open …"),
        (RuntimeError("UNIQUE constraint failed: class_results.version_id"), "UNIQUE constraint failed"),
    ],
)
def test_plain_db_error_keeps_the_reason_and_drops_any_path(error, plain):
    assert samples.plain_db_error(error).startswith(plain)
