"""`python -m core db import-folder DIR`: move a user_data/ folder of the file layout (samples.sqlite3, profiles/*.json,
models/<family>/<version>/, teach/<owner>/<project>/) into the database. Idempotent (what is there already is counted, not added again) and
all-or-nothing per item; `python -m core db upgrade` brings the database to the newest revision."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from sqlalchemy import insert, select, text

from core.settings import get_settings
from core.store import blobs, db, teach_rows
from core.store import models as store
from core.store import schema as t
from core.store.topology import StoreError

SAMPLE_KEYS = {  # what makes two samples the same one: the import never adds a row it finds with these values
    "color_labels": ("r", "g", "b", "label", "created_at", "owner"),
    "drawings": ("image", "label", "created_at", "owner"),
}
KEYED = {  # tables whose own keys say whether a row is there already
    "classes": ["code"],
    "class_members": ["code", "owner"],
    "shared_versions": ["family", "version_id"],
    "class_results": ["version_id"],
}


def _source_rows(database: Path, table: str) -> list[dict]:
    """Every row of `table` in the old SQLite file, read only ([] when the file or table is not there)."""
    if not database.is_file():
        return []
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in connection.execute(f"SELECT * FROM {table}")]  # noqa: S608 (our table names)
    except sqlite3.OperationalError:  # no such table: made before that feature
        return []
    finally:
        connection.close()


def _tally(counts: dict, what: str, added: bool) -> None:
    entry = counts.setdefault(what, {"added": 0, "present": 0})
    entry["added" if added else "present"] += 1


def _import_samples(database: Path, counts: dict) -> None:
    for name, keys in SAMPLE_KEYS.items():
        table = getattr(t, name)
        for row in _source_rows(database, name):
            values = {c.name: row[c.name] for c in table.columns if c.name in row and c.name != "id"}
            values.setdefault("owner", "")
            values.setdefault("class_code", "")
            with db.writing() as connection:  # one sample: looked for and added in one transaction
                same = select(table.c.id).where(*(table.c[k] == values[k] for k in keys)).limit(1)
                found = connection.execute(same).first() is not None
                if not found:
                    connection.execute(insert(table).values(**values))
            _tally(counts, name, not found)


def _import_classes(database: Path, counts: dict) -> None:
    for name, keys in KEYED.items():
        table = getattr(t, name)
        for row in _source_rows(database, name):
            values = {c.name: row[c.name] for c in table.columns if c.name in row and c.name != "id"}
            with db.writing() as connection:
                added = db.upsert(connection, table, values, keys) == 1
            _tally(counts, name, added)


def _local_path(folder: Path, path: str) -> str:
    """An active model that is one of the imported versions (named by its folder, wherever the old user_data/ lived
    then) becomes that version's cache folder on this server; a shipped or other folder stays as it was."""
    old = Path(path)
    if old.parent.parent.name == "models" and (folder / "models" / old.parent.name / old.name).is_dir():
        return str(get_settings().models_dir / old.parent.name / old.name)
    return path


def _import_profiles(folder: Path, counts: dict) -> None:
    for path in sorted((folder / "profiles").glob("*.json")) if (folder / "profiles").is_dir() else []:
        owner = path.stem
        try:
            store.check_name(owner, "owner")
            profile = json.loads(path.read_text(encoding="utf-8"))
        except (StoreError, OSError, ValueError):
            _tally(counts, "profiles_unreadable", False)
            continue
        active = profile.get("active") if isinstance(profile, dict) else None
        with db.writing() as connection:
            found = connection.execute(select(t.profiles.c.owner).where(t.profiles.c.owner == owner)).first()
            if found is None:
                code = profile.get("class_code") if isinstance(profile.get("class_code"), str) else ""
                connection.execute(insert(t.profiles).values(owner=owner, class_code=code))
                rows = [
                    {"owner": owner, "family": str(k), "path": _local_path(folder, v)}
                    for k, v in (active if isinstance(active, dict) else {}).items()
                    if isinstance(v, str)
                ]
                if rows:
                    connection.execute(insert(t.active_models), rows)
        _tally(counts, "profiles", found is None)


