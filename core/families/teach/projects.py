"""Teach projects, per owner: a project's kind, classes and samples are rows in the database (core.store.teach_rows,
through core.store.access), so every app process and worker on any machine sees the same projects. Its folder,
<user data>/teach/<owner>/<project>/<class>/<sample>.png|.wav plus project.json, is this machine's cache of the rows,
made when a reader needs files: the layout core.teach_data.load_folder and `python -m core teach train --data DIR` read.
Every change is one transaction on the project's locked row, so two tabs, threads or app processes take turns.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
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
from core.store import access, teach_cache, teach_rows
from core.store.topology import StoreError

PROJECT_JSON = teach_cache.PROJECT_JSON
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
SAMPLE_ID = teach_rows.SAMPLE_ID
# Names the project folder itself uses: a class of that name would collide with the file (compared ignoring case, so a
# project copied to a case-insensitive disk stays whole).
RESERVED_CLASS_NAMES = frozenset({PROJECT_JSON.lower(), ".lock"})


@dataclass(frozen=True)
class Project:
    """A project as stored: its kind, its classes in order, and where this machine caches its files."""

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


def project_dir(owner: str, name: str) -> Path:
    """Where a project's cache lives (it may not exist yet); names are checked so nothing escapes the owner's folder."""
    return access.teach_project_dir(owner, name)


@contextmanager
def _in_words() -> Iterator[None]:
    """The store's refusals (the database down or refusing, a name not allowed) as the page's TeachError."""
    try:
        yield
    except StoreError as error:
        raise TeachError(str(error)) from None


def _gone(name: str) -> TeachError:
    return TeachError(f"The project {name!r} was deleted (in another tab?).")


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
    """A new, empty project (its row, and this machine's cache: one folder per class and project.json). Refuses an
    existing name and the owner's cap."""
    kind = teach_data.check_kind(kind)
    project_dir(owner, name)  # the names are checked before anything else
    names = [c for c in class_names if str(c).strip()]  # blank rows of the form are not classes
    if kind == "sound":  # Teachable Machine's audio projects always learn the room's background noise
        names = [BACKGROUND] + [c for c in names if " ".join(str(c).split()).lower() != BACKGROUND]
    classes = _check_classes(kind, names)
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    try:
        with _in_words():
            access.create_teach_project(owner, name, kind, classes, created, MAX_PROJECTS_PER_OWNER)
    except teach_rows.Taken:
        raise TeachError(f"You already have a project called {name!r}: open it, or choose another name.") from None
    except teach_rows.TooMany:
        raise TeachError(
            f"You have {MAX_PROJECTS_PER_OWNER} projects, the most allowed: open one you no longer need in the Project "
            "list and delete it (“Delete this project”, under its name), then create this one."
        ) from None
    return load_project(owner, name)


def list_projects(owner: str) -> list[str]:
    """The owner's project names, sorted; another owner's projects are never listed."""
    with _in_words():
        return access.teach_projects(owner)


def _project(owner: str, name: str, row: teach_rows.ProjectRow | None) -> Project:
    if row is None:
        raise TeachError(f"You have no project called {name!r}.")
    try:
        kind, classes = teach_data.check_kind(row.kind), list(row.classes or [])
    except TeachError:
        classes = []
    if not classes:
        raise TeachError(f"The project {name!r} cannot be read: its stored settings are damaged.")
    return Project(owner, name, kind, classes, row.created, project_dir(owner, name))


def load_project(owner: str, name: str) -> Project:
    with _in_words():
        found = access.teach_project(owner, name)
    return _project(owner, name, None if found is None else found[0])


def delete_project(owner: str, name: str) -> None:
    """Delete one of the owner's projects with its samples (its trained models are versions, deleted apart)."""
    load_project(owner, name)  # a plain "no project" first
    with _in_words():
        access.delete_teach_project(owner, name)


# ---------------------------------------------------------------- classes


def _change(owner: str, project: str, decide) -> Project:
    """Change the classes as `decide(project as stored now) -> ClassChange | None` says, in one transaction."""
    load_project(owner, project)  # a plain "no project" first
    with _in_words():
        row = access.change_teach_classes(owner, project, lambda row: decide(_project(owner, project, row)))
    if row is None:
        raise _gone(project)
    return load_project(owner, project)


def _known(p: Project, class_name: str) -> None:
    if class_name not in p.classes:
        raise TeachError(f"The project {p.name!r} has no class {class_name!r}.")


def add_class(owner: str, project: str, class_name: str) -> Project:
    return _change(owner, project, lambda p: teach_rows.ClassChange(_check_classes(p.kind, [*p.classes, class_name])))


def rename_class(owner: str, project: str, old: str, new: str) -> Project:
    """Rename a class with its samples, in one transaction: samples added at the same moment from another tab land
    in the class before or after the rename, never in between (adding locks the same row and looks the class up)."""

    def decide(p: Project) -> teach_rows.ClassChange | None:
        _known(p, old)
        if old == BACKGROUND and p.kind == "sound":
            raise TeachError(f"The {BACKGROUND!r} class keeps its name: sound projects need it.")
        renamed = check_class_name(new)
        if renamed == old:
            return None
        classes = _check_classes(p.kind, [renamed if c == old else c for c in p.classes])
        return teach_rows.ClassChange(classes, renamed=(old, renamed))

    return _change(owner, project, decide)


def remove_class(owner: str, project: str, class_name: str) -> Project:
    """Remove a class and its samples; a project keeps at least two classes and a sound project its background."""

    def decide(p: Project) -> teach_rows.ClassChange:
        _known(p, class_name)
        if class_name == BACKGROUND and p.kind == "sound":
            raise TeachError(f"The {BACKGROUND!r} class cannot be removed: sound projects need it.")
        classes = [c for c in p.classes if c != class_name]
        if len(classes) < MIN_CLASSES:
            raise TeachError(f"A project needs at least {MIN_CLASSES} classes: add another before removing this one.")
        return teach_rows.ClassChange(classes, removed=class_name)

    return _change(owner, project, decide)


# ---------------------------------------------------------------- samples


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
    """Some files of an upload were kept and the rest not: `kept` says exactly which. The database's all-or-nothing
    writes no longer leave an upload half-stored; the pages still name the case."""

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
    have = counts(owner, project).get(class_name, 0)
    if have >= MAX_SAMPLES_PER_CLASS:  # a full class refuses before any decoding (a 25 MP photo takes ~0.3 s)
        raise ClassFull(
            f"The class {class_name!r} has {have} samples; a class holds at most {MAX_SAMPLES_PER_CLASS}. "
            "Delete some samples first. Nothing was added."
        )
    return p


def _store(owner: str, project: str, class_name: str, files: list[bytes], fill: bool) -> tuple[list[str], int]:
    """Store encoded sample files in the class in one transaction; returns (new ids, files left out).

    The class and its room are checked on the locked project row, so two tabs or app processes adding at once both
    land and the cap holds. With `fill`, as many as the class has room for are stored (in order) and the rest left
    out; without, files that do not all fit are refused together. All or nothing: a refused write keeps none."""
    p = load_project(owner, project)

    def room(row: teach_rows.ProjectRow, have: int) -> int:
        if class_name not in (row.classes or []) or row.kind != p.kind:
            raise TeachError(
                f"The class {class_name!r} was renamed or removed (in another tab?) before this was added. "
                "Nothing was added: choose a class and add it again."
            )
        free = max(0, MAX_SAMPLES_PER_CLASS - have)
        if len(files) > free and not (fill and free):
            raise TeachError(
                f"The class {class_name!r} has {have} samples and this adds {len(files)}; a class holds at most "
                f"{MAX_SAMPLES_PER_CLASS} ({free} more). Delete some samples first."
            )
        return free

    with _in_words():
        ids = access.add_teach_samples(owner, project, class_name, files, SUFFIX[p.kind], room)
    if ids is None:
        raise _gone(project)
    return ids, len(files) - len(ids)


def add_sample(owner: str, project: str, class_name: str, data: bytes | np.ndarray) -> list[str]:
    """Decode, check and store one upload (a recording may become several 1-second samples); returns the new ids.

    Everything is decoded before anything is written, so a bad file or a full class adds nothing; the write is one
    transaction, so a refused one adds nothing either. The class is looked up again on the locked project row, so a
    class renamed or removed in another tab meanwhile gets nothing, with a plain message.
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
    before decoding) is reported the same way. The good ones are stored in one transaction, as many as the class has
    room for, in order; a refused write keeps none of them."""
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


def delete_sample(owner: str, project: str, class_name: str, sample_id: str) -> None:
    p = load_project(owner, project)
    if not isinstance(sample_id, str) or not SAMPLE_ID.match(sample_id):
        raise TeachError(f"There is no sample {sample_id!r}.")
    _known(p, class_name)
    with _in_words():
        gone = access.delete_teach_sample(owner, project, class_name, sample_id)
    if gone is None:
        raise _gone(project)
    if not gone:
        raise TeachError(f"The sample {sample_id} is already gone.")


def sample_paths(owner: str, project: str) -> dict[str, list[Path]]:
    """Every class's sample files, oldest first, in this machine's cache of the project (made or brought up to date
    from the rows first)."""
    with _in_words():
        found = access.teach_samples(owner, project)
    _project(owner, project, None if found is None else found[0])  # no project, or a damaged one: in plain words
    assert found is not None
    return found[1]


def counts(owner: str, project: str) -> dict[str, int]:
    """How many samples each class holds (from the rows: no file is read)."""
    with _in_words():
        found = access.teach_project(owner, project)
    p = _project(owner, project, None if found is None else found[0])
    assert found is not None
    return {c: found[1].get(c, 0) for c in p.classes}


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
