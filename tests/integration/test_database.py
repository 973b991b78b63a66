"""Integration: the database store against a REAL PostgreSQL (tests/helpers/servers.py starts one) and the embedded
SQLite file: the unit tier's checks on both, another process's writes (versions, Teach samples), two processes
migrating at once, two processes adding to one Teach class, and the server stopped mid-session (a plain message;
started again, the next call works and nothing is lost)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from core.settings import get_settings
from core.store import access, blobs, db, samples
from core.store import models as store
from tests.helpers import db_checks
from tests.helpers.paths import REPO
from tests.helpers.store import tiny_color_model

SUBPROCESS_TIMEOUT_S = 300  # a fresh interpreter importing TensorFlow on a busy 2-core machine


def test_people_work_round_trips(any_database):
    db_checks.check_people_work_round_trips()
    assert db.backend() == any_database


def test_two_engines_see_each_others_writes(any_database):
    db_checks.check_two_engines_see_each_others_writes()


def test_a_version_saved_with_one_cache_loads_with_another_empty_one(any_database, tmp_path):
    db_checks.check_a_version_loads_with_an_empty_cache(tiny_color_model(), tmp_path / "a", tmp_path / "b")


def test_a_failed_write_leaves_nothing(any_database):
    db_checks.check_a_failed_write_leaves_nothing()


def test_migrations_are_idempotent(any_database):
    db_checks.check_migrations_are_idempotent()


def test_import_folder_of_todays_layout_is_idempotent(any_database, tmp_path):
    db_checks.check_import_folder(tmp_path)


def test_teach_rows_are_seen_by_another_engine(any_database):
    db_checks.check_teach_rows_seen_by_another_engine()


def test_teach_projects_reach_no_other_identity(any_database):
    db_checks.check_teach_other_identity_reaches_nothing()


def test_a_teach_cache_folder_is_rebuilt_from_the_rows(any_database):
    db_checks.check_teach_cache_rebuilt_from_rows()


def test_a_refused_teach_write_leaves_nothing(any_database):
    db_checks.check_teach_failed_write_leaves_nothing()


def test_concurrent_teach_adds_respect_the_cap(any_database):
    db_checks.check_teach_concurrent_adds_respect_the_cap()


def _python(code: str, user_data, **env) -> subprocess.Popen:
    environment = {**os.environ, "MLX_USER_DATA_DIR": str(user_data), "PYTHONPATH": str(REPO), **env}
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_another_process_with_its_own_cache_saves_what_this_one_lists_and_loads(any_database, tmp_path):
    code = (
        "from core.store import access, models as store\n"
        "from tests.helpers.store import tiny_color_model\n"
        f"access.add_color_label({db_checks.ANNA!r}, (4, 5, 6), 'teal')\n"
        f"v = store.save_version(tiny_color_model(), 'colors', 'other', {{'owner': {db_checks.ANNA!r}}})\n"
        "print(v.version_id)\n"
    )
    # Its own user-data folder (so its own model cache); the same database: the server's, or this SQLite file
    other = _python(code, tmp_path / "other_machine", MLX_DB_PATH=str(get_settings().database))
    out, err = other.communicate(timeout=SUBPROCESS_TIMEOUT_S)
    assert other.returncode == 0, err[-2000:]
    (row,) = access.versions(db_checks.ANNA, "colors")
    assert row.version_id == out.split()[-1] and not os.path.exists(row.path)  # nothing of it on this "machine"
    loaded = store.load_model(access.model_path(db_checks.ANNA, row.path))
    assert loaded.metadata["owner"] == db_checks.ANNA and access.color_label_counts(db_checks.ANNA) == {"teal": 1}


def test_two_processes_starting_at_once_migrate_once(any_database, tmp_path):
    database = str(get_settings().database)
    starts = [
        _python("from core.__main__ import main; main(['db', 'upgrade'])", tmp_path, MLX_DB_PATH=database)
        for _ in range(2)
    ]
    for proc in starts:
        out, err = proc.communicate(timeout=SUBPROCESS_TIMEOUT_S)
        assert proc.returncode == 0 and json.loads(out)["revision"] == "0003", err[-2000:]
    db_checks.check_migrations_are_idempotent()


def test_database_stopped_mid_session_is_a_plain_message_and_nothing_is_lost(own_postgres, monkeypatch, tmp_path):
    monkeypatch.setenv("MLX_DATABASE_URL", own_postgres.create_database())
    anna = db_checks.ANNA
    access.add_color_label(anna, (255, 0, 0), "red")
    code = access.open_class(anna, "ML 101").code
    version = store.save_version(tiny_color_model(), "colors", "kept", {"owner": anna}, models_dir=tmp_path / "a")
    own_postgres.stop()
    for call in (
        lambda: access.color_label_counts(anna),
        lambda: access.add_color_label(anna, (0, 0, 255), "blue"),
        lambda: access.versions(anna, "colors"),
        lambda: access.my_class(anna, code),
    ):
        with pytest.raises(samples.SampleStoreError, match="not reachable right now") as refused:
            call()
        message = str(refused.value)
        assert "Traceback" not in message and "postgres" not in message and "127.0.0.1" not in message, message
    own_postgres.start()
    assert access.color_label_counts(anna) == {"red": 1}  # the pool's dead connections are replaced at once
    assert access.my_class(anna, code).members == 1
    (row,) = access.versions(anna, "colors", models_dir=tmp_path / "b")
    assert row.version_id == version.version_id and store.load_model(row.path).metadata["owner"] == anna
    assert blobs.version_files("colors", version.version_id)[store.MODEL_JSON]
    access.add_color_label(anna, (0, 0, 255), "blue")
    assert access.color_label_counts(anna) == {"blue": 1, "red": 1}


def test_another_machine_adds_teach_samples_that_this_one_lists_and_reads(any_database, tmp_path):
    anna = db_checks.ANNA
    ids = db_checks.anna_project()  # this machine's cache of it is made now
    code = (
        "from core.store import access\n"
        f"ids = access.add_teach_samples({anna!r}, 'gestures', 'b', [b'from', b'there'], '.png', lambda row, have: 2)\n"
        "print(' '.join(ids))\n"
    )
    other = _python(code, tmp_path / "other_machine", MLX_DB_PATH=str(get_settings().database))
    out, err = other.communicate(timeout=SUBPROCESS_TIMEOUT_S)
    assert other.returncode == 0, err[-2000:]
    theirs = out.split()
    row, paths = access.teach_samples(anna, "gestures")  # this machine's stale cache is brought up to date
    assert [p.stem for p in paths["a"]] == ids and [p.stem for p in paths["b"]] == theirs
    assert [p.read_bytes() for p in paths["b"]] == [b"from", b"there"]
    assert row.revision == 3 and access.teach_project(anna, "gestures")[1] == {"a": 2, "b": 2}
    their_cache = tmp_path / "other_machine" / "teach" / anna / "gestures" / "b"
    assert sorted(p.stem for p in their_cache.iterdir()) == theirs  # each machine has its own cache


ADD_ONE_AT_A_TIME = """
import pathlib, sys, time
from core.store import access
ready, me = pathlib.Path({ready!r}), {me!r}
(ready / me).touch()
deadline = time.monotonic() + 120  # both processes start adding together (a busy machine starts them seconds apart)
while len(list(ready.iterdir())) < 2:
    if time.monotonic() > deadline:
        sys.exit("the other process never started")
    time.sleep(0.01)
