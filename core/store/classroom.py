"""Classes: a teacher opens one and gets a join code, students join with it under a nickname, share their samples with
it (core.samples pools them, as the Coding Train crowdsourced its colours), and every member's retrain result is kept
for the class to see side by side. Stored in the samples database; owners are core.identity's owner ids."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import sqlite3
from dataclasses import dataclass

from core.store import samples

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: a code is read aloud and typed from a projector
CODE_LENGTH = 6  # 32**6 ≈ 10**9 codes: not guessable in practice by a class, short enough to type
CODE_PATTERN = re.compile(rf"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")
NICKNAME_PATTERN = re.compile(r"^[\w][\w .'-]{0,23}$", re.UNICODE)
MAX_MEMBERS = 200  # a lecture hall; past it a join is refused (one class must not fill the database)
MAX_RESULTS_SHOWN = 500

SCHEMA = """
CREATE TABLE IF NOT EXISTS classes (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    teacher TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS class_members (
    code TEXT NOT NULL,
    owner TEXT NOT NULL,
    nickname TEXT NOT NULL,
    joined_at TEXT NOT NULL,
    PRIMARY KEY (code, owner)
);
CREATE TABLE IF NOT EXISTS class_results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL,
    owner TEXT NOT NULL,
    family TEXT NOT NULL,
    accuracy REAL NOT NULL,
    epochs INTEGER NOT NULL,
    batch_size INTEGER NOT NULL,
    learning_rate REAL NOT NULL,
    seed INTEGER NOT NULL,
    seconds REAL NOT NULL,
    version_id TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
"""


class ClassError(ValueError):
    """A class request that cannot be done, in plain words."""


@dataclass(frozen=True)
class ClassInfo:
    code: str
    name: str
    teacher: str  # the owner id who opened it
    members: int


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _connect(path=None) -> sqlite3.Connection:
    conn = samples.connect(path)  # the same database, WAL mode, plain errors
    try:
        conn.executescript(SCHEMA)
    except sqlite3.Error as exc:
        conn.close()
        raise samples.SampleStoreError(f"The class tables cannot be created ({exc}).") from None
    return conn


def _run(sql: str, params: tuple = (), path=None) -> list[tuple]:
    conn = _connect(path)
    try:
        with conn:
            return conn.execute(sql, params).fetchall()
    except sqlite3.Error as exc:
        raise samples.SampleStoreError(f"The class database refused the request ({exc}).") from None
    finally:
        conn.close()


def check_code(code) -> str:
    """A join code as typed (spaces and case forgiven), or a plain error."""
    text = re.sub(r"[\s-]", "", str(code or "")).upper()[:32]
    if not CODE_PATTERN.match(text):
        raise ClassError(
            f"A join code is {CODE_LENGTH} letters and digits, like K7QM3X; check it on the teacher's screen."
        )
    return text


def check_nickname(nickname) -> str:
    text = " ".join(str(nickname or "").split())
    if not NICKNAME_PATTERN.match(text):
        raise ClassError("A nickname is 1 to 24 letters, digits, spaces, '.', ''', '_' or '-', starting with a letter.")
    return text


def _owner(owner: str) -> str:
    if not owner:
        raise ClassError("Classes need an identity: open the app in a browser that keeps cookies, or log in.")
    return owner


def open_class(teacher: str, name: str, path=None) -> ClassInfo:
    """A new class with a fresh join code; the teacher is its first member."""
    name = " ".join(str(name or "").split())[:60] or "My class"
    for _ in range(20):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if not _run("SELECT 1 FROM classes WHERE code = ?", (code,), path):
            break
    else:  # 20 collisions in a billion codes: the table is full of something else
        raise ClassError("No free join code was found; try again.")
    _run("INSERT INTO classes VALUES (?, ?, ?, ?)", (code, name, _owner(teacher), _now()), path)
    _run("INSERT INTO class_members VALUES (?, ?, ?, ?)", (code, teacher, "Teacher", _now()), path)
    return ClassInfo(code, name, teacher, 1)


def class_info(code: str, path=None) -> ClassInfo:
    code = check_code(code)
    rows = _run("SELECT code, name, teacher FROM classes WHERE code = ?", (code,), path)
    if not rows:
        raise ClassError(f"There is no class with the code {code}: check it on the teacher's screen.")
    n = _run("SELECT COUNT(*) FROM class_members WHERE code = ?", (code,), path)[0][0]
    return ClassInfo(*rows[0], members=int(n))


def join_class(owner: str, code: str, nickname: str, path=None) -> ClassInfo:
    """Join (or rename yourself in) a class; another member's nickname is refused so the results stay readable."""
    info = class_info(code, path)
    nickname = check_nickname(nickname)
    taken = _run(
        "SELECT 1 FROM class_members WHERE code = ? AND nickname = ? AND owner != ?",
        (info.code, nickname, _owner(owner)),
        path,
    )
    if taken:
        raise ClassError(f"Someone in this class is already called {nickname!r}: choose another nickname.")
    if info.members >= MAX_MEMBERS and not is_member(owner, info.code, path):
        raise ClassError(f"This class is full ({MAX_MEMBERS} members).")
    _run(
        "INSERT INTO class_members VALUES (?, ?, ?, ?) ON CONFLICT (code, owner) DO UPDATE SET nickname = ?",
        (info.code, owner, nickname, _now(), nickname),
        path,
    )
    return class_info(info.code, path)


def is_member(owner: str, code: str, path=None) -> bool:
    return bool(_run("SELECT 1 FROM class_members WHERE code = ? AND owner = ?", (code, owner), path))


def leave_class(owner: str, code: str, path=None) -> None:
    """Leave a class: your samples go back to private; your results stay in the class's record."""
    if samples.shared_counts(_owner(owner), code, path):
        samples.share_with_class(owner, "", path)
    _run("DELETE FROM class_members WHERE code = ? AND owner = ?", (code, owner), path)


def members(code: str, path=None) -> list[dict]:
    rows = _run("SELECT owner, nickname, joined_at FROM class_members WHERE code = ? ORDER BY joined_at", (code,), path)
    return [{"owner": o, "nickname": n, "joined": j} for o, n, j in rows]


def nickname_of(owner: str, code: str, path=None) -> str:
    rows = _run("SELECT nickname FROM class_members WHERE code = ? AND owner = ?", (code, owner), path)
    return rows[0][0] if rows else ""


def record_result(code: str, owner: str, outcome: dict, path=None) -> bool:
    """Keep a finished retrain's validation accuracy and settings for the class (once per saved version).

    Returns False when it was recorded before (a page shows results on every rerun)."""
    if not is_member(owner, code, path):
        raise ClassError("Join the class before sending it your results.")
    settings = outcome.get("settings") or {}
    accuracy = float((outcome.get("after") or {}).get("accuracy", float("nan")))
    try:
        _run(
            "INSERT INTO class_results (code, owner, family, accuracy, epochs, batch_size, learning_rate, seed, "
            "seconds, version_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                code,
                owner,
                str(outcome.get("family", "")),
                accuracy,
                int(settings.get("epochs", outcome.get("epochs_run", 0))),
                int(settings.get("batch_size", 0)),
                float(settings.get("learning_rate", 0.0)),
                int(settings.get("seed", 0)),
                float(outcome.get("seconds", 0.0)),
                str(outcome["version_id"]),
                _now(),
            ),
            path,
        )
    except samples.SampleStoreError as exc:
        if "UNIQUE" in str(exc):
            return False
        raise
    return True


