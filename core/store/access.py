"""Who may see and change whose work: every read and write of versions, Teach projects and models, samples, classes,
members and runs goes through here with the caller's owner id (core.store.identity). What a person makes is private;
a member sees what its owner shared with a class they are both in; shipped models are public."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.settings import get_settings
from core.store import blobs, classroom, export, samples, teach_cache, teach_rows
from core.store import models as store
from core.store.topology import StoreError


class NotYours(StoreError):
    """Someone else's work (or work that is not there), in plain words; never says whose it is."""


def _caller(owner) -> str:
    """The caller's owner id, checked ('' is refused too: without an identity there is nobody to own anything)."""
    return store.check_name(owner, "owner")


# ---------------------------------------------------------------- versions (retrained models, Teach models, heads)


@dataclass(frozen=True)
class VersionRow:
    """A saved version as its pages show it: only ever one the caller may see."""

    family: str
    version_id: str
    path: str
    saved_at: str
    val_accuracy: float | None
    before_val_accuracy: float | None
    retrained_from: str
    classes: int | None
    mine: bool  # False: a classmate shared it with a class you are both in (you may use it, not delete it)
    shared_with: str  # the class code it is shared with ("" private)
    project: str = ""  # a Teach model's project ("" otherwise)


def _row(version: store.Version, mine: bool, shared_with: str) -> VersionRow:
    meta = version.metadata or {}
    metrics = meta.get("metrics") or {}
    return VersionRow(
        family=version.family,
        version_id=version.version_id,
        path=str(version.path),
        saved_at=str(meta.get("saved_at", "")),
        val_accuracy=metrics.get("val_accuracy", metrics.get("accuracy")),
        before_val_accuracy=metrics.get("before_val_accuracy"),
        retrained_from=str(meta.get("retrained_from", "")),
        classes=len(meta.get("class_names") or []) or None,
        mine=mine,
        shared_with=shared_with,
        project=str(meta.get("project", "")),
    )


class _Sharing:
    """The family's class shares (one query) and, only when a version is not the caller's own, their classes."""

    def __init__(self, owner: str, family: str):
        self.owner = owner
        self.shares = classroom.version_shares(family)
        self._classes: set[str] | None = None

    def visible(self, version: store.Version) -> VersionRow | None:
        made_by = str((version.metadata or {}).get("owner") or "")
        share = self.shares.get(version.version_id)
        code = share[1] if share is not None and share[0] == made_by else ""
        if made_by and made_by == self.owner:
            return _row(version, True, code)
        if not made_by or not code:
            return None
        if self._classes is None:
            self._classes = classroom.classes_of(self.owner)
        if code in self._classes and classroom.is_member(made_by, code):  # both are in the class now
            return _row(version, False, code)
        return None


def versions(owner: str, family: str, models_dir: Path | None = None) -> list[VersionRow]:
    """The family's versions the caller may see, newest first: their own, then any a classmate shared with a class
    they are both in."""
    owner = _caller(owner)
    listed = store.list_versions(family, models_dir)
    if not listed:
        return []
    sharing = _Sharing(owner, family)
    return [r for r in map(sharing.visible, listed) if r is not None]


def version(owner: str, family: str, version_id: str, models_dir: Path | None = None) -> VersionRow:
    """One version the caller may see; NotYours for another person's (or a missing) one."""
    owner = _caller(owner)
    path = store.version_path(family, version_id, models_dir)
    metadata = blobs.version_metadata(family, version_id)  # the database's word: a cache folder may be stale
    found = store.Version(family, version_id, path, metadata) if metadata is not None else None
    row = _Sharing(owner, family).visible(found) if found is not None else None
    if row is None:
        raise NotYours(f"You have no version {version_id!r} of {family}: it was deleted, or it is someone else's.")
    return row


