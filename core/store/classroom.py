"""Classes: a teacher opens one and gets a join code, students join with it under a nickname, share their samples with
it (core.samples pools them, as the Coding Train crowdsourced its colours), and every member's retrain result is kept
for the class to see side by side. Stored in the database (core.store.db); owners are core.identity's owner ids."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update

from core.store import db, samples
from core.store import schema as t

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


class ClassError(ValueError):
    """A class request that cannot be done, in plain words."""


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


REFUSED = "The class database refused the request ({why})."


def _read(statement, path=None) -> list[tuple]:
    with db.reading(path, REFUSED) as connection:
        return [tuple(row) for row in connection.execute(statement)]


def _write(statement, path=None) -> int:
    with db.writing(path, REFUSED) as connection:
        return int(connection.execute(statement).rowcount or 0)


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
    """A new class with a fresh join code; the teacher is its first member (both rows, or neither)."""
    name, cap = check_class_name(name), check_member_cap(max_members)
    teacher = _owner(teacher)
    with db.writing(path, REFUSED) as connection:
        for _ in range(20):
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if connection.execute(select(t.classes.c.code).where(t.classes.c.code == code)).first() is None:
                break
        else:  # 20 collisions in a trillion codes: the table is full of something else
            raise ClassError("No free join code was found; try again.")
        row = {"code": code, "name": name, "teacher": teacher, "created_at": _now(), "joining": 1, "max_members": cap}
        connection.execute(insert(t.classes).values(**row))
        connection.execute(
            insert(t.class_members).values(code=code, owner=teacher, nickname="Teacher", joined_at=_now())
        )
    return ClassInfo(code, name, teacher, 1, True, cap)


def _info(connection, code: str) -> ClassInfo:
    c = t.classes.c
    row = connection.execute(select(c.code, c.name, c.teacher, c.joining, c.max_members).where(c.code == code)).first()
    if row is None:
        raise ClassError(f"There is no class with the code {code}: check it on the teacher's screen.")
    members = connection.execute(select(func.count()).where(t.class_members.c.code == code)).scalar()
    found, name, teacher, joining, cap = row
    return ClassInfo(found, name, teacher, int(members), bool(joining), int(cap))


def class_info(code: str, path=None) -> ClassInfo:
    code = check_code(code)
    with db.reading(path, REFUSED) as connection:
        return _info(connection, code)


def join_class(owner: str, code: str, nickname: str, path=None) -> ClassInfo:
    """Join (or rename yourself in) a class; another member's nickname is refused so the results stay readable.
    The checks and the join are one transaction, so two students joining at once cannot pass a full class's cap."""
    code, owner = check_code(code), _owner(owner)
    m = t.class_members.c
    with db.writing(path, REFUSED) as connection:
        info = _info(connection, code)
        nickname = check_nickname(nickname)
        member = connection.execute(select(m.owner).where(m.code == code, m.owner == owner)).first() is not None
        if not member and not info.joining:
            raise ClassError("The teacher has closed this class to new members: ask them to open it again.")
        taken = connection.execute(select(m.owner).where(m.code == code, m.nickname == nickname, m.owner != owner))
        if taken.first() is not None:
            raise ClassError(f"Someone in this class is already called {nickname!r}: choose another nickname.")
        if info.members >= info.max_members and not member:
            raise ClassError(f"This class is full ({info.max_members} members): ask the teacher to raise the limit.")
        row = {"code": code, "owner": owner, "nickname": nickname, "joined_at": _now()}
        db.upsert(connection, t.class_members, row, ["code", "owner"], ["nickname"])
        return _info(connection, code)


# ---------------------------------------------------------------- the teacher's controls and the join limit


def set_joining(code: str, open_: bool, path=None) -> None:
    _write(update(t.classes).where(t.classes.c.code == code).values(joining=int(bool(open_))), path)


def rename_class(code: str, name: str, path=None) -> None:
    _write(update(t.classes).where(t.classes.c.code == code).values(name=check_class_name(name)), path)


