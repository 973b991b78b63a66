"""Unit: Teach projects in the database with their cache folders — the contract layout, per-owner privacy, class
rules, caps, all-or-nothing sample writes, the cache rebuilt from the rows."""

from __future__ import annotations

import io
import json
import shutil
import wave

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import update

from core.families.teach import data as teach_data
from core.families.teach import projects as teach_store
from core.families.teach.data import BACKGROUND, TeachError
from core.families.teach.projects import add_sample, create_project, list_projects, load_project
from core.store import db, schema
from tests.helpers.teach import wav_bytes

OWNER, OTHER = "owner-a", "owner-b"


def png_bytes(color=(200, 30, 30), size=(64, 48), fmt="PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format=fmt)
    return buf.getvalue()


def drawing_rgba() -> np.ndarray:
    rgba = np.full((280, 280, 4), 255, np.uint8)
    rgba[100:180, 60:220, :3] = 0  # a black bar on white, as the canvas draws
    return rgba


def test_create_writes_the_contract_layout_and_load_folder_reads_it(user_data):
    p = create_project(OWNER, "fruit", "image", ["apple", "banana"])
    assert p.path == user_data.resolve() / "teach" / OWNER / "fruit"
    assert sorted(d.name for d in p.path.iterdir() if d.is_dir()) == ["apple", "banana"]
    assert json.loads((p.path / "project.json").read_text())["classes"] == ["apple", "banana"]
    for _ in range(3):
        add_sample(OWNER, "fruit", "apple", png_bytes((220, 20, 20)))
        add_sample(OWNER, "fruit", "banana", png_bytes((230, 220, 40), fmt="JPEG"))
    assert teach_store.counts(OWNER, "fruit") == {"apple": 3, "banana": 3}
    data = teach_data.load_folder("image", p.path)
    assert sorted(data["class_names"]) == ["apple", "banana"]
    assert len(data["y"]) == 6
    assert all(f.suffix == ".png" for files in teach_store.sample_paths(OWNER, "fruit").values() for f in files)


def test_sound_projects_get_the_background_class_and_it_stays(user_data):
    p = create_project(OWNER, "claps", "sound", ["clap", "snap"])
    assert p.classes == [BACKGROUND, "clap", "snap"]
    with pytest.raises(TeachError, match="cannot be removed"):
        teach_store.remove_class(OWNER, "claps", BACKGROUND)
    with pytest.raises(TeachError, match="keeps its name"):
        teach_store.rename_class(OWNER, "claps", BACKGROUND, "quiet")
    # A user who types the background class too gets it once.
    assert create_project(OWNER, "b", "sound", ["Background  Noise", "hum"]).classes == [BACKGROUND, "hum"]


def test_a_long_recording_becomes_one_second_wav_chunks(user_data):
    create_project(OWNER, "claps", "sound", ["clap"])
    ids = add_sample(OWNER, "claps", "clap", wav_bytes(3.4, rate=44100, channels=2))
    assert len(ids) == 3  # the 0.4 s tail is not a sample
    assert len(add_sample(OWNER, "claps", "clap", wav_bytes(0.6))) == 1  # a short clip is padded to one second
    files = teach_store.sample_paths(OWNER, "claps")["clap"]
    assert [teach_store.sample_id_of(f) for f in files][:3] == ids  # in recording order
    for f in files:
        with wave.open(str(f)) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()) == (16000, 1, 2, 16000)


def test_a_drawing_is_stored_as_its_28_by_28_bitmap(user_data):
    create_project(OWNER, "doodles", "drawing", ["bar", "dot"])
    (sample_id,) = add_sample(OWNER, "doodles", "bar", drawing_rgba())
    path = teach_store.sample_paths(OWNER, "doodles")["bar"][0]
    assert path.stem == sample_id
    with Image.open(path) as img:
        assert img.size == (28, 28)


def test_another_owner_sees_nothing(user_data):
    create_project(OWNER, "fruit", "image", ["apple", "banana"])
    assert list_projects(OWNER) == ["fruit"]
    assert list_projects(OTHER) == []
    with pytest.raises(TeachError, match="no project"):
        load_project(OTHER, "fruit")
    create_project(OTHER, "fruit", "drawing", ["x", "y"])  # the same name is another project
    assert load_project(OWNER, "fruit").kind == "image"


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", "", ".hidden", "x" * 65, "with space"])
def test_project_names_cannot_escape(user_data, name):
    with pytest.raises(ValueError, match="not allowed"):
        create_project(OWNER, name, "image", ["a", "b"])
    assert not (user_data / "teach").exists() or not any((user_data / "teach").rglob("project.json"))