def delete_version(owner: str, family: str, version_id: str, models_dir: Path | None = None) -> None:
    """Delete one of the caller's own versions (and its class share); never another person's."""
    row = version(owner, family, version_id, models_dir)
    if not row.mine:
        raise NotYours("A classmate shared that version with your class: only they can delete it.")
    store.delete_version(family, version_id, models_dir)
    if row.shared_with:
        classroom.share_version(family, version_id, owner, "")


def zip_version(owner: str, family: str, version_id: str, models_dir: Path | None = None) -> bytes:
    """model.json + weights of a version the caller may see, as a zip."""
    return export.zip_model_folder(version(owner, family, version_id, models_dir).path)


def share_version(owner: str, family: str, version_id: str, code: str, models_dir: Path | None = None) -> None:
    """Share one of the caller's versions with a class they are in ('' code: private again)."""
    row = version(owner, family, version_id, models_dir)
    if not row.mine:
        raise NotYours("Only the person who made a version can share it.")
    if code:
        my_class(owner, code)  # a member only
    classroom.share_version(family, version_id, owner, classroom.check_code(code) if code else "")


def model_path(owner: str, path: str | Path, models_dir: Path | None = None) -> Path:
    """`path` when the caller may load it: a version they may see, or a folder that is nobody's work (a shipped or
    deployment-installed model). A folder under the versions or another person's Teach folder: NotYours."""
    owner = _caller(owner)
    resolved = Path(path).resolve()
    base = Path(models_dir or get_settings().models_dir).resolve()
    if resolved.is_relative_to(base):
        parts = resolved.relative_to(base).parts
        if len(parts) != 2:
            raise NotYours("That folder is not a saved version.")
        version(owner, parts[0], parts[1], models_dir)
        return Path(path)
    teach = (get_settings().user_data_dir / "teach").resolve()
    if resolved.is_relative_to(teach) and not resolved.is_relative_to(teach_dir(owner)):
        raise NotYours("That folder is someone else's work, not a shipped model or one of your versions.")
    return Path(path)


def teach_models(owner: str, family: str, project: str, models_dir: Path | None = None) -> list[VersionRow]:
    """The caller's own trained models of one Teach project (versions of `family` recording that project), newest
    first; a classmate's shared version is never one of the caller's projects' models."""
    return [r for r in versions(owner, family, models_dir) if r.mine and r.project == project]


def delete_teach_model(owner: str, family: str, version_id: str, models_dir: Path | None = None) -> None:
    """Delete one of the caller's Teach models (a version recording its project); NotYours for anything else."""
    row = version(owner, family, version_id, models_dir)
    if not row.project:
        raise NotYours(f"Version {version_id!r} of {family} is not a Teach project's model.")
    delete_version(owner, family, version_id, models_dir)


# ---------------------------------------------------------------- Teach projects (rows: core.store.teach_rows)
# Every call is scoped to the caller's own projects (their owner id is half the key): another person's is never
# listed, read, changed or deleted. Folders are only this machine's cache of the rows (core.store.teach_cache).


def teach_dir(owner: str) -> Path:
    """The caller's own Teach folder, <user data>/teach/<owner>: the only one their requests ever reach."""
    path = ((base := (get_settings().user_data_dir / "teach").resolve()) / _caller(owner)).resolve()
    if not path.is_relative_to(base) or path == base:
        raise NotYours("That owner would leave the projects folder.")
    return path


def teach_project_dir(owner: str, name: str) -> Path:
    """Where the cache of the caller's project `name` lives (it may not exist yet); nothing escapes their folder."""
    path = ((base := teach_dir(owner)) / store.check_name(name, "project name")).resolve()
    if not path.is_relative_to(base) or path == base:
        raise NotYours("That project name would leave your projects folder.")
    return path


def teach_projects(owner: str) -> list[str]:
    """The caller's project names, sorted; another person's are never listed."""
    return teach_rows.names(_caller(owner))