def set_member_cap(code: str, cap: int, path=None) -> None:
    _write(update(t.classes).where(t.classes.c.code == code).values(max_members=check_member_cap(cap)), path)


def remove_member(code: str, owner: str, path=None) -> None:
    m = t.class_members.c
    _write(delete(t.class_members).where(m.code == code, m.owner == owner), path)


def share_version(family: str, version_id: str, owner: str, code: str, path=None) -> None:
    """Share a saved version with a class ('' code: private again)."""
    s = t.shared_versions
    with db.writing(path, REFUSED) as connection:
        if code:
            row = {"family": family, "version_id": version_id, "owner": owner, "code": code}
            db.upsert(connection, s, row, ["family", "version_id"], ["code"])
        else:
            connection.execute(delete(s).where(s.c.family == family, s.c.version_id == version_id))


def version_shares(family: str, path=None) -> dict[str, tuple[str, str]]:
    """{version id: (owner, class code)} of a family's versions shared with a class."""
    c = t.shared_versions.c
    rows = _read(select(c.version_id, c.owner, c.code).where(c.family == family), path)
    return {v: (o, code) for v, o, code in rows}


def classes_of(owner: str, path=None) -> set[str]:
    """The codes of every class `owner` is a member of."""
    return {row[0] for row in _read(select(t.class_members.c.code).where(t.class_members.c.owner == owner), path)}


def note_join_failure(keys: list[str], path=None) -> None:
    """Count one wrong join code against each key (and forget counts older than the window)."""
    now = time.time()
    f = t.join_failures
    with db.writing(path, REFUSED) as connection:
        connection.execute(delete(f).where(f.c.at < now - JOIN_WINDOW_S))
        connection.execute(insert(f), [{"key": key, "at": now} for key in keys])


def join_failures(key: str, path=None) -> int:
    """Wrong join codes counted against `key` within the window."""
    since = time.time() - JOIN_WINDOW_S
    c = t.join_failures.c
    return int(_read(select(func.count()).where(c.key == key, c.at >= since), path)[0][0])


def is_member(owner: str, code: str, path=None) -> bool:
    m = t.class_members.c
    return bool(_read(select(m.owner).where(m.code == code, m.owner == owner), path))


def leave_class(owner: str, code: str, path=None) -> None:
    """Leave a class: your samples go back to private; your results stay in the class's record."""
    if samples.shared_counts(_owner(owner), code, path):
        samples.share_with_class(owner, "", path)
    remove_member(code, owner, path)


def members(code: str, path=None) -> list[dict]:
    m = t.class_members.c
    rows = _read(select(m.owner, m.nickname, m.joined_at).where(m.code == code).order_by(m.joined_at), path)
    return [{"owner": o, "nickname": n, "joined": j} for o, n, j in rows]


def nickname_of(owner: str, code: str, path=None) -> str:
    m = t.class_members.c
    rows = _read(select(m.nickname).where(m.code == code, m.owner == owner), path)
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
    row = {
        "code": code,
        "owner": owner,
        "family": str(run.family),
        "accuracy": float(run.accuracy),
        "epochs": int(run.epochs),
        "batch_size": int(run.batch_size),
        "learning_rate": float(run.learning_rate),
        "seed": int(run.seed),
        "seconds": float(run.seconds),
        "version_id": str(run.version_id),
        "created_at": _now(),
    }
    with db.writing(path, REFUSED) as connection:
        return db.upsert(connection, t.class_results, row, ["version_id"]) == 1


def _results_where(code: str, family: str | None) -> list:
    r = t.class_results.c
    return [r.code == code, *([r.family == family] if family else [])]


