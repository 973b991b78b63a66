"""Teach projects on disk, per owner: <user data>/teach/<owner>/<project>/<class>/<sample>.png|.wav plus project.json.

The folder layout is the contract that core.teach_data.load_folder and `python -m core teach train --data DIR` read,
so a project folder trains from the command line too. Every write is atomic (temp file + rename), and every change to
a project's classes or samples holds the project's lock (an flock, so two tabs, threads or processes take turns).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import functools
import json
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.engine import job_codec
from core.engine import seed_spread as engine_spread
from core.families.teach import data as teach_data
from core.families.teach import experiments as tx
from core.families.teach.data import BACKGROUND, TeachError
from core.families.teach.model import TeachConfig, split_data
from core.store import access

PROJECT_JSON = access.TEACH_PROJECT_JSON
MIN_CLASSES, MAX_CLASSES = 2, 10  # Teachable Machine's minimum; ten keeps the softmax bars and confusion readable
# Caps as module constants (teachcore added no Settings fields for them): a class of 200 one-second sounds or images
# trains in well under a minute on a CPU, and 20 projects x 10 classes x 200 samples stays under ~1 GB per owner.
MAX_SAMPLES_PER_CLASS = 200
MAX_PROJECTS_PER_OWNER = 20
MAX_UPLOAD_BYTES = 5 * 2**20  # one upload, photo or recording (about 2.5 minutes of 16 kHz 16-bit mono)
MAX_CLASS_CHARS = 40
SUFFIX = {"image": ".png", "drawing": ".png", "sound": ".wav"}
# A class name is a folder name: letters (any script), digits, spaces, '_', '-', '.'; no leading dot or space.
CLASS_NAME = re.compile(r"^[^\W_][\w .-]*$")
SAMPLE_ID = re.compile(r"^[0-9]{16}-[0-9a-f]{6}$")
# Names the project folder itself uses: a class of that name would collide with the file (compared ignoring case, so a
# project copied to a case-insensitive disk stays whole).
RESERVED_CLASS_NAMES = frozenset({PROJECT_JSON.lower(), ".lock"})


@dataclass(frozen=True)
class Project:
    """A project as stored: its kind, its classes in order, and where it lives."""

    owner: str
    name: str
    kind: str
    classes: list[str]
    created: str
    path: Path


# ---------------------------------------------------------------- names and paths


def check_class_name(name) -> str:
    """A class name that is safe as one folder name; refused in plain words otherwise."""
    if not isinstance(name, str) or not name.strip():
        raise TeachError("A class needs a name, such as 'thumbs up'.")
    name = " ".join(name.split())
    if len(name) > MAX_CLASS_CHARS:
        raise TeachError(f"A class name is at most {MAX_CLASS_CHARS} characters (this one has {len(name)}).")
    if not CLASS_NAME.match(name) or ".." in name or name.endswith("."):
        raise TeachError(
            f"The class name {name!r} is not allowed: use letters, digits, spaces, '_', '-' or '.', starting with a "
            "letter or digit."
        )
    if name.lower() in RESERVED_CLASS_NAMES:
        raise TeachError(f"The class name {name!r} is reserved: the project keeps its settings in that file.")
    return name


def _owner_dir(owner: str) -> Path:
    return access.teach_dir(owner)  # the store decides which folder is the caller's


def project_dir(owner: str, name: str) -> Path:
    """Where a project lives (it may not exist yet); names are checked so nothing escapes the owner's folder."""
    return access.teach_project_dir(owner, name)


def _class_dir(project: Project, class_name: str) -> Path:
    if class_name not in project.classes:
        raise TeachError(f"The project {project.name!r} has no class {class_name!r}.")
    return project.path / class_name


# ---------------------------------------------------------------- atomic writes