added = 0
for _ in range({tries}):
    room = lambda row, have: max(0, {cap} - have)
    added += len(access.add_teach_samples({owner!r}, "gestures", "a", [me.encode()], ".png", room) or [])
print(added)
"""


@pytest.mark.parametrize("cap", [16, 12])
def test_two_processes_adding_to_one_class_both_land_and_the_cap_holds(any_database, tmp_path, cap):
    """Two app replicas add 8 samples each, one at a time, to one class: with room for all 16 every add lands; with
    room for 12, exactly 12 land (the count and the insert are one transaction on the locked project row)."""
    db_checks.anna_project(samples=0)
    ready = tmp_path / "ready"
    ready.mkdir()
    procs = [
        _python(
            ADD_ONE_AT_A_TIME.format(ready=str(ready), me=me, tries=8, cap=cap, owner=db_checks.ANNA),
            tmp_path / me,
            MLX_DB_PATH=str(get_settings().database),
        )
        for me in ("one", "two")
    ]
    added = []
    for proc in procs:
        out, err = proc.communicate(timeout=SUBPROCESS_TIMEOUT_S)
        assert proc.returncode == 0, err[-2000:]
        added.append(int(out.split()[-1]))
    assert sum(added) == cap and access.teach_project(db_checks.ANNA, "gestures")[1] == {"a": cap}, added
    if cap == 16:
        assert added == [8, 8]
    _, paths = access.teach_samples(db_checks.ANNA, "gestures")
    assert sorted(p.read_bytes() for p in paths["a"]).count(b"one") == added[0]