def results(code: str, family: str | None = None, path=None) -> list[dict]:
    """Members' recorded runs, oldest first, with their nickname (for the side-by-side view): the newest
    MAX_RESULTS_SHOWN of them, so a busy class always sees its latest runs (count_results says how many there are)."""
    r, m = t.class_results.c, t.class_members.c
    joined = t.class_results.outerjoin(t.class_members, (m.code == r.code) & (m.owner == r.owner))
    statement = (
        select(
            func.coalesce(m.nickname, "(left)"),
            r.family,
            r.accuracy,
            r.epochs,
            r.batch_size,
            r.learning_rate,
            r.seed,
            r.seconds,
            r.created_at,
        )
        .select_from(joined)
        .where(*_results_where(code, family))
        .order_by(r.id.desc())
        .limit(MAX_RESULTS_SHOWN)
    )
    keys = ("nickname", "family", "accuracy", "epochs", "batch_size", "learning_rate", "seed", "seconds", "at")
    return [dict(zip(keys, row)) for row in reversed(_read(statement, path))]


def count_results(code: str, family: str | None = None, path=None) -> int:
    """How many runs the class has recorded (results() returns the newest MAX_RESULTS_SHOWN of them)."""
    return int(
        _read(select(func.count()).select_from(t.class_results).where(*_results_where(code, family)), path)[0][0]
    )


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
    m, c, r = t.class_members, t.classes, t.class_results

    def shared(table):
        return (
            select(func.count())
            .select_from(table)
            .where(table.c.owner == m.c.owner, table.c.class_code == m.c.code)
            .scalar_subquery()
        )

    mine = (r.c.code == m.c.code) & (r.c.owner == m.c.owner)
    last = select(r.c.accuracy).where(mine).order_by(r.c.id.desc()).limit(1).scalar_subquery()
    last_family = select(r.c.family).where(mine).order_by(r.c.id.desc()).limit(1).scalar_subquery()
    is_teacher = (m.c.owner == c.c.teacher).label("is_teacher")
    statement = (
        select(
            m.c.owner,
            m.c.nickname,
            m.c.joined_at,
            is_teacher,
            shared(t.color_labels),
            shared(t.drawings),
            select(func.count()).select_from(r).where(mine).scalar_subquery(),
            last,
            last_family,
            select(func.count()).select_from(r).where(r.c.code == m.c.code).scalar_subquery(),
        )
        .join(c, c.c.code == m.c.code)
        .where(m.c.code == code, c.c.teacher == teacher)
        .order_by(is_teacher.desc(), m.c.joined_at, m.c.nickname)
    )
    return [dict(zip(ROSTER_KEYS, (*row[:3], bool(row[3]), *row[4:]), strict=True)) for row in _read(statement, path)]


def share_project(owner: str, project: str, code: str, path=None) -> None:
    """Share `owner`'s Teach project `project` with the class `code` (one class at a time: the newest share wins)."""
    with db.writing(path, REFUSED) as connection:
        db.upsert(
            connection,
            t.shared_projects,
            {"owner": _owner(owner), "project": str(project), "code": code, "shared_at": _now()},
            ["owner", "project"],
            ["code", "shared_at"],
        )


def unshare_project(owner: str, project: str, path=None) -> bool:
    """Take `owner`'s project out of its class; False when it was not shared."""
    p = t.shared_projects
    return _write(delete(p).where(p.c.owner == owner, p.c.project == str(project)), path) > 0


def project_share(owner: str, project: str, path=None) -> str:
    """The class code `owner`'s project is shared with ("" private)."""
    p = t.shared_projects
    rows = _read(select(p.c.code).where(p.c.owner == owner, p.c.project == str(project)), path)
    return rows[0][0] if rows else ""


def shared_projects(code: str, path=None) -> list[dict]:
    """The class's shared Teach projects whose owners are still members, with their nickname, oldest share first."""
    p, m = t.shared_projects, t.class_members
    statement = (
        select(p.c.owner, p.c.project, m.c.nickname, p.c.shared_at)
        .join(m, (m.c.code == p.c.code) & (m.c.owner == p.c.owner))
        .where(p.c.code == code)
        .order_by(p.c.shared_at, p.c.project)
    )
    return [{"owner": o, "project": pr, "nickname": n, "shared_at": at} for o, pr, n, at in _read(statement, path)]
