"""The database store's checks, shared by the unit tier (the embedded SQLite file) and the integration tier (the same
checks against a real PostgreSQL): each takes the configured database (MLX_DATABASE_URL or the SQLite default)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, insert, inspect, select, text

from core.settings import get_settings
from core.store import access, blobs, classroom, db, identity, importer, schema
from core.store import models as store
from core.store.topology import StoreError
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
    assert importer.upgrade() == first and first["revision"] == "0003"
    assert set(schema.metadata.tables) <= tables and set(inspect(db.engine()).get_table_names()) == tables
    with db.reading() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM alembic_version")).scalar() == 1
        # What the revisions made is exactly what schema.py declares: tables, columns, types, keys and indexes
        assert compare_metadata(MigrationContext.configure(connection), schema.metadata) == []


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
        "teach_projects": 2,
        "teach_samples": 4,
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
    check_teach_import(source)


def check_teach_import(source: Path) -> None:
    """The imported Teach projects are their owners' only, and their cache folders hold the old files byte for byte."""
    assert access.teach_projects(ANNA) == ["shapes"] and access.teach_projects(BEN) == ["claps"]
    for owner, name in ((ANNA, "shapes"), (BEN, "claps")):
        row, paths = access.teach_samples(owner, name)
        old = source / "teach" / owner / name
        assert row.classes == [p.name for p in sorted(old.iterdir()) if p.is_dir()]
        for class_name, files in paths.items():
            assert [(f.name, f.read_bytes()) for f in files] == [
                (f.name, f.read_bytes()) for f in sorted((old / class_name).iterdir())
            ]
    assert access.teach_project(BEN, "shapes") is None


# ---------------------------------------------------------------- Teach projects in the database

PNG_A, PNG_B = b"\x89PNG first", b"\x89PNG second"  # the store keeps bytes; nothing here decodes them


def _room_for(cap: int):
    return lambda row, have: max(0, cap - have)


def anna_project(name: str = "gestures", samples: int = 2) -> list[str]:
    """Anna's drawing project with `samples` samples in class "a"; returns their ids."""
    access.create_teach_project(ANNA, name, "drawing", ["a", "b"], "2026-12-08T00:00:00+00:00", 20)
    files = [PNG_A if i % 2 == 0 else PNG_B for i in range(samples)]
    return access.add_teach_samples(ANNA, name, "a", files, ".png", _room_for(200))


def check_teach_rows_seen_by_another_engine() -> None:
    """A second engine (another process's, in effect) reads the project and its samples' bytes from the rows."""
    ids = anna_project()
    other = create_engine(db.database_url())
    try:
        with other.connect() as connection:
            p, s = schema.teach_projects.c, schema.teach_samples.c
            (key, classes) = connection.execute(select(p.id, p.classes).where(p.owner == ANNA)).one()
            found = connection.execute(select(s.id, s.data).where(s.project == key).order_by(s.id)).all()
    finally:
        other.dispose()
    assert classes == '["a", "b"]' and [(i, bytes(d)) for i, d in found] == list(zip(ids, [PNG_A, PNG_B]))


def check_teach_other_identity_reaches_nothing() -> None:
    """Ben can neither list, read, change, add to nor delete Anna's project through any entry point of access.py;
    his own project of the same name is his alone."""
    ids = anna_project()
    folder = access.teach_project_dir(ANNA, "gestures")
    assert access.teach_projects(BEN) == [] and access.teach_project(BEN, "gestures") is None
    assert access.teach_samples(BEN, "gestures") is None
    assert access.add_teach_samples(BEN, "gestures", "a", [PNG_A], ".png", _room_for(200)) is None
    assert access.change_teach_classes(BEN, "gestures", lambda row: None) is None
    assert access.delete_teach_sample(BEN, "gestures", "a", ids[0]) is None
    for call in (
        lambda: access.delete_teach_project(BEN, "gestures"),
        lambda: access.share_teach_project(BEN, "gestures", access.open_class(BEN, "Ben's").code),
        lambda: access.model_path(BEN, folder),
        lambda: access.teach_project_dir(BEN, "../" + ANNA + "/gestures"),
    ):
        try:
            call()
        except StoreError:
            continue
        raise AssertionError("Ben reached Anna's project")
    access.create_teach_project(BEN, "gestures", "image", ["x", "y"], "2026-12-08T00:00:00+00:00", 20)
    assert access.delete_teach_sample(BEN, "gestures", "a", ids[0]) is False  # his project has no such sample
    access.delete_teach_project(BEN, "gestures")
    row, paths = access.teach_samples(ANNA, "gestures")
    assert row.classes == ["a", "b"] and [f.stem for f in paths["a"]] == ids
    assert access.teach_projects(ANNA) == ["gestures"] and access.teach_projects(BEN) == []