def teach_project(owner: str, name: str) -> tuple[teach_rows.ProjectRow, dict[str, int]] | None:
    """The caller's project `name` and how many samples each class holds (no file is read); None: they have none."""
    teach_project_dir(owner, name)  # the names are checked
    return teach_rows.class_counts(_caller(owner), name)


def create_teach_project(
    owner: str, name: str, kind: str, classes: list[str], created: str, max_projects: int
) -> teach_rows.ProjectRow:
    """A new project of the caller's; teach_rows.Taken or TooMany (and nothing stored) when refused."""
    path = teach_project_dir(owner, name)
    row = teach_rows.create(_caller(owner), name, kind, classes, created, max_projects)
    teach_cache.follow(path, row.owner, name)
    return row


def change_teach_classes(owner: str, name: str, decide) -> teach_rows.ProjectRow | None:
    """Change the classes of one of the caller's projects (teach_rows.change_classes); None when it is gone."""
    path = teach_project_dir(owner, name)
    if (row := teach_rows.change_classes(_caller(owner), name, decide)) is not None:
        teach_cache.follow(path, row.owner, name)
    return row


def add_teach_samples(owner: str, name: str, class_name: str, files: list, suffix: str, room) -> list[str] | None:
    """Add samples to a class of the caller's project in one transaction (teach_rows.add_samples); the new ids, or
    None when the project is gone."""
    path = teach_project_dir(owner, name)
    done = teach_rows.add_samples(_caller(owner), name, class_name, files, suffix, room)
    if done is not None and done[1]:
        teach_cache.follow(path, done[0].owner, name, dict(zip(done[1], files)))
    return None if done is None else done[1]


def delete_teach_sample(owner: str, name: str, class_name: str, sample_id: str) -> bool | None:
    """Delete a sample of the caller's project: False when it is not in that class, None when the project is gone."""
    path = teach_project_dir(owner, name)
    if gone := teach_rows.delete_sample(_caller(owner), name, class_name, sample_id):
        teach_cache.follow(path, _caller(owner), name)
    return gone


def teach_samples(owner: str, name: str) -> tuple[teach_rows.ProjectRow, dict[str, list[Path]]] | None:
    """The caller's project with every class's sample files, oldest first, its cache brought up to date first;
    None when they have no project of that name."""
    path = teach_project_dir(owner, name)
    found = teach_cache.sync(path, _caller(owner), name)
    return None if found is None else (found[0], teach_cache.paths(path, found))


def delete_teach_project(owner: str, name: str) -> None:
    """Delete one of the caller's projects, its samples and class share (its models stay, as versions)."""
    path = teach_project_dir(owner, name)
    if not teach_rows.delete_project(_caller(owner), name):
        raise NotYours(f"You have no project called {name!r}.")
    teach_cache.drop(path)


# ---------------------------------------------------------------- samples: colour labels and drawings


@dataclass(frozen=True)
class ColorLabel:
    id: int
    rgb: tuple[int, int, int]
    label: str
    created_at: str
    shared_with: str  # the class code it is pooled in ("" private)


@dataclass(frozen=True)
class Drawing:
    id: int
    image: np.ndarray  # (28, 28) uint8, white strokes on black
    label: str
    created_at: str
    shared_with: str


def add_color_label(owner: str, rgb, label: str) -> int:
    return samples.add_color_label(rgb, label, owner=_caller(owner))


def color_labels(owner: str) -> list[ColorLabel]:
    rows = samples.color_label_rows(owner=_caller(owner))
    return [ColorLabel(i, (r, g, b), lab, at, code) for i, r, g, b, lab, at, _, code in rows]


def color_label_counts(owner: str) -> dict[str, int]:
    return samples.color_label_counts(owner=_caller(owner))


def export_color_csv(owner: str) -> str:
    return samples.export_color_csv(owner=_caller(owner))


def add_drawing(owner: str, image: np.ndarray, label: str) -> int:
    return samples.add_drawing(image, label, owner=_caller(owner))