def _write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to a hidden temp file beside `path`, fsync, rename: readers see the old file or the new one."""
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:6]}.tmp"  # hidden and not *.png/*.wav: loaders skip it
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise TeachError(f"The project could not be written ({exc.strerror or exc}). Nothing was changed.") from None


def _save_meta(project: Project) -> None:
    meta = {"kind": project.kind, "classes": project.classes, "created": project.created}
    _write_atomic(project.path / PROJECT_JSON, json.dumps(meta, indent=1).encode())


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One writer at a time per project, across tabs, threads and processes: an flock on `.lock` beside project.json.

    Each call opens the file itself, so two threads of one process exclude each other too (flock locks belong to the
    open file). A project deleted while we waited is refused in plain words; one deleted and made again under the
    same name is locked afresh (the lock must be on the file that is there now)."""
    while True:
        try:
            fh = open(path / ".lock", "a")
        except FileNotFoundError:
            raise TeachError(f"The project {path.name!r} was deleted (in another tab?).") from None
        try:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                same = os.fstat(fh.fileno()).st_ino == os.stat(path / ".lock").st_ino
            except FileNotFoundError:
                raise TeachError(f"The project {path.name!r} was deleted (in another tab?).") from None
            if same:
                try:
                    yield
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)
                return
        finally:
            fh.close()


# ---------------------------------------------------------------- projects


def _check_classes(kind: str, names: list[str]) -> list[str]:
    """A project's complete class list: valid names, none twice (ignoring case), 2 to 10, a sound one's background."""
    names = [check_class_name(c) for c in names]
    lowered = [n.lower() for n in names]
    if len(set(lowered)) != len(lowered):
        raise TeachError("Two classes have the same name: give each class its own name.")
    if kind == "sound" and BACKGROUND not in names:
        raise TeachError(f"A sound project always has the {BACKGROUND!r} class.")
    if not MIN_CLASSES <= len(names) <= MAX_CLASSES:
        extra = f", {BACKGROUND!r} included" if kind == "sound" else ""
        raise TeachError(
            f"A project has {MIN_CLASSES} to {MAX_CLASSES} classes{extra}; this one would have {len(names)}."
        )
    return names


def create_project(owner: str, name: str, kind: str, class_names: list[str]) -> Project:
    """A new, empty project: one folder per class and project.json. Refuses an existing name and the owner's cap."""
    kind = teach_data.check_kind(kind)
    path = project_dir(owner, name)
    names = [c for c in class_names if str(c).strip()]  # blank rows of the form are not classes
    if kind == "sound":  # Teachable Machine's audio projects always learn the room's background noise
        names = [BACKGROUND] + [c for c in names if " ".join(str(c).split()).lower() != BACKGROUND]
    classes = _check_classes(kind, names)
    if path.exists():
        raise TeachError(f"You already have a project called {name!r}: open it, or choose another name.")
    if len(list_projects(owner)) >= MAX_PROJECTS_PER_OWNER:
        raise TeachError(
            f"You have {MAX_PROJECTS_PER_OWNER} projects, the most allowed: open one you no longer need in the Project "
            "list and delete it (“Delete this project”, under its name), then create this one."
        )
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    tmp = path.parent / f".new-{name}-{uuid.uuid4().hex[:6]}"
    try:
        for c in classes:
            (tmp / c).mkdir(parents=True)
        project = Project(owner, name, kind, classes, created, tmp)
        _save_meta(project)
        os.rename(tmp, path)  # the project appears whole or not at all
    except TeachError:
        shutil.rmtree(tmp, ignore_errors=True)  # no hidden half-made project is left behind
        raise
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if path.exists():
            raise TeachError(f"You already have a project called {name!r}: open it, or choose another name.") from None
        raise TeachError(f"The project could not be created ({exc.strerror or exc}).") from None
    return load_project(owner, name)


def list_projects(owner: str) -> list[str]:
    """The owner's project names, sorted; another owner's projects are never listed."""
    return access.teach_projects(owner)


