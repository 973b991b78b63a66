"""A machine's cache of Teach projects: <user data>/teach/<owner>/<project>/<class>/<sample id>.png|.wav plus
project.json, made from the rows (core.store.teach_rows) when a reader needs files (training, the experiments, the
samples browser). Missing, it is made whole in a temp folder and renamed in at once; stale (its project.json records
an older revision), it is brought up to date; one process of the machine at a time per project (an flock)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.settings import get_settings
from core.store import leftovers, teach_rows
from core.store import models as store
from core.store.topology import StoreError

PROJECT_JSON = "project.json"  # the cache's record of what it holds: kind, classes, row key and revision
FETCH_AT_ONCE = 100  # samples read from the database per query while a cache is made (bounded memory)
Found = tuple[teach_rows.ProjectRow, list[tuple[str, str, str]]]


class CacheError(StoreError):
    """The cache folder could not be written on this machine (a full disk); the rows are untouched."""


def base() -> Path:
    return (get_settings().user_data_dir / "teach").resolve()


def project_of(folder: str | Path) -> tuple[str, str] | None:
    """(owner, project) when `folder` is a project's cache folder under this machine's Teach folder, else None."""
    try:
        resolved = Path(folder).resolve()
        if resolved.parent.parent != base():
            return None
        return store.check_name(resolved.parent.name, "owner"), store.check_name(resolved.name, "project name")
    except (OSError, StoreError):
        return None


@contextmanager
def _held(folder: Path) -> Iterator[None]:
    """One process (and thread) of this machine at a time changes the project's cache: an flock on a hidden file
    beside it (not in it, so the folder stays exactly the training layout). Each call opens the file itself."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield  # the lock goes with the file's closing


def _marker(folder: Path) -> dict | None:
    try:
        found = json.loads((folder / PROJECT_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _write(path: Path, data: bytes) -> None:
    """A hidden temp file beside `path`, fsynced, renamed: a reader sees the whole file or none."""
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:6]}.tmp"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _sync_all(paths: list[Path]) -> None:
    """fsync files written unsynced, and their folders: one after another they cost about one disk flush, where
    fsyncing each as it was written cost one flush each (2,000 samples: 4.3 s of a 6.1 s rebuild)."""
    for path in paths:
        store.fsync_path(path)


def _remove(path: Path) -> None:
    """Take a file or folder away: a folder is renamed aside first, so no listing sees half of it."""
    if path.is_dir():
        trash = path.parent / f".deleted-{path.name}-{uuid.uuid4().hex[:6]}"
        os.rename(path, trash)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _class_dir(folder: Path, class_name: str) -> Path:
    """A class's folder inside the project's, never outside it (the family checked the name; this holds anyway)."""
    path = folder / class_name
    if class_name.startswith(".") or class_name.lower() == PROJECT_JSON or path.resolve().parent != folder.resolve():
        raise CacheError(f"The class name {class_name!r} cannot be a folder.")
    return path


def _fill(row: teach_rows.ProjectRow, missing: list[tuple[str, Path]], known: dict) -> list[Path]:
    """Write the missing sample files, unsynced (the caller syncs them together, then shows them): known bytes
    first, the rest read from the database a batch at a time. Returns the files written."""
    written = []
    for sample_id, path in missing:
        if sample_id in known:
            path.write_bytes(known[sample_id])
            written.append(path)
    rest = [(sample_id, path) for sample_id, path in missing if sample_id not in known]
    for start in range(0, len(rest), FETCH_AT_ONCE):
        batch = dict(rest[start : start + FETCH_AT_ONCE])
        for sample_id, data in teach_rows.sample_bytes(row.key, list(batch)).items():
            batch[sample_id].write_bytes(data)
            written.append(batch[sample_id])
    return written


def _record(folder: Path, row: teach_rows.ProjectRow) -> None:
    meta = {"kind": row.kind, "classes": row.classes, "created": row.created, "project": row.key}
    _write(folder / PROJECT_JSON, json.dumps({**meta, "revision": row.revision}, indent=1).encode())


def _wanted(folder: Path, row: teach_rows.ProjectRow, samples: list) -> dict[str, dict[str, str]]:
    """{class folder name: {file name: sample id}} the rows say the cache holds."""
    wanted: dict[str, dict[str, str]] = {_class_dir(folder, c).name: {} for c in row.classes or []}
    for sample_id, class_name, suffix in samples:
        if class_name in wanted:
            wanted[class_name][f"{sample_id}{suffix}"] = sample_id
    return wanted


