"""Unit: the database store on the embedded SQLite file: people's work round trips, a second engine sees it, a version
loads with an empty cache, a failed write leaves nothing, migrations run once, the old folder imports, Teach projects
as rows (another engine, another identity, the cache rebuilt, a refused write, concurrent adds), and a database that
is down is a plain message (the same checks run against PostgreSQL in tests/integration/test_database.py)."""

from __future__ import annotations

import pytest

from core.store import access, db, samples
from tests.helpers import db_checks
from tests.helpers.store import tiny_color_model


def test_people_work_round_trips():
    db_checks.check_people_work_round_trips()


def test_two_engines_see_each_others_writes():
    db_checks.check_two_engines_see_each_others_writes()


def test_a_version_saved_with_one_cache_loads_with_another_empty_one(tmp_path):
    db_checks.check_a_version_loads_with_an_empty_cache(tiny_color_model(), tmp_path / "a", tmp_path / "b")


def test_a_failed_write_leaves_nothing():
    db_checks.check_a_failed_write_leaves_nothing()


def test_migrations_are_idempotent():
    db_checks.check_migrations_are_idempotent()


def test_import_folder_of_todays_layout_is_idempotent(tmp_path):
    db_checks.check_import_folder(tmp_path)


def test_teach_rows_are_seen_by_another_engine():
    db_checks.check_teach_rows_seen_by_another_engine()


def test_teach_projects_reach_no_other_identity():
    db_checks.check_teach_other_identity_reaches_nothing()


def test_a_teach_cache_folder_is_rebuilt_from_the_rows():
    db_checks.check_teach_cache_rebuilt_from_rows()


def test_a_refused_teach_write_leaves_nothing():
    db_checks.check_teach_failed_write_leaves_nothing()


def test_concurrent_teach_adds_respect_the_cap():
    db_checks.check_teach_concurrent_adds_respect_the_cap()


def test_the_embedded_database_is_sqlite_in_wal_mode(user_data):
    access.add_color_label(db_checks.ANNA, (1, 2, 3), "red")
    assert db.backend() == "sqlite" and (user_data / "samples.sqlite3").is_file()
    with db.reading() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://mlx:s3cret-pw@127.0.0.1:1/mlx",  # nothing listens on port 1: refused at once
        "postgresql+psycopg://mlx:s3cret-pw@localhost:1/mlx?host=/nonexistent-socket-dir",
    ],
)
def test_a_database_that_is_down_is_a_plain_message(monkeypatch, url):
    monkeypatch.setenv("MLX_DATABASE_URL", url)
    for call in (
        lambda: access.color_label_counts(db_checks.ANNA),
        lambda: samples.add_color_label((1, 2, 3), "red"),
        lambda: access.open_class(db_checks.ANNA, "x"),
    ):
        with pytest.raises(samples.SampleStoreError, match="not reachable right now") as refused:
            call()
        message = str(refused.value)
        for secret in ("s3cret", "127.0.0.1", "postgresql", "psycopg", "nonexistent", "Traceback", "mlx:"):
            assert secret not in message, message


def test_a_url_the_driver_does_not_know_is_a_plain_message(monkeypatch):
    monkeypatch.setenv("MLX_DATABASE_URL", "nosuchdb://user:pw@host/db")
    with pytest.raises(db.DatabaseError, match="check MLX_DATABASE_URL") as refused:
        access.color_label_counts(db_checks.ANNA)
    assert "pw" not in str(refused.value) and "host" not in str(refused.value)