def drawings(owner: str, label: str | None = None) -> list[Drawing]:
    rows = samples.drawing_rows(owner=_caller(owner))
    return [Drawing(i, img, lab, at, code) for i, img, lab, at, _, code in rows if label is None or lab == label]


def drawing_counts(owner: str) -> dict[str, int]:
    return samples.drawing_counts(owner=_caller(owner))


def sample_counts(owner: str, kind: str) -> dict[str, int]:
    """The caller's samples of one kind (a family's `user_samples`), counted per label; {} for a kind with none."""
    counters = {samples.COLOR_LABELS: color_label_counts, samples.DRAWINGS: drawing_counts}
    return counters[kind](owner) if kind in counters else {}


def export_drawings_npz(owner: str, label: str | None = None) -> bytes:
    return samples.export_drawings_npz(label, owner=_caller(owner))


def drawings_key(owner: str) -> str:
    """What the caller's drawings are, in 16 hex digits (ids and labels): a cache of anything built from them is
    keyed by this and the owner, so it changes when they add, relabel or delete one, and is never another's."""
    rows = samples.drawing_rows(owner=_caller(owner))
    digest = hashlib.sha256(repr([(i, lab) for i, _, lab, *_ in rows]).encode())
    return digest.hexdigest()[:16]


def _delete_own_sample(owner: str, kind: str, sample_id: int) -> None:
    what = "colour label" if kind == "colors" else "drawing"
    if not samples.delete_sample(kind, int(sample_id), owner=_caller(owner)):
        raise NotYours(f"You have no {what} #{int(sample_id)}: it was deleted, or it is someone else's.")


def delete_color_label(owner: str, label_id: int) -> None:
    _delete_own_sample(owner, "colors", label_id)


def delete_drawing(owner: str, drawing_id: int) -> None:
    _delete_own_sample(owner, "drawings", drawing_id)


# ---------------------------------------------------------------- classes: members, the pool, runs


@dataclass(frozen=True)
class ClassView:
    """A class as a member sees it."""

    code: str
    name: str
    members: int
    joining: bool  # False: the teacher closed joining
    max_members: int
    is_teacher: bool
    nickname: str  # the caller's


@dataclass(frozen=True)
class Member:
    member_id: str  # an owner id (a one-way hash: it lets nobody act as the member)
    nickname: str
    joined: str
    is_teacher: bool


@dataclass(frozen=True)
class PooledSample:
    kind: str  # "colors" or "drawings"
    id: int
    label: str
    nickname: str  # who shared it ("(left)" once they left)
    rgb: tuple[int, int, int] | None = None
    image: np.ndarray | None = None


@dataclass(frozen=True)
class Run:
    nickname: str
    family: str
    accuracy: float
    epochs: int
    batch_size: int
    learning_rate: float
    seed: int
    seconds: float
    at: str


def _view(owner: str, info: classroom.ClassInfo) -> ClassView:
    nickname = classroom.nickname_of(owner, info.code)
    return ClassView(
        info.code, info.name, info.members, info.joining, info.max_members, info.teacher == owner, nickname
    )


def my_class(owner: str, code: str) -> ClassView:
    """The class `code` as the caller sees it; NotYours unless they are a member."""
    owner = _caller(owner)
    info = classroom.class_info(code)
    if not classroom.is_member(owner, info.code):
        raise NotYours("You are not a member of that class: join it with its code first.")
    return _view(owner, info)


def _teacher_of(owner: str, code: str) -> ClassView:
    view = my_class(owner, code)
    if not view.is_teacher:
        raise NotYours("Only the class's teacher can do that.")
    return view


def open_class(owner: str, name: str, max_members: int = classroom.DEFAULT_MAX_MEMBERS) -> ClassView:
    """A new class, the caller its teacher."""
    owner = _caller(owner)
    return _view(owner, classroom.open_class(owner, name, max_members=max_members))


def _address_key(address: str) -> str:
    return "address:" + hashlib.sha256(f"mlx-address:{address}".encode()).hexdigest()[:20]  # no address is stored