def load_project(owner: str, name: str) -> Project:
    path = project_dir(owner, name)
    try:
        meta = json.loads((path / PROJECT_JSON).read_text(encoding="utf-8"))
        kind, classes = teach_data.check_kind(meta["kind"]), [str(c) for c in meta["classes"]]
    except FileNotFoundError:
        raise TeachError(f"You have no project called {name!r}.") from None
    except (OSError, ValueError, KeyError, TypeError):
        raise TeachError(f"The project {name!r} cannot be read: its project.json is damaged.") from None
    return Project(owner, name, kind, classes, str(meta.get("created", "")), path)


def delete_project(owner: str, name: str) -> None:
    """Delete one of the owner's projects with its samples (its trained models are versions, deleted apart)."""
    p = load_project(owner, name)  # a plain "no project" first
    with _locked(p.path):  # a write in another tab finishes first, or finds the project gone
        access.delete_teach_project(owner, name)


# ---------------------------------------------------------------- classes


def add_class(owner: str, project: str, class_name: str) -> Project:
    p = load_project(owner, project)
    with _locked(p.path):
        p = load_project(owner, project)
        classes = _check_classes(p.kind, [*p.classes, class_name])
        (p.path / classes[-1]).mkdir(exist_ok=True)
        _save_meta(Project(owner, project, p.kind, classes, p.created, p.path))
    return load_project(owner, project)


def rename_class(owner: str, project: str, old: str, new: str) -> Project:
    """Rename a class with its samples. Samples added at the same moment from another tab are never stranded: adding
    takes the same lock and looks the class up again under it. A folder left under the new name by an older version
    of this store (its samples orphaned) is merged into the renamed class instead of blocking the rename."""
    p = load_project(owner, project)
    with _locked(p.path):
        p = load_project(owner, project)
        source = _class_dir(p, old)
        if old == BACKGROUND and p.kind == "sound":
            raise TeachError(f"The {BACKGROUND!r} class keeps its name: sound projects need it.")
        new = check_class_name(new)
        if new == old:
            return p
        classes = [new if c == old else c for c in p.classes]
        _check_classes(p.kind, classes)
        source.mkdir(exist_ok=True)
        target = p.path / new
        if target.is_dir():
            _merge_into(target, source)
        try:
            os.rename(source, target)
        except OSError as exc:
            raise TeachError(f"The class could not be renamed ({exc.strerror or 'file system error'}).") from None
        _save_meta(Project(owner, project, p.kind, classes, p.created, p.path))
    return load_project(owner, project)


def _merge_into(stray: Path, folder: Path) -> None:
    """Move the sample files of a stray folder (no class of the project names it) into `folder`, then remove it."""
    for f in stray.iterdir():
        if f.is_file() and not f.name.startswith(".") and not (folder / f.name).exists():
            os.rename(f, folder / f.name)
    shutil.rmtree(stray, ignore_errors=True)


def remove_class(owner: str, project: str, class_name: str) -> Project:
    """Remove a class and its samples; a project keeps at least two classes and a sound project its background."""
    p = load_project(owner, project)
    with _locked(p.path):
        p = load_project(owner, project)
        folder = _class_dir(p, class_name)
        if class_name == BACKGROUND and p.kind == "sound":
            raise TeachError(f"The {BACKGROUND!r} class cannot be removed: sound projects need it.")
        classes = [c for c in p.classes if c != class_name]
        if len(classes) < MIN_CLASSES:
            raise TeachError(f"A project needs at least {MIN_CLASSES} classes: add another before removing this one.")
        if folder.exists():
            trash = p.path / f".deleted-{uuid.uuid4().hex[:8]}"
            os.rename(folder, trash)
            shutil.rmtree(trash, ignore_errors=True)
        _save_meta(Project(owner, project, p.kind, classes, p.created, p.path))
    return load_project(owner, project)


# ---------------------------------------------------------------- samples


_last_id = [0]
_id_lock = threading.Lock()


