"""The embedded queue's job records on disk: one small JSON file per job under <user data>/jobs (id, owner and key,
title, kind, status, message, request, times and the server process that ran it), written atomically at each change,
so a restart never drops a job silently: at start, records left queued or running by a dead process become failed
with a plain message their owner's job panel shows."""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from core.settings import get_settings

RESTART_MESSAGE = "The server restarted while this training was running; nothing was saved. Start it again."
FOLDER = "jobs"
_ID = re.compile(r"^[0-9a-f]{6,64}$")
_FIELDS = (
    "id",
    "session_id",
    "owner",
    "title",
    "kind",
    "status",
    "message",
    "request",
    "created",
    "started",
    "finished",
)


def records_dir() -> Path:
    return get_settings().user_data_dir / FOLDER


def _this_server() -> dict:
    """This process, so a later one can tell whether it is still alive (a pid alone can be reused)."""
    return {"pid": os.getpid(), "boot": round(psutil.Process().create_time(), 2)}


def _alive(server: Any) -> bool:
    try:
        return round(psutil.Process(int(server["pid"])).create_time(), 2) == float(server["boot"])
    except (psutil.Error, KeyError, TypeError, ValueError):
        return False


def record_of(job: Any) -> dict:
    """The job's plain fields (never its result), copied for `write`."""
    return {name: getattr(job, name) for name in _FIELDS}


def write(record: dict, folder: Path | None = None) -> None:
    """Save a job's record (`record_of`) atomically: a crash leaves the old or the new file, never half of one."""
    if _ID.match(str(record["id"])):
        folder = folder or records_dir()
        folder.mkdir(parents=True, exist_ok=True)
        _dump(folder / f"{record['id']}.json", {**record, "server": _this_server()})


def _dump(path: Path, record: dict) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".job-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(record, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read(path: Path) -> dict | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not all(name in record for name in _FIELDS):
        return None
    return record


def recover(keep_seconds: float, folder: Path | None = None, now: float | None = None) -> list[dict]:
    """Read the records a dead process left: mark each queued or running one failed with RESTART_MESSAGE (saved
    back), delete the ones older than `keep_seconds`, those it finished itself, and unreadable ones. Returns the
    records worth showing their owners (failed by a restart), oldest first. Records of live processes are left alone."""
    folder = folder or records_dir()
    now = time.time() if now is None else now
    shown = []
    try:
        paths = sorted(folder.glob("*.json"))
    except OSError:
        return []
    for path in paths:
        record = _read(path)
        if record is not None and _alive(record.get("server")):
            continue
        if record is None or (record.get("finished") or record.get("created") or 0) < now - keep_seconds:
            path.unlink(missing_ok=True)
            continue
        if record["status"] in ("queued", "running"):
            record.update(status="failed", message=RESTART_MESSAGE, finished=now)
            _dump(path, record)
        if record["status"] == "failed" and record["message"] == RESTART_MESSAGE:
            shown.append(record)
        else:
            path.unlink(missing_ok=True)  # finished by its own server: its result went with it
    latest: dict[str, dict] = {}
    for record in sorted(shown, key=lambda r: r.get("created") or 0):
        if record["session_id"] in latest:  # an older job of the same key: the panel shows only the latest
            forget(latest[record["session_id"]]["id"], folder)
        latest[record["session_id"]] = record
    return list(latest.values())


def forget(job_id: str, folder: Path | None = None) -> None:
    """Delete a record (a job forgotten by its queue)."""
    if _ID.match(str(job_id)):
        ((folder or records_dir()) / f"{job_id}.json").unlink(missing_ok=True)
