"""Model versions as rows: each version's files (model.json, its weight shards) are blobs in the database keyed by
(family, version id), so every app process and worker on any machine lists and loads the same versions. A version's
folder on disk is only a local cache, made from its rows (temp folder, then one rename) when a read finds it missing."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import uuid
from pathlib import Path

from sqlalchemy import delete, exc, insert, select

from core.settings import get_settings
from core.store import db, leftovers
from core.store import schema as t

SAVE_REFUSED = "The model could not be saved: the database refused the write ({why})."
READ_REFUSED = "The saved models cannot be read from the database ({why})."
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # core.store.models.VERSION_NAME: a family or version id
_BASES: set[Path] = set()  # cache folders this process was asked about (besides the configured models folder)
_BASES_LOCK = threading.Lock()


def put_version(family: str, version_id: str, owner: str, metadata: dict, files: dict[str, bytes]) -> bool:
    """Store a new version with all its files in one transaction; False (and nothing stored) when the id is taken."""
    row = {
        "family": family,
        "version_id": version_id,
        "owner": str(owner or ""),
        "saved_at": str(metadata.get("saved_at", "")),
        "metadata": json.dumps(metadata),
    }
    try:
        with db.writing(None, SAVE_REFUSED) as connection:
            v = t.model_versions.c
            if connection.execute(select(v.family).where(v.family == family, v.version_id == version_id)).first():
                return False
            connection.execute(insert(t.model_versions).values(**row))
            connection.execute(
                insert(t.model_files),
                [{"family": family, "version_id": version_id, "name": n, "data": d} for n, d in files.items()],
            )
    except db.DatabaseError as error:
        if isinstance(error.__context__, exc.IntegrityError) and ("UNIQUE" in str(error) or "duplicate" in str(error)):
            return False  # saved by another process between our look and our insert
        raise
    return True


MODEL_JSON = "model.json"


def folder_files(folder: Path) -> dict[str, bytes]:
    """The files of a model folder the store keeps: model.json and its .bin weight shards."""
    return {
        p.name: p.read_bytes()
        for p in sorted(folder.iterdir())
        if p.is_file() and (p.name == MODEL_JSON or p.suffix == ".bin")
    }


def put_folder(family: str, version_id: str, folder: str | Path) -> bool:
    """Store a version from a model folder on disk (an import, a test's hand-made version); False when the id is
    taken. Its metadata and owner come from model.json's userDefinedMetadata."""
    files = folder_files(Path(folder))
    try:
        metadata = json.loads(files[MODEL_JSON]).get("userDefinedMetadata") or {}
    except (KeyError, ValueError, AttributeError):
        raise db.DatabaseError(f"{Path(folder).name} has no readable {MODEL_JSON}, so it cannot be stored.") from None
    metadata = metadata if isinstance(metadata, dict) else {}
    return put_version(family, version_id, str(metadata.get("owner") or ""), metadata, files)


def version_rows(family: str) -> list[tuple[str, dict]]:
    """(version id, metadata) of every stored version of `family`, newest first (ids start with their time)."""
    v = t.model_versions.c
    with db.reading(None, READ_REFUSED) as connection:
        rows = connection.execute(
            select(v.version_id, v.metadata).where(v.family == family).order_by(v.version_id.desc())
        ).all()
    return [(version_id, _metadata(text)) for version_id, text in rows]


def version_metadata(family: str, version_id: str) -> dict | None:
    """The stored version's metadata, or None when there is no such version (deleted, or never saved)."""
    v = t.model_versions.c
    with db.reading(None, READ_REFUSED) as connection:
        text = connection.execute(select(v.metadata).where(v.family == family, v.version_id == version_id)).scalar()
    return None if text is None else _metadata(text)


def _metadata(text: str) -> dict:
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def version_files(family: str, version_id: str) -> dict[str, bytes]:
    """{file name: bytes} of a stored version ({} when there is none)."""
    f = t.model_files.c
    with db.reading(None, READ_REFUSED) as connection:
        rows = connection.execute(select(f.name, f.data).where(f.family == family, f.version_id == version_id)).all()
    return {name: bytes(data) for name, data in rows}


def delete_version(family: str, version_id: str) -> bool:
    """Delete a version's row and files in one transaction; False when there was none."""
    v, f = t.model_versions, t.model_files
    with db.writing(None, "The version could not be deleted: the database refused ({why}).") as connection:
        connection.execute(delete(f).where(f.c.family == family, f.c.version_id == version_id))
        gone = connection.execute(delete(v).where(v.c.family == family, v.c.version_id == version_id)).rowcount
    return bool(gone)


def families() -> list[str]:
    """Every family with a stored version."""
    v = t.model_versions.c
    with db.reading(None, READ_REFUSED) as connection:
        return sorted(connection.execute(select(v.family).distinct()).scalars())


# ---------------------------------------------------------------- the local cache


def remember_base(base: Path) -> None:
    """`base` holds <family>/<version id> cache folders (a models folder other than the configured one)."""
    with _BASES_LOCK:
        _BASES.add(Path(base).resolve())


def _version_of(folder: Path) -> tuple[str, str] | None:
    """(family, version id) when `folder` is a version's cache folder, else None."""
    bases = {Path(get_settings().models_dir).resolve(), *_BASES}
    try:
        resolved = folder.resolve()
    except OSError:
        return None
    if resolved.parent.parent not in bases:
        return None
    family, version_id = resolved.parent.name, resolved.name
    return (family, version_id) if _NAME.match(family) and _NAME.match(version_id) else None


def _fsync_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def fill_cache(folder: str | Path) -> bool:
    """Make a version's missing cache folder from its rows (atomically: a temp folder, then one rename). True when
    the folder is there afterwards because of this call or another's."""
    folder = Path(folder)
    if folder.is_dir():
        return False
    found = _version_of(folder)
    if found is None:
        return False
    files = version_files(*found)
    if not files:
        return False
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f"{leftovers.TMP_PREFIX}{folder.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    writing = leftovers.hold(tmp)  # no cleaner removes it while it is being written
    try:
        for name, data in files.items():
            _fsync_write(tmp / name, data)
        try:
            os.rename(tmp, folder)
        except OSError:  # another process or thread made it first: theirs is the same bytes
            if not folder.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        os.close(writing)
    return True


def drop_cache(folder: Path) -> None:
    """Remove a deleted version's cache folder (renamed away first, so listings never see half of it)."""
    if not folder.is_dir():
        return
    trash = folder.parent / f".deleted-{folder.name}-{uuid.uuid4().hex[:6]}"
    try:
        os.rename(folder, trash)
    except OSError:  # another process removed it first
        return
    shutil.rmtree(trash, ignore_errors=True)