@pytest.mark.parametrize("owner", ["../x", "", "a/b"])
def test_owners_are_checked_too(owner):
    with pytest.raises(ValueError, match="not allowed"):
        list_projects(owner)


@pytest.mark.parametrize(
    ("classes", "words"),
    [
        (["only one"], "2 to 10"),
        ([f"c{i}" for i in range(11)], "2 to 10"),
        (["cat", "Cat"], "same name"),
        (["../up", "b"], "not allowed"),
        (["a/b", "c"], "not allowed"),
        ([".dot", "c"], "not allowed"),
        (["ok", "x" * 41], "at most 40"),
        (["ok", "   "], "2 to 10"),  # a blank row is not a class
    ],
)
def test_bad_class_lists_are_refused(user_data, classes, words):
    with pytest.raises(TeachError, match=words):
        create_project(OWNER, "p", "image", classes)
    assert list_projects(OWNER) == []


def test_class_operations(user_data):
    create_project(OWNER, "p", "image", ["a", "b"])
    add_sample(OWNER, "p", "a", png_bytes())
    p = teach_store.rename_class(OWNER, "p", "a", "red things")
    assert p.classes == ["red things", "b"]
    assert teach_store.counts(OWNER, "p") == {"red things": 1, "b": 0}
    with pytest.raises(TeachError, match="same name"):
        teach_store.rename_class(OWNER, "p", "b", "Red Things")
    p = teach_store.add_class(OWNER, "p", "c")
    assert p.classes == ["red things", "b", "c"] and (p.path / "c").is_dir()
    p = teach_store.remove_class(OWNER, "p", "red things")
    assert p.classes == ["b", "c"] and not (p.path / "red things").exists()
    with pytest.raises(TeachError, match="at least 2"):
        teach_store.remove_class(OWNER, "p", "b")
    with pytest.raises(TeachError, match="no class"):
        add_sample(OWNER, "p", "gone", png_bytes())


def test_delete_sample(user_data):
    create_project(OWNER, "p", "image", ["a", "b"])
    first, second = (add_sample(OWNER, "p", "a", png_bytes())[0] for _ in range(2))
    teach_store.delete_sample(OWNER, "p", "a", first)
    assert [f.stem for f in teach_store.sample_paths(OWNER, "p")["a"]] == [second]
    with pytest.raises(TeachError, match="already gone"):
        teach_store.delete_sample(OWNER, "p", "a", first)
    with pytest.raises(TeachError, match="no sample"):
        teach_store.delete_sample(OWNER, "p", "a", "../../project")


def test_a_bad_file_adds_nothing(user_data):
    create_project(OWNER, "p", "image", ["a", "b"])
    with pytest.raises(ValueError):
        add_sample(OWNER, "p", "a", b"not an image at all")
    create_project(OWNER, "s", "sound", ["clap"])
    with pytest.raises(ValueError):
        add_sample(OWNER, "s", "clap", b"RIFF....WAVEjunk")
    with pytest.raises(TeachError, match="channels"):
        add_sample(OWNER, "s", "clap", wav_bytes(1.0, channels=9))
    assert teach_store.counts(OWNER, "p") == {"a": 0, "b": 0}
    assert sum(teach_store.counts(OWNER, "s").values()) == 0
    leftovers = [f for f in (user_data / "teach").rglob("*") if f.is_file() and f.name != "project.json"]
    leftovers = [f for f in leftovers if f.suffix != ".lock"]  # the cache's lock files, beside the project folders
    assert leftovers == []


