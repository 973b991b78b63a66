"""Classes: a teacher opens one and gets a join code, students join with it under a nickname, share their samples with
it (core.samples pools them, as the Coding Train crowdsourced its colours), and every member's retrain result is kept
for the class to see side by side. Stored in the samples database; owners are core.identity's owner ids."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from core.settings import get_settings
from core.store import samples

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: a code is read aloud and typed from a projector
# 32**8 ≈ 1.1e12 codes. Wrong codes are limited to JOIN_FAILURES_PER_IDENTITY / _PER_ADDRESS per JOIN_WINDOW_S, so
# one address tries at most 2,880 codes a day: with 1,000 classes open, one hit takes it about a million years.
CODE_LENGTH = 8
CODE_PATTERN = re.compile(rf"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")
NICKNAME_PATTERN = re.compile(r"^[\w][\w .'-]{0,23}$", re.UNICODE)
RESERVED_NICKNAMES = frozenset({"teacher", "admin", "administrator", "moderator", "system", "everyone", "staff"})
MAX_MEMBERS = 200  # the most a teacher may allow: a lecture hall (one class must not fill the database)
DEFAULT_MAX_MEMBERS = 40  # a school class and its helpers; the teacher raises or lowers it
MAX_RESULTS_SHOWN = 500
JOIN_WINDOW_S = 600.0  # wrong join codes are counted over ten minutes
JOIN_FAILURES_PER_IDENTITY = 5  # a student mistyping a code five times waits ten minutes
JOIN_FAILURES_PER_ADDRESS = 20  # a school behind one address: a few students mistyping together still get in

SCHEMA = """
CREATE TABLE IF NOT EXISTS classes (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    teacher TEXT NOT NULL,
    created_at TEXT NOT NULL,
    joining INTEGER NOT NULL DEFAULT 1,  -- 0: the teacher closed joining
    max_members INTEGER NOT NULL DEFAULT 200
);
CREATE TABLE IF NOT EXISTS join_failures (
    key TEXT NOT NULL,  -- 'owner:<owner id>' or 'address:<address>'
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS join_failures_key ON join_failures (key, at);
CREATE TABLE IF NOT EXISTS shared_versions (
    family TEXT NOT NULL,
    version_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    code TEXT NOT NULL,  -- the class it is shared with
    PRIMARY KEY (family, version_id)
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
CREATE TABLE IF NOT EXISTS shared_projects (
    owner TEXT NOT NULL,
    project TEXT NOT NULL,  -- a Teach project's name in its owner's folder
    code TEXT NOT NULL,  -- the class it is shared with
    shared_at TEXT NOT NULL,
    PRIMARY KEY (owner, project)
);
"""


class ClassError(ValueError):
    """A class request that cannot be done, in plain words."""


# Databases written before the teacher's controls get their columns (old classes stay open, capped as before).
MIGRATIONS = [
    ("joining", "ALTER TABLE classes ADD COLUMN joining INTEGER NOT NULL DEFAULT 1"),
    ("max_members", f"ALTER TABLE classes ADD COLUMN max_members INTEGER NOT NULL DEFAULT {MAX_MEMBERS}"),
]


@dataclass(frozen=True)
class ClassInfo:
    code: str
    name: str
    teacher: str  # the owner id who opened it
    members: int
    joining: bool = True  # False: the teacher closed joining
    max_members: int = MAX_MEMBERS


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


_READY: set[tuple[str, int]] = set()  # databases whose class tables this process has made (samples._READY's twin)


def _connect(path=None) -> sqlite3.Connection:
    conn = samples.connect(path)  # the same database, WAL mode, plain errors
    database = Path(path or get_settings().database)
    try:
        if samples.file_key(database) not in _READY:
            conn.executescript(SCHEMA)
            have = {row[1] for row in conn.execute("PRAGMA table_info(classes)")}
            for column, sql in MIGRATIONS:
                if column not in have:
                    conn.execute(sql)
            _READY.add(samples.file_key(database))
    except sqlite3.Error as exc:
        conn.close()
        raise samples.SampleStoreError(f"The class tables cannot be created ({samples.plain_db_error(exc)}).") from None
    return conn


def _run(sql: str, params: tuple = (), path=None) -> list[tuple]:
    conn = _connect(path)
    try:
        with conn:
            return conn.execute(sql, params).fetchall()
    except sqlite3.Error as exc:
        raise samples.SampleStoreError(
            f"The class database refused the request ({samples.plain_db_error(exc)})."
        ) from None
    finally:
        conn.close()


def check_code(code) -> str:
    """A join code as typed (spaces, dashes and case forgiven), or a plain error."""
    text = re.sub(r"[\s-]", "", str(code or "")).upper()[:32]
    if not CODE_PATTERN.match(text):
        raise ClassError(
            f"A join code is {CODE_LENGTH} letters and digits, like K7QM-3XPA; check it on the teacher's screen."
        )
    return text


def check_nickname(nickname) -> str:
    text = " ".join(str(nickname or "").split())
    if not NICKNAME_PATTERN.match(text):
        raise ClassError("A nickname is 1 to 24 letters, digits, spaces, '.', ''', '_' or '-', starting with a letter.")
    if re.sub(r"[\W_]", "", text).lower() in RESERVED_NICKNAMES:
        raise ClassError(f"The nickname {text!r} is kept for the class's teacher: choose your own name.")
    return text


def check_class_name(name) -> str:
    return " ".join(str(name or "").split())[:60] or "My class"


def check_member_cap(cap) -> int:
    try:
        value = int(cap)
    except (TypeError, ValueError):
        raise ClassError(f"The member limit must be a whole number from 2 to {MAX_MEMBERS}.") from None
    if not 2 <= value <= MAX_MEMBERS:
        raise ClassError(f"The member limit must be from 2 to {MAX_MEMBERS} (got {value}).")
    return value


def _owner(owner: str) -> str:
    if not owner:
        raise ClassError("Classes need an identity: open the app in a browser that keeps cookies, or log in.")
    return owner


def open_class(teacher: str, name: str, path=None, max_members: int = DEFAULT_MAX_MEMBERS) -> ClassInfo:
    """A new class with a fresh join code; the teacher is its first member."""
    name, cap = check_class_name(name), check_member_cap(max_members)
    for _ in range(20):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if not _run("SELECT 1 FROM classes WHERE code = ?", (code,), path):
            break
    else:  # 20 collisions in a trillion codes: the table is full of something else
        raise ClassError("No free join code was found; try again.")
    _run(
        "INSERT INTO classes (code, name, teacher, created_at, joining, max_members) VALUES (?, ?, ?, ?, 1, ?)",
        (code, name, _owner(teacher), _now(), cap),
        path,
    )
    _run("INSERT INTO class_members VALUES (?, ?, ?, ?)", (code, teacher, "Teacher", _now()), path)
    return ClassInfo(code, name, teacher, 1, True, cap)


def class_info(code: str, path=None) -> ClassInfo:
    code = check_code(code)
    rows = _run("SELECT code, name, teacher, joining, max_members FROM classes WHERE code = ?", (code,), path)
    if not rows:
        raise ClassError(f"There is no class with the code {code}: check it on the teacher's screen.")
    n = _run("SELECT COUNT(*) FROM class_members WHERE code = ?", (code,), path)[0][0]
    found, name, teacher, joining, cap = rows[0]
    return ClassInfo(found, name, teacher, int(n), bool(joining), int(cap))


def join_class(owner: str, code: str, nickname: str, path=None) -> ClassInfo:
    """Join (or rename yourself in) a class; another member's nickname is refused so the results stay readable."""
    info = class_info(code, path)
    nickname = check_nickname(nickname)
    member = is_member(_owner(owner), info.code, path)
    if not member and not info.joining:
        raise ClassError("The teacher has closed this class to new members: ask them to open it again.")
    taken = _run(
        "SELECT 1 FROM class_members WHERE code = ? AND nickname = ? AND owner != ?",
        (info.code, nickname, owner),
        path,
    )
    if taken:
        raise ClassError(f"Someone in this class is already called {nickname!r}: choose another nickname.")
    if info.members >= info.max_members and not member:
        raise ClassError(f"This class is full ({info.max_members} members): ask the teacher to raise the limit.")
    _run(
        "INSERT INTO class_members VALUES (?, ?, ?, ?) ON CONFLICT (code, owner) DO UPDATE SET nickname = ?",
        (info.code, owner, nickname, _now(), nickname),
        path,
    )
    return class_info(info.code, path)


# ---------------------------------------------------------------- the teacher's controls and the join limit


def set_joining(code: str, open_: bool, path=None) -> None:
    _run("UPDATE classes SET joining = ? WHERE code = ?", (int(bool(open_)), code), path)


def rename_class(code: str, name: str, path=None) -> None:
    _run("UPDATE classes SET name = ? WHERE code = ?", (check_class_name(name), code), path)


def set_member_cap(code: str, cap: int, path=None) -> None:
    _run("UPDATE classes SET max_members = ? WHERE code = ?", (check_member_cap(cap), code), path)


def remove_member(code: str, owner: str, path=None) -> None:
    _run("DELETE FROM class_members WHERE code = ? AND owner = ?", (code, owner), path)


def share_version(family: str, version_id: str, owner: str, code: str, path=None) -> None:
    """Share a saved version with a class ('' code: private again)."""
    if code:
        _run(
            "INSERT INTO shared_versions VALUES (?, ?, ?, ?) ON CONFLICT (family, version_id) DO UPDATE SET code = ?",
            (family, version_id, owner, code, code),
            path,
        )
    else:
        _run("DELETE FROM shared_versions WHERE family = ? AND version_id = ?", (family, version_id), path)


def version_shares(family: str, path=None) -> dict[str, tuple[str, str]]:
    """{version id: (owner, class code)} of a family's versions shared with a class."""
    rows = _run("SELECT version_id, owner, code FROM shared_versions WHERE family = ?", (family,), path)
    return {v: (o, c) for v, o, c in rows}


def classes_of(owner: str, path=None) -> set[str]:
    """The codes of every class `owner` is a member of."""
    return {row[0] for row in _run("SELECT code FROM class_members WHERE owner = ?", (owner,), path)}


def note_join_failure(keys: list[str], path=None) -> None:
    """Count one wrong join code against each key (and forget counts older than the window)."""
    now = time.time()
    _run("DELETE FROM join_failures WHERE at < ?", (now - JOIN_WINDOW_S,), path)
    for key in keys:
        _run("INSERT INTO join_failures VALUES (?, ?)", (key, now), path)


def join_failures(key: str, path=None) -> int:
    """Wrong join codes counted against `key` within the window."""
    since = time.time() - JOIN_WINDOW_S
    return int(_run("SELECT COUNT(*) FROM join_failures WHERE key = ? AND at >= ?", (key, since), path)[0][0])


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


@dataclass(frozen=True)
class RunRecord:
    """What a class keeps of one member's finished retrain: plain values (the engine's outcome builds it)."""

    family: str
    version_id: str
    accuracy: float  # validation accuracy of the retrained model; NaN when it had no validation samples
    epochs: int
    batch_size: int
    learning_rate: float
    seed: int
    seconds: float


def record_result(code: str, owner: str, run: RunRecord, path=None) -> bool:
    """Keep a finished retrain's validation accuracy and settings for the class (once per saved version).

    Returns False when it was recorded before (a page shows results on every rerun)."""
    if not is_member(owner, code, path):
        raise ClassError("Join the class before sending it your results.")
    try:
        _run(
            "INSERT INTO class_results (code, owner, family, accuracy, epochs, batch_size, learning_rate, seed, "
            "seconds, version_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                code,
                owner,
                str(run.family),
                float(run.accuracy),
                int(run.epochs),
                int(run.batch_size),
                float(run.learning_rate),
                int(run.seed),
                float(run.seconds),
                str(run.version_id),
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
    """Members' recorded runs, oldest first, with their nickname (for the side-by-side view): the newest
    MAX_RESULTS_SHOWN of them, so a busy class always sees its latest runs (count_results says how many there are)."""
    where, params = ("AND r.family = ?", (code, family)) if family else ("", (code,))
    rows = _run(
        "SELECT COALESCE(m.nickname, '(left)'), r.family, r.accuracy, r.epochs, r.batch_size, r.learning_rate, "
        "r.seed, r.seconds, r.created_at FROM class_results r LEFT JOIN class_members m "
        f"ON m.code = r.code AND m.owner = r.owner WHERE r.code = ? {where} ORDER BY r.id DESC "
        f"LIMIT {int(MAX_RESULTS_SHOWN)}",
        params,
        path,
    )
    keys = ("nickname", "family", "accuracy", "epochs", "batch_size", "learning_rate", "seed", "seconds", "at")
    return [dict(zip(keys, row)) for row in reversed(rows)]


def count_results(code: str, family: str | None = None, path=None) -> int:
    """How many runs the class has recorded (results() returns the newest MAX_RESULTS_SHOWN of them)."""
    where, params = ("AND family = ?", (code, family)) if family else ("", (code,))
    return int(_run(f"SELECT COUNT(*) FROM class_results WHERE code = ? {where}", params, path)[0][0])


def spread(rows: list[dict]) -> dict:
    """Run-to-run variance in one line's numbers: how many runs, and the lowest, median and highest accuracy."""
    acc = sorted(r["accuracy"] for r in rows if r["accuracy"] == r["accuracy"])  # NaN-free
    if not acc:
        return {"runs": 0}
    mid = len(acc) // 2
    median = acc[mid] if len(acc) % 2 else (acc[mid - 1] + acc[mid]) / 2
    return {"runs": len(acc), "min": acc[0], "median": median, "max": acc[-1]}


# ---------------------------------------------------------------- the teacher's live view and shared Teach projects

ROSTER_KEYS = (
    "owner", "nickname", "joined", "is_teacher", "shared_colors", "shared_drawings", "runs", "last_accuracy",
    "last_family", "class_runs",
)  # fmt: skip


def roster(code: str, teacher: str, path=None) -> list[dict]:
    """Every member of the class with what the teacher's live view shows of them, in one query (it runs every few
    seconds): samples shared, runs recorded, the last run's accuracy and family, and the class's run count.
    [] unless `teacher` is the class's teacher."""
    rows = _run(
        "SELECT m.owner, m.nickname, m.joined_at, m.owner = c.teacher, "
        "(SELECT COUNT(*) FROM color_labels s WHERE s.owner = m.owner AND s.class_code = m.code), "
        "(SELECT COUNT(*) FROM drawings s WHERE s.owner = m.owner AND s.class_code = m.code), "
        "(SELECT COUNT(*) FROM class_results r WHERE r.code = m.code AND r.owner = m.owner), "
        "(SELECT r.accuracy FROM class_results r WHERE r.code = m.code AND r.owner = m.owner ORDER BY r.id DESC "
        "LIMIT 1), "
        "(SELECT r.family FROM class_results r WHERE r.code = m.code AND r.owner = m.owner ORDER BY r.id DESC "
        "LIMIT 1), "
        "(SELECT COUNT(*) FROM class_results r WHERE r.code = m.code) "
        "FROM class_members m JOIN classes c ON c.code = m.code WHERE m.code = ? AND c.teacher = ? "
        "ORDER BY m.owner = c.teacher DESC, m.joined_at, m.nickname",
        (code, teacher),
        path,
    )
    return [dict(zip(ROSTER_KEYS, row)) for row in rows]


def share_project(owner: str, project: str, code: str, path=None) -> None:
    """Share `owner`'s Teach project `project` with the class `code` (one class at a time: the newest share wins)."""
    _run(
        "INSERT INTO shared_projects VALUES (?, ?, ?, ?) ON CONFLICT (owner, project) DO UPDATE SET code = ?, "
        "shared_at = ?",
        (_owner(owner), str(project), code, _now(), code, _now()),
        path,
    )


def unshare_project(owner: str, project: str, path=None) -> bool:
    """Take `owner`'s project out of its class; False when it was not shared."""
    if not project_share(owner, project, path):
        return False
    _run("DELETE FROM shared_projects WHERE owner = ? AND project = ?", (owner, str(project)), path)
    return True


def project_share(owner: str, project: str, path=None) -> str:
    """The class code `owner`'s project is shared with ("" private)."""
    rows = _run("SELECT code FROM shared_projects WHERE owner = ? AND project = ?", (owner, str(project)), path)
    return rows[0][0] if rows else ""


def shared_projects(code: str, path=None) -> list[dict]:
    """The class's shared Teach projects whose owners are still members, with their nickname, oldest share first."""
    rows = _run(
        "SELECT p.owner, p.project, m.nickname, p.shared_at FROM shared_projects p JOIN class_members m "
        "ON m.code = p.code AND m.owner = p.owner WHERE p.code = ? ORDER BY p.shared_at, p.project",
        (code,),
        path,
    )
    return [{"owner": o, "project": p, "nickname": n, "shared_at": at} for o, p, n, at in rows]