def _new_id() -> str:
    """A sample id that sorts by creation time: microseconds, strictly increasing in this process, + a random tag."""
    with _id_lock:
        _last_id[0] = max(time.time_ns() // 1000, _last_id[0] + 1)
        return f"{_last_id[0]:016d}-{uuid.uuid4().hex[:6]}"


def encode_sample(kind: str, data: bytes | np.ndarray) -> list[bytes]:
    """One upload as the files to store: an image or drawing as one PNG, a recording as one WAV per second."""
    if isinstance(data, (bytes, bytearray)) and len(data) > MAX_UPLOAD_BYTES:
        raise TeachError(
            f"The file is {len(data) / 2**20:.1f} MB; at most {MAX_UPLOAD_BYTES / 2**20:g} MB is accepted."
        )
    if kind == "image":
        if not isinstance(data, (bytes, bytearray)):
            raise TeachError("An image sample must be a PNG or JPEG file.")
        return [teach_data.encode_png(teach_data.decode_image(bytes(data)))]
    if kind == "drawing":
        return [teach_data.encode_png(teach_data.decode_drawing(data))]
    if not isinstance(data, (bytes, bytearray)):
        raise TeachError("A sound sample must be a WAV recording.")
    chunks = teach_data.cut_chunks(teach_data.decode_wav(bytes(data)))
    if not chunks:
        raise TeachError("The recording is shorter than one second: record at least one second.")
    return [teach_data.encode_wav(c) for c in chunks]


class ClassFull(TeachError):
    """The class already holds MAX_SAMPLES_PER_CLASS samples: the upload was refused before anything was decoded."""


class PartlyAdded(TeachError):
    """A write failed halfway and some files of the upload could not be taken back: `kept` says exactly which."""

    def __init__(self, message: str, kept: list[str]):
        super().__init__(message)
        self.kept = kept


def _room_before_decoding(owner: str, project: str, class_name: str) -> Project:
    """The project, if the class exists and has room: both checked before any decoding work."""
    p = load_project(owner, project)
    if class_name not in p.classes:  # before the decoding work
        raise TeachError(
            f"The project {project!r} has no class {class_name!r} (renamed or removed in another tab?). "
            "Nothing was added."
        )
    have = count_class(p.path / class_name, p.kind)
    if have >= MAX_SAMPLES_PER_CLASS:  # a full class refuses before any decoding (a 25 MP photo takes ~0.3 s)
        raise ClassFull(
            f"The class {class_name!r} has {have} samples; a class holds at most {MAX_SAMPLES_PER_CLASS}. "
            "Delete some samples first. Nothing was added."
        )
    return p


def _store(owner: str, project: str, class_name: str, files: list[bytes], fill: bool) -> tuple[list[str], int]:
    """Write encoded sample files into the class under the project's lock; returns (new ids, files left out).

    With `fill`, as many as the class has room for are written (in order) and the rest left out; without, files that
    do not all fit are refused together. The writes are all-or-nothing: when one fails (a full disk), the ones
    already written are removed again; if even that fails, PartlyAdded says exactly which were kept."""
    with _locked(load_project(owner, project).path):
        p = load_project(owner, project)
        if class_name not in p.classes:
            raise TeachError(
                f"The class {class_name!r} was renamed or removed (in another tab?) before this was added. "
                "Nothing was added: choose a class and add it again."
            )
        folder = p.path / class_name
        have = count_class(folder, p.kind)
        room = max(0, MAX_SAMPLES_PER_CLASS - have)
        if len(files) > room and not (fill and room):
            raise TeachError(
                f"The class {class_name!r} has {have} samples and this adds {len(files)}; a class holds at most "
                f"{MAX_SAMPLES_PER_CLASS} ({room} more). Delete some samples first."
            )
        kept_out = max(0, len(files) - room)
        files = files[:room]
        folder.mkdir(exist_ok=True)
        ids: list[str] = []
        try:
            for blob in files:
                sample_id = _new_id()
                _write_atomic(folder / f"{sample_id}{SUFFIX[p.kind]}", blob)
                ids.append(sample_id)
        except TeachError as exc:
            kept = _take_back(folder, ids, SUFFIX[p.kind])
            if kept:
                raise PartlyAdded(
                    f"{exc} {len(kept)} of the {len(files)} samples of this upload were kept and could not be "
                    "taken back; the rest were not added.",
                    kept,
                ) from None
            raise
    return ids, kept_out


def add_sample(owner: str, project: str, class_name: str, data: bytes | np.ndarray) -> list[str]:
    """Decode, check and store one upload (a recording may become several 1-second samples); returns the new ids.

    Everything is decoded before anything is written, so a bad file or a full class adds nothing. The writes are
    all-or-nothing: when one fails (a full disk), the ones already written are removed again; if even that fails,
    PartlyAdded says exactly how many were kept. The class is looked up again under the project's lock, so a class
    renamed or removed in another tab meanwhile gets nothing (and no stray folder), with a plain message.
    """
    p = _room_before_decoding(owner, project, class_name)
    return _store(owner, project, class_name, encode_sample(p.kind, data), fill=False)[0]


@dataclass(frozen=True)
class BurstAdded:
    """What a burst added: the new ids, each refused item with why (1-based, in the burst's order), and how many
    decoded samples were left out because the class filled up."""

    ids: list[str]
    refused: list[tuple[int, str]]
    full: int


def add_samples(owner: str, project: str, class_name: str, items: list[bytes | TeachError]) -> BurstAdded:
    """Store a burst (the capture component's photos, or one recording): each item decoded on its own, so a bad frame
    is refused by number and the others kept; an item that is already a TeachError (refused by the burst's checks
    before decoding) is reported the same way. The good ones are written under one lock, as many as the class has
    room for, in order; a failed write takes all of them back (or PartlyAdded says exactly which were kept)."""
    p = _room_before_decoding(owner, project, class_name)
    files: list[bytes] = []
    refused: list[tuple[int, str]] = []
    for n, item in enumerate(items, 1):
        try:
            if isinstance(item, TeachError):
                raise item
            files.extend(encode_sample(p.kind, item))
        except TeachError as exc:
            refused.append((n, str(exc)))
    if not files:
        return BurstAdded([], refused, 0)
    ids, full = _store(owner, project, class_name, files, fill=True)
    return BurstAdded(ids, refused, full)


def _take_back(folder: Path, ids: list[str], suffix: str) -> list[str]:
    """Remove the samples just written; returns the ids that could not be removed (so are still kept)."""
    kept = []
    for sample_id in ids:
        try:
            (folder / f"{sample_id}{suffix}").unlink(missing_ok=True)
        except OSError:
            kept.append(sample_id)
    return kept


def delete_sample(owner: str, project: str, class_name: str, sample_id: str) -> None:
    p = load_project(owner, project)
    if not isinstance(sample_id, str) or not SAMPLE_ID.match(sample_id):
        raise TeachError(f"There is no sample {sample_id!r}.")
    with _locked(p.path):
        p = load_project(owner, project)
        path = _class_dir(p, class_name) / f"{sample_id}{SUFFIX[p.kind]}"
        try:
            path.unlink()
        except FileNotFoundError:
            raise TeachError(f"The sample {sample_id} is already gone.") from None


def count_class(folder: Path, kind: str) -> int:
    if not folder.is_dir():
        return 0
    return sum(1 for f in folder.iterdir() if f.suffix == SUFFIX[kind] and not f.name.startswith("."))


def sample_paths(owner: str, project: str) -> dict[str, list[Path]]:
    """Every class's sample files, oldest first (a class without a folder has none)."""
    p = load_project(owner, project)
    out = {}
    for c in p.classes:
        folder = p.path / c
        files = folder.glob(f"*{SUFFIX[p.kind]}") if folder.is_dir() else []
        out[c] = sorted(f for f in files if not f.name.startswith("."))
    return out


def counts(owner: str, project: str) -> dict[str, int]:
    return {c: len(files) for c, files in sample_paths(owner, project).items()}


def sample_id_of(path: Path) -> str:
    return Path(path).stem


# ---------------------------------------------------------------- the experiments as a background job
# A private helper: teach_experiments' functions report no progress, so this runs them one step (one count, one
# seed) at a time and reports each step, which gives the page a progress bar and a cancel between steps.

EXPERIMENTS = ("samples", "variance", "seeds")


def queue_experiment(
    queue,
    session_id: str,
    title: str,
    owner: str,
    project: Project,
    which: str,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    runs: int,
    method: str = "transfer",
):
    """Queue an experiment as its owner's job: the queue's one-training-per-identity rule then holds across the
    Retrain studio, Teach training and experiments (an experiment queued under its page key alone ran beside the same
    person's Retrain). The project is checked from the file system alone (classes, file count and size caps); the
    job reads and decodes the samples in its own process, so the click returns at once (issue 25). Every training
    is by `method`, the project's ("transfer", or "scratch": epochs, batch and rate apply)."""
    if not owner:
        raise TeachError("An experiment needs its owner: reload the page and try again.")
    if which not in EXPERIMENTS:
        raise TeachError(f"Unknown experiment {which!r}.")
    tx.check_method(method)
    teach_data.scan_folder(project.kind, project.path)
    work = functools.partial(
        run_experiment, which, project.kind, str(project.path), epochs, batch_size, learning_rate, runs, method=method
    )
    return queue.submit(session_id, title, work, owner=owner)


def run_experiment(
    which: str,
    kind: str,
    samples_dir: str,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    runs: int,
    job,
    method: str = "transfer",
) -> dict | None:
    """The work function of an experiment job (sent as JSON through functools.partial): returns {"which", "rows",
    "method", "baseline"} (the baseline's name: nearest neighbour on the same features or model inputs)."""

    if which not in EXPERIMENTS:
        raise TeachError(f"Unknown experiment {which!r}.")
    tx.check_method(method)
    loaded = teach_data.load_folder(kind, samples_dir)
    cfg = TeachConfig(kind=kind, epochs=int(epochs), batch_size=int(batch_size), learning_rate=float(learning_rate))
    split = split_data(loaded["x"], loaded["y"], cfg, groups=loaded["files"])
    data = {**split, "class_names": loaded["class_names"], "kind": kind}
    seeds = list(range(max(1, int(runs))))
    counts = tx.default_counts(split["y_train"]) if which == "samples" else (2, 4, 8)
    job.plan(len(seeds) if which == "seeds" else len(counts), 1)
    if not job.should_stop() and len(split["y_val"]):
        data = tx.prepare(data, method)  # once: every training of the experiment shares its features
    if which == "samples":
        steps = [lambda c=c: tx.samples_curve(cfg, data, [c], seeds, method) for c in counts]
    elif which == "variance":
        steps = [lambda c=c: tx.variance_curve(cfg, data, [c], seeds, method) for c in counts]
    else:
        steps = [lambda s=s: [tx.teach_run(cfg, data, s, method)] for s in seeds]
    rows: list[dict] = []
    for i, step in enumerate(steps):
        if job.should_stop():
            job.finish("cancelled", "Cancelled: the experiment stopped before it finished.")
            return None
        rows.extend(step())
        job.on_epoch_end(i, {})
    about = {"which": which, "method": method, "baseline": tx.BASELINE_NAMES[method]}
    if which == "seeds":
        return {**about, "rows": engine_spread.seed_spread(lambda seed: rows[seed], len(rows))}
    return {**about, "rows": rows}


job_codec.allow(run_experiment)