def _build(folder: Path, row: teach_rows.ProjectRow, samples: list, known: dict) -> None:
    """The whole cache folder in a temp folder beside it, then one rename."""
    tmp = folder.parent / f"{leftovers.TMP_PREFIX}{folder.name}-{uuid.uuid4().hex[:8]}"
    try:
        missing, folders = [], [tmp]
        for class_name, files in _wanted(folder, row, samples).items():
            folders.append(tmp / class_name)
            folders[-1].mkdir(parents=True)
            missing += [(sample_id, tmp / class_name / name) for name, sample_id in files.items()]
        _sync_all(_fill(row, missing, known) + folders)  # all on disk before the folder appears
        _record(tmp, row)
        os.rename(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _bring_up_to_date(folder: Path, row: teach_rows.ProjectRow, samples: list, known: dict) -> None:
    """Remove what the rows no longer hold, write what they gained (only those bytes are read), record the revision
    last: a cache that says it is fresh is."""
    wanted = _wanted(folder, row, samples)
    for entry in folder.iterdir():
        if entry.name != PROJECT_JSON and not (entry.is_dir() and entry.name in wanted):
            _remove(entry)
    missing = []
    for class_name, files in wanted.items():
        (folder / class_name).mkdir(exist_ok=True)
        for entry in (folder / class_name).iterdir():
            if entry.name not in files:
                _remove(entry)
        missing += [(i, folder / class_name / n) for n, i in files.items() if not (folder / class_name / n).exists()]
    staged = [(i, path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}.tmp")) for i, path in missing]  # hidden
    try:
        _sync_all(_fill(row, staged, known))  # one flush for them all, then each appears whole
        for (_, path), (_, tmp) in zip(missing, staged):
            if tmp.exists():  # not when the sample was deleted meanwhile
                os.replace(tmp, path)
    finally:
        for _, tmp in staged:
            tmp.unlink(missing_ok=True)
    _record(folder, row)


def sync(folder: Path, owner: str, name: str, known: dict[str, bytes] | None = None) -> Found | None:
    """Make the project's cache folder match its rows; returns the rows it now holds (None: no such project, and the
    folder is left alone). `known`: bytes already in hand (just added), not read again. A folder the old file store
    made (its project.json has no row key) is moved aside whole, never deleted: import it with `python -m core db
    import-folder`."""
    try:
        with _held(folder):
            found = teach_rows.index(owner, name)
            if found is None or found[0].classes is None:
                return found
            row, samples = found
            mark = _marker(folder)
            if mark is not None and mark.get("project") == row.key and mark.get("revision") == row.revision:
                return found
            if folder.is_dir() and (mark is None or "project" not in mark):
                os.rename(folder, folder.parent / f".legacy-{folder.name}-{uuid.uuid4().hex[:6]}")
            elif folder.is_dir() and mark.get("project") != row.key:  # a deleted project's cache, same name
                _remove(folder)
            if folder.is_dir():
                _bring_up_to_date(folder, row, samples, known or {})
            else:
                _build(folder, row, samples, known or {})
            return found
    except OSError as error:
        raise CacheError(
            f"The project's files could not be written on this server ({error.strerror or type(error).__name__})."
        ) from None


def follow(folder: Path, owner: str, name: str, known: dict[str, bytes] | None = None) -> None:
    """After a write this machine's cache follows at once; a disk that refuses leaves it to the next read."""
    try:
        sync(folder, owner, name, known)
    except CacheError:
        pass


def fill_cache(folder: str | Path) -> bool:
    """Bring a project's cache folder up to date before its files are read (a training on any machine); False when
    `folder` is no project's cache (any other folder is read as it is)."""
    found = project_of(folder)
    return found is not None and sync(Path(folder), *found) is not None


def drop(folder: Path) -> None:
    """Remove a deleted project's cache folder."""
    try:
        with _held(folder):
            if folder.is_dir():
                _remove(folder)
    except OSError:
        pass  # another process removed it first, or the disk refuses: nothing lists a project without its row


def paths(folder: Path, found: Found) -> dict[str, list[Path]]:
    """Every class's sample files in the cache folder, oldest first, as the rows say."""
    row, samples = found
    out: dict[str, list[Path]] = {c: [] for c in row.classes or []}
    for sample_id, class_name, suffix in samples:
        if class_name in out:
            out[class_name].append(folder / class_name / f"{sample_id}{suffix}")
    return out