def test_caps(user_data, monkeypatch):
    create_project(OWNER, "p", "image", ["a", "b"])
    big = b"\x89PNG" + b"\0" * (teach_store.MAX_UPLOAD_BYTES + 1)
    with pytest.raises(TeachError, match="at most 5 MB"):
        add_sample(OWNER, "p", "a", big)
    monkeypatch.setattr(teach_store, "MAX_SAMPLES_PER_CLASS", 2)
    add_sample(OWNER, "p", "a", png_bytes())
    add_sample(OWNER, "p", "a", png_bytes())
    with pytest.raises(TeachError, match="at most 2"):
        add_sample(OWNER, "p", "a", png_bytes())
    create_project(OWNER, "s", "sound", ["clap"])
    with pytest.raises(TeachError, match="adds 3"):  # a 3-second recording does not fit: none of it is kept
        add_sample(OWNER, "s", "clap", wav_bytes(3.0))
    assert teach_store.counts(OWNER, "s")["clap"] == 0
    monkeypatch.setattr(teach_store, "MAX_PROJECTS_PER_OWNER", 2)
    with pytest.raises(TeachError, match="the most allowed"):
        create_project(OWNER, "third", "image", ["a", "b"])
    create_project(OTHER, "third", "image", ["a", "b"])  # the cap is per owner


def test_duplicate_project_and_delete(user_data):
    create_project(OWNER, "p", "image", ["a", "b"])
    with pytest.raises(TeachError, match="already have"):
        create_project(OWNER, "p", "drawing", ["x", "y"])
    teach_store.delete_project(OWNER, "p")
    assert list_projects(OWNER) == []
    assert not any(p.name.startswith(".deleted") for p in (user_data / "teach" / OWNER).iterdir())


def test_a_damaged_cache_is_rebuilt_from_the_rows_and_a_damaged_row_is_a_plain_error(user_data):
    p = create_project(OWNER, "p", "image", ["a", "b"])
    add_sample(OWNER, "p", "a", png_bytes())
    (p.path / "project.json").write_text("{not json")  # the cache's record only: the rows are the truth
    (p.path / "a").rename(p.path / "stray")
    (path,) = teach_store.sample_paths(OWNER, "p")["a"]
    assert path.is_file() and not (p.path / "stray").exists()
    assert sorted(d.name for d in p.path.iterdir()) == ["a", "b", "project.json"]
    with db.writing() as connection:
        connection.execute(update(schema.teach_projects).values(classes="{not json"))
    with pytest.raises(TeachError, match="damaged"):
        load_project(OWNER, "p")


class StoppedJob:
    """A job the user cancelled at once: the experiment must end as cancelled and train nothing."""

    def __init__(self):
        self.finished, self.planned = None, None

    def plan(self, epochs, steps):
        self.planned = (epochs, steps)

    def should_stop(self):
        return True

    def finish(self, status, message="", curve=None):
        self.finished = (status, message)

    def on_epoch_end(self, epoch, logs):
        raise AssertionError("no step may run after a cancel")


def test_an_experiment_job_stops_at_a_cancel_and_refuses_unknown_names(user_data):
    p = create_project(OWNER, "d", "drawing", ["bar", "dot"])
    for name in ("bar", "dot"):
        for _ in range(4):
            add_sample(OWNER, "d", name, drawing_rgba())
    job = StoppedJob()
    assert teach_store.run_experiment("seeds", "drawing", str(p.path), 1, 8, 0.001, 3, job) is None
    assert job.planned == (3, 1) and job.finished[0] == "cancelled"
    with pytest.raises(TeachError, match="Unknown experiment"):
        teach_store.run_experiment("vibes", "drawing", str(p.path), 1, 8, 0.001, 3, StoppedJob())


def test_a_folder_of_the_old_file_store_is_imported_in_place_and_never_deleted(user_data):
    """today's layout in the live user-data folder: `import-folder` makes its rows, the first read moves the old
    folder aside (kept whole, never deleted) and makes the cache from the rows, byte for byte."""
    from core.store import importer
    from tests.helpers.db_checks import V0

    owner = "u" + "a" * 20
    old = user_data / "teach" / owner / "shapes"
    shutil.copytree(V0 / "teach" / owner / "shapes", old)
    before = {p.relative_to(old): p.read_bytes() for p in old.rglob("*.png")}
    assert list_projects(owner) == []  # not imported yet: not a project (and its folder is left alone)
    assert importer.import_folder(user_data)["teach_projects"] == {"added": 1, "present": 0}
    paths = teach_store.sample_paths(owner, "shapes")
    assert {p.relative_to(old): p.read_bytes() for files in paths.values() for p in files} == before
    (moved,) = (user_data / "teach" / owner).glob(".legacy-shapes-*")
    assert {p.relative_to(moved): p.read_bytes() for p in moved.rglob("*.png")} == before
    assert json.loads((old / "project.json").read_text())["classes"] == ["circle", "line"]