def join_class(owner: str, code: str, nickname: str, address: str = "") -> ClassView:
    """Join a class (or change one's nickname in it). Wrong codes are counted per identity and per address: past
    the limit every join is refused for the rest of the window, so codes cannot be guessed."""
    owner = _caller(owner)
    keys = [f"owner:{owner}"] + ([_address_key(address)] if address else [])
    if classroom.join_failures(keys[0]) >= classroom.JOIN_FAILURES_PER_IDENTITY:
        raise classroom.ClassError(
            f"Too many wrong join codes from you: wait {classroom.JOIN_WINDOW_S / 60:.0f} minutes, then copy the code "
            "from the teacher's screen."
        )
    if address and classroom.join_failures(keys[1]) >= classroom.JOIN_FAILURES_PER_ADDRESS:
        raise classroom.ClassError(
            f"Too many wrong join codes from your network: wait {classroom.JOIN_WINDOW_S / 60:.0f} minutes, then try "
            "again."
        )
    try:
        info = classroom.class_info(code)
    except classroom.ClassError:
        classroom.note_join_failure(keys)
        raise
    return _view(owner, classroom.join_class(owner, info.code, nickname))


def leave_class(owner: str, code: str) -> None:
    """Leave: the caller's samples leave the pool; their runs stay in the class's record."""
    view = my_class(owner, code)
    samples.unshare_from(owner, view.code)
    classroom.remove_member(view.code, owner)


def class_members(owner: str, code: str) -> list[Member]:
    view = my_class(owner, code)
    teacher = classroom.class_info(view.code).teacher
    return [Member(m["owner"], m["nickname"], m["joined"], m["owner"] == teacher) for m in classroom.members(view.code)]


def class_runs(owner: str, code: str, family: str | None = None) -> list[Run]:
    """Members' recorded runs, oldest first: the newest classroom.MAX_RESULTS_SHOWN of them; members only."""
    return [Run(**row) for row in classroom.results(my_class(owner, code).code, family)]


def class_run_count(owner: str, code: str, family: str | None = None) -> int:
    """How many runs the class has recorded in all (class_runs shows the newest); members only."""
    return classroom.count_results(my_class(owner, code).code, family)


def record_run(owner: str, code: str, run: classroom.RunRecord) -> bool:
    """Send one of the caller's finished runs to their class (once per version); False when sent before."""
    view = my_class(owner, code)
    version(owner, run.family, run.version_id)  # theirs, and still there
    return classroom.record_result(view.code, owner, run)


def share_samples(owner: str, code: str) -> int:
    """Pool every colour label and drawing of the caller in a class they are in; returns how many."""
    return samples.share_with_class(owner, my_class(owner, code).code)


def unshare_samples(owner: str, code: str) -> int:
    return samples.unshare_from(owner, my_class(owner, code).code)


def shared_count(owner: str, code: str) -> int:
    return samples.shared_counts(owner, my_class(owner, code).code)


def class_pool(owner: str, code: str, kind: str) -> list[PooledSample]:
    """The class's pooled colour labels ('colors') or drawings ('drawings'), with who shared each; members only."""
    view = my_class(owner, code)
    names = {m["owner"]: m["nickname"] for m in classroom.members(view.code)}
    if kind == "colors":
        rows = samples.color_label_rows(class_code=view.code)
        return [PooledSample(kind, i, lab, names.get(o, "(left)"), rgb=(r, g, b)) for i, r, g, b, lab, _, o, _ in rows]
    rows = samples.drawing_rows(class_code=view.code)
    return [PooledSample("drawings", i, lab, names.get(o, "(left)"), image=img) for i, img, lab, _, o, _ in rows]


def pool_size(owner: str, code: str, kind: str) -> int:
    return len(class_pool(owner, code, kind))


# ---------------------------------------------------------------- the teacher runs the class


