"""The database store's checks, shared by the unit tier (the embedded SQLite file) and the integration tier (the same
checks against a real PostgreSQL): each takes the configured database (MLX_DATABASE_URL or the SQLite default)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, insert, inspect, select, text

from core.settings import get_settings
from core.store import access, blobs, classroom, db, identity, importer, schema
from core.store import models as store
from tests.helpers.paths import DATA

ANNA, BEN = "u" + "a" * 20, "u" + "b" * 20  # the owners in user_data_v0
V0 = DATA / "user_data_v0"  # today's file layout, made by the store before the database (see data/SOURCES.md)
INK = np.zeros((28, 28), np.uint8)


def check_people_work_round_trips() -> None:
    """Samples, a class with its pool and runs, and profiles: written and read back through the access layer."""
    access.add_color_label(ANNA, (255, 0, 0), "red")
    access.add_drawing(BEN, INK, "line")
    code = access.open_class(ANNA, "ML 101").code
    assert access.join_class(BEN, code, "Ben").members == 2
    assert access.share_samples(BEN, code) == 1
    assert [(s.label, s.nickname) for s in access.class_pool(ANNA, code, "drawings")] == [("line", "Ben")]
    run = classroom.RunRecord("colors", "20260101-000000-x", 0.5, 3, 8, 0.01, 0, 1.0)
    assert classroom.record_result(code, BEN, run) and not classroom.record_result(code, BEN, run)  # once only
    assert [r.nickname for r in access.class_runs(ANNA, code)] == ["Ben"]
    identity.set_class_code(ANNA, code)
    identity.set_active_model(ANNA, "colors", "/somewhere")
    assert identity.class_code(ANNA) == code and identity.active_models(ANNA) == {"colors": "/somewhere"}
    identity.set_active_model(ANNA, "colors", None)
    assert identity.active_models(ANNA) == {} and identity.class_code(ANNA) == code


def check_two_engines_see_each_others_writes() -> None:
    """A second engine on the same database (another process's, in effect) reads what the store wrote, and the
    store reads what it wrote."""
    access.add_color_label(ANNA, (1, 2, 3), "grey")
    other = create_engine(db.database_url())
    try:
        with other.begin() as connection:
            labels = connection.execute(select(schema.color_labels.c.label)).scalars().all()
            row = {"r": 9, "g": 9, "b": 9, "label": "dark", "created_at": "2026", "owner": ANNA}
            connection.execute(insert(schema.color_labels).values(**row))
    finally:
        other.dispose()
    assert labels == ["grey"]
    assert access.color_label_counts(ANNA) == {"dark": 1, "grey": 1}


def check_a_version_loads_with_an_empty_cache(model, first: Path, second: Path) -> None:
    """A version saved with one user-models folder is listed and loaded with another, empty one (another machine)."""
    saved = store.save_version(model, "colors", "elsewhere", {"owner": ANNA}, models_dir=first)
    listed = store.list_versions("colors", models_dir=second)
    assert [v.version_id for v in listed] == [saved.version_id] and not listed[0].path.exists()
    loaded = store.load_model(listed[0].path)  # made from the database's rows
    for a, b in zip(loaded.model.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert (listed[0].path / store.MODEL_JSON).read_bytes() == (saved.path / store.MODEL_JSON).read_bytes()
    assert [r.version_id for r in access.versions(ANNA, "colors", models_dir=second)] == [saved.version_id]
    store.delete_version("colors", saved.version_id, models_dir=second)
    assert store.list_versions("colors", models_dir=first) == []
    assert blobs.version_files("colors", saved.version_id) == {}


def check_a_failed_write_leaves_nothing() -> None:
    """A version whose second file cannot be written keeps neither its row nor its first file."""
    try:
        blobs.put_version("colors", "20260101-000000-half", ANNA, {}, {"model.json": b"{}", "bad.bin": None})
    except db.DatabaseError as error:
        assert "refused" in str(error) and "/" not in str(error).replace("refused the write (", ""), error
    else:
        raise AssertionError("a NULL weight file was stored")
    assert blobs.version_rows("colors") == [] and blobs.version_files("colors", "20260101-000000-half") == {}


def check_migrations_are_idempotent() -> None:
    first = importer.upgrade()
    tables = set(inspect(db.engine()).get_table_names())
    db._migrate(db.engine())  # a second process starting: nothing to do
    assert importer.upgrade() == first and first["revision"] == "0002"
    assert set(schema.metadata.tables) <= tables and set(inspect(db.engine()).get_table_names()) == tables
    with db.reading() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM alembic_version")).scalar() == 1


def check_import_folder(tmp_path: Path) -> None:
    """today's user_data/ layout moves in whole, a second run adds nothing, and the work is the owners' again."""
    source = tmp_path / "old_user_data"
    shutil.copytree(V0, source)
    counts = importer.import_folder(source)
    added = {k: v["added"] for k, v in counts.items() if isinstance(v, dict)}
    assert added == {
        "color_labels": 3,
        "drawings": 1,
        "classes": 1,
        "class_members": 2,
        "shared_versions": 1,
        "class_results": 1,
        "profiles": 2,
        "versions": 1,
    }, counts
    again = importer.import_folder(source)
    assert all(v["added"] == 0 for v in again.values() if isinstance(v, dict)), again
    assert {k: v["present"] for k, v in again.items() if isinstance(v, dict)} == added
    (version,) = access.versions(ANNA, "colors")
    code = identity.class_code(ANNA)
    assert identity.class_code(BEN) == code and access.my_class(BEN, code).members == 2
    assert access.color_label_counts(ANNA) == {"blue": 1, "red": 1} and access.shared_count(BEN, code) == 2
    assert [r.version_id for r in access.versions(BEN, "colors")] == [version.version_id]  # shared with the class
    active = identity.active_models(ANNA)["colors"]
    assert Path(active).is_relative_to(get_settings().models_dir), active  # the path of this server's cache
    assert access.model_path(ANNA, active) and store.load_model(active).metadata["owner"] == ANNA