def results(code: str, family: str | None = None, path=None) -> list[dict]:
    """Every member's recorded runs, oldest first, with their nickname (for the side-by-side view)."""
    where, params = ("AND r.family = ?", (code, family)) if family else ("", (code,))
    rows = _run(
        "SELECT COALESCE(m.nickname, '(left)'), r.family, r.accuracy, r.epochs, r.batch_size, r.learning_rate, "
        "r.seed, r.seconds, r.created_at FROM class_results r LEFT JOIN class_members m "
        f"ON m.code = r.code AND m.owner = r.owner WHERE r.code = ? {where} ORDER BY r.id LIMIT {MAX_RESULTS_SHOWN}",
        params,
        path,
    )
    keys = ("nickname", "family", "accuracy", "epochs", "batch_size", "learning_rate", "seed", "seconds", "at")
    return [dict(zip(keys, row)) for row in rows]


def spread(rows: list[dict]) -> dict:
    """Run-to-run variance in one line's numbers: how many runs, and the lowest, median and highest accuracy."""
    acc = sorted(r["accuracy"] for r in rows if r["accuracy"] == r["accuracy"])  # NaN-free
    if not acc:
        return {"runs": 0}
    mid = len(acc) // 2
    median = acc[mid] if len(acc) % 2 else (acc[mid - 1] + acc[mid]) / 2
    return {"runs": len(acc), "min": acc[0], "median": median, "max": acc[-1]}