def set_joining(owner: str, code: str, open_: bool) -> ClassView:
    """Close (or reopen) the class to new members; members stay."""
    view = _teacher_of(owner, code)
    classroom.set_joining(view.code, open_)
    return my_class(owner, view.code)


def rename_class(owner: str, code: str, name: str) -> ClassView:
    view = _teacher_of(owner, code)
    classroom.rename_class(view.code, name)
    return my_class(owner, view.code)


def set_member_cap(owner: str, code: str, cap: int) -> ClassView:
    view = _teacher_of(owner, code)
    classroom.set_member_cap(view.code, cap)
    return my_class(owner, view.code)


def remove_member(owner: str, code: str, member_id: str, with_samples: bool = False) -> None:
    """Remove a member (not the teacher): their samples leave the pool, or are deleted with `with_samples`."""
    view = _teacher_of(owner, code)
    if member_id == owner:
        raise NotYours("The teacher cannot remove themselves: close joining instead, or leave the class.")
    if not classroom.is_member(member_id, view.code):
        raise NotYours("That person is not a member of this class (any more).")
    (samples.delete_shared_by if with_samples else samples.unshare_from)(member_id, view.code)
    classroom.remove_member(view.code, member_id)


def remove_pooled_sample(owner: str, code: str, kind: str, sample_id: int) -> None:
    """Delete one sample from the class's pool (a mislabelled colour): the teacher only."""
    view = _teacher_of(owner, code)
    if kind not in samples.TABLES:
        raise NotYours(f"There is no kind of sample called {kind!r}.")
    if not samples.delete_sample(kind, int(sample_id), class_code=view.code):
        raise NotYours(f"The class's pool has no sample #{int(sample_id)} (any more).")


# ---------------------------------------------------------------- the teacher's live view; Teach projects in a class


@dataclass(frozen=True)
class RosterRow:
    member_id: str  # an owner id: the page asks the job queue for this member's training with it
    nickname: str
    joined: str
    is_teacher: bool
    shared_colors: int
    shared_drawings: int
    runs: int
    last_accuracy: float | None  # the newest recorded run's (None: no run yet, or it had no validation samples)
    last_family: str


@dataclass(frozen=True)
class Roster:
    members: tuple[RosterRow, ...]
    class_runs: int  # every run the class recorded, members who left included


def class_roster(owner: str, code: str) -> Roster:
    """The class's members with their shared samples and runs, for its teacher's live view (one query); NotYours for
    anyone else."""
    rows = classroom.roster(classroom.check_code(code), _caller(owner))
    if not rows:  # the teacher is always a member: no rows means no such class, or not its teacher
        raise NotYours("Only the class's teacher sees its roster.")
    members = tuple(
        RosterRow(
            r["owner"],
            r["nickname"],
            r["joined"],
            bool(r["is_teacher"]),
            int(r["shared_colors"]),
            int(r["shared_drawings"]),
            int(r["runs"]),
            None if r["last_accuracy"] is None or r["last_accuracy"] != r["last_accuracy"] else r["last_accuracy"],
            str(r["last_family"] or ""),
        )  # fmt: skip
        for r in rows
    )
    return Roster(members, int(rows[0]["class_runs"]))


def share_teach_project(owner: str, name: str, code: str) -> None:
    """Share one of the caller's Teach projects with a class they are in (read-only for the others)."""
    if teach_project(owner, name) is None:  # never another person's
        raise NotYours(f"You have no project called {name!r}.")
    classroom.share_project(_caller(owner), name, my_class(owner, code).code)


def unshare_teach_project(owner: str, name: str) -> None:
    """Make one of the caller's shared projects private again; NotYours when they shared none of that name."""
    if not classroom.unshare_project(_caller(owner), store.check_name(name, "project name")):
        raise NotYours(f"You have not shared a project called {name!r}.")


def teach_project_share(owner: str, name: str) -> str:
    """The class code the caller's project is shared with ("" private)."""
    return classroom.project_share(_caller(owner), store.check_name(name, "project name"))