def check_teach_cache_rebuilt_from_rows() -> None:
    """The cache folder deleted (a new machine) is made again from the rows, byte for byte; a stale one (another
    machine's write) is brought up to date."""
    anna_project()
    folder = access.teach_project_dir(ANNA, "gestures")
    before = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    shutil.rmtree(folder)
    _, paths = access.teach_samples(ANNA, "gestures")
    after = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert after == before and [f.read_bytes() for f in paths["a"]] == [PNG_A, PNG_B]
    with db.writing() as connection:  # another machine's write: the rows change, this cache does not hear of it
        key = access.teach_project(ANNA, "gestures")[0].key
        connection.execute(schema.teach_samples.delete().where(schema.teach_samples.c.project == key))
        connection.execute(
            schema.teach_projects.update().values(revision=schema.teach_projects.c.revision + 1, classes='["b", "c"]')
        )
    _, paths = access.teach_samples(ANNA, "gestures")
    assert paths == {"b": [], "c": []} and sorted(p.name for p in folder.iterdir()) == ["b", "c", "project.json"]


def check_teach_failed_write_leaves_nothing() -> None:
    """The database refuses the 3rd of 5 samples (a NULL blob): none is kept, in the rows or in the cache."""
    ids = anna_project()
    folder = access.teach_project_dir(ANNA, "gestures")
    revision = access.teach_project(ANNA, "gestures")[0].revision
    try:
        access.add_teach_samples(ANNA, "gestures", "a", [PNG_A, PNG_B, None, PNG_A, PNG_B], ".png", _room_for(200))
    except db.DatabaseError as error:
        assert "refused" in str(error) and "Nothing was changed" in str(error), error
    else:
        raise AssertionError("a NULL sample was stored")
    row, counts = access.teach_project(ANNA, "gestures")
    assert counts == {"a": 2} and row.revision == revision
    assert sorted(p.stem for p in (folder / "a").iterdir()) == ids
    assert [p.stem for p in access.teach_samples(ANNA, "gestures")[1]["a"]] == ids


def check_teach_concurrent_adds_respect_the_cap(cap: int = 5, writers: int = 4) -> None:
    """Two writers add the last sample a class has room for at the same moment: each one's check waits (a bounded
    while) for the other's to begin too, which only a store without the row lock lets happen; exactly one lands.
    Then several writers (threads, each its own connection and transaction) fill the class one sample at a time:
    every add lands until it is full, and never one more."""
    anna_project(samples=0)
    access.add_teach_samples(ANNA, "gestures", "b", [PNG_A] * (cap - 1), ".png", _room_for(cap))
    inside = [threading.Event(), threading.Event()]
    landed: list[list[str]] = [[], []]

    def last_one(me: int) -> None:
        def room(row, have):
            inside[me].set()
            inside[1 - me].wait(timeout=1)  # with the lock the other is still waiting for it: this times out
            return max(0, cap - have)

        landed[me] = access.add_teach_samples(ANNA, "gestures", "b", [PNG_B], ".png", room) or []

    _together([lambda me=me: last_one(me) for me in (0, 1)])
    assert sorted(len(ids) for ids in landed) == [0, 1] and access.teach_project(ANNA, "gestures")[1] == {"b": cap}

    added: list[str] = []

    def fill() -> None:
        for _ in range(cap):
            added.extend(access.add_teach_samples(ANNA, "gestures", "a", [PNG_A], ".png", _room_for(cap)) or [])

    _together([fill] * writers)
    assert len(added) == cap and access.teach_project(ANNA, "gestures")[1] == {"a": cap, "b": cap}
    assert sorted(p.stem for p in access.teach_samples(ANNA, "gestures")[1]["a"]) == sorted(added)


def _together(calls: list) -> None:
    """Run the calls in threads released at the same moment; re-raise the first error."""
    start, errors = threading.Barrier(len(calls)), []

    def run(call) -> None:
        start.wait()
        try:
            call()
        except Exception as error:  # noqa: BLE001 (handed to the test's thread below)
            errors.append(error)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