def _import_versions(folder: Path, counts: dict) -> None:
    models = folder / "models"
    for family_dir in sorted(models.iterdir()) if models.is_dir() else []:
        if not family_dir.is_dir() or not store.VERSION_NAME.match(family_dir.name):
            continue
        for version_dir in sorted(family_dir.iterdir()):
            if version_dir.name.startswith(".") or not version_dir.is_dir():
                continue  # a killed save's or delete's leftovers
            try:
                store.check_name(version_dir.name, "version")
                store.read_model_json(version_dir)
                added = blobs.put_folder(family_dir.name, version_dir.name, version_dir)
            except (StoreError, OSError) as error:
                if isinstance(error, db.DatabaseError) and "not reachable" in str(error):
                    raise
                _tally(counts, "versions_unreadable", False)
                continue
            _tally(counts, "versions", added)


TEACH_SUFFIXES = (".png", ".wav")  # the sample files the Teach page stored (photos and drawings, one-second sounds)


def _teach_project(folder: Path) -> tuple[str, list[str], str, list[tuple[str, str, str, bytes]]]:
    """(kind, classes, created, samples) of a Teach project folder; StoreError when it cannot be read as one."""
    try:
        meta = json.loads((folder / "project.json").read_text(encoding="utf-8"))
        kind, classes = meta["kind"], meta["classes"]
    except (OSError, ValueError, KeyError, TypeError):
        raise StoreError(f"{folder.name} has no readable project.json.") from None
    names = [c for c in classes if isinstance(c, str)] if isinstance(classes, list) else []
    bad = [c for c in names if c.startswith(".") or c.lower() == "project.json" or Path(c).name != c or c == ".."]
    if not isinstance(kind, str) or not kind or not names or len(names) != len(classes) or bad:
        raise StoreError(f"{folder.name}'s project.json does not name a kind and its classes.")
    samples = [
        (path.stem, name, path.suffix, path.read_bytes())
        for name in names
        if (folder / name).is_dir()
        for path in sorted((folder / name).iterdir())
        if path.is_file() and not path.name.startswith(".") and path.suffix in TEACH_SUFFIXES
    ]
    return kind, names, str(meta.get("created", "")), samples


def _import_teach(folder: Path, counts: dict) -> None:
    """Each teach/<owner>/<project>/ folder with its samples, in one transaction per project."""
    teach = folder / "teach"
    for owner_dir in sorted(teach.iterdir()) if teach.is_dir() else []:
        for project_dir in sorted(owner_dir.iterdir()) if owner_dir.is_dir() else []:
            if project_dir.name.startswith(".") or not project_dir.is_dir():
                continue  # a lock file, or an old store's half-made or deleted project
            try:
                owner = store.check_name(owner_dir.name, "owner")
                name = store.check_name(project_dir.name, "project name")
                kind, classes, created, samples = _teach_project(project_dir)
                added = teach_rows.import_project(owner, name, kind, classes, created, samples)
            except (StoreError, OSError) as error:
                if isinstance(error, db.DatabaseError) and "not reachable" in str(error):
                    raise
                _tally(counts, "teach_projects_unreadable", False)
                continue
            _tally(counts, "teach_projects", added)
            for _ in samples:
                _tally(counts, "teach_samples", added)


def import_folder(folder: str | Path) -> dict:
    """Move the user-data folder's work into the database; returns what was added and what was there already."""
    folder = Path(folder)
    if not folder.is_dir():
        raise StoreError(f"There is no folder {folder.name!r} to import.")
    db.engine()  # the database is there and at the newest revision before anything is copied
    counts: dict = {"database": db.backend()}
    database = folder / "samples.sqlite3"
    _import_samples(database, counts)
    _import_classes(database, counts)
    _import_profiles(folder, counts)
    _import_versions(folder, counts)
    _import_teach(folder, counts)
    return counts


def upgrade() -> dict:
    """Bring the database to the newest revision (the app does the same when it first opens it)."""
    with db.reading() as connection:
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return {"database": db.backend(), "revision": revision}
