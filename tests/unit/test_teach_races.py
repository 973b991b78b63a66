"""Unit: two tabs on one Teach project (issue 25). A Hypothesis state machine adds, renames and removes classes and
adds and deletes samples from two tabs, each acting on what its page last showed, and sometimes both at the same
moment (two threads released together); a model of the project says where every sample must be. After every step no
sample is lost or stranded in a folder no class names, and every class can still be renamed and renamed back."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import threading

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from PIL import Image

from core.families.teach import projects as teach_store
from core.families.teach.data import TeachError

OWNER, PROJECT = "owner-tabs", "p"
NAMES = ("a", "b", "c", "d", "background noise")  # "background noise" is an ordinary name in an image project
TABS = (0, 1)


def tiny_png(shade: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (shade, 20, 200)).save(buf, format="PNG")
    return buf.getvalue()


PNG = tiny_png()


def check_plain(exc: TeachError) -> None:
    """A refusal in words: never the file system's own text or a path."""
    text = str(exc)
    assert "Errno" not in text and "not empty" not in text and os.sep + "teach" not in text, text


def attempt(fn, *args) -> tuple[bool, object]:
    try:
        return True, fn(*args)
    except TeachError as exc:
        check_plain(exc)
        return False, exc


def at_once(first, second) -> tuple[tuple[bool, object], tuple[bool, object]]:
    """Run two calls in two threads released together (two tabs pressing their buttons at the same moment)."""
    start = threading.Barrier(2)
    results: list = [None, None]

    def run(i, call):
        start.wait()
        results[i] = attempt(*call)

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate((first, second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results[0], results[1]


class TwoTabs(RuleBasedStateMachine):
    """The model: the class list in order, and the class of every sample id the store said it kept."""

    @initialize()
    def fresh_project(self):
        self.folder = tempfile.mkdtemp(prefix="teach-tabs-")
        os.environ["MLX_USER_DATA_DIR"] = self.folder  # the test's user_data fixture restores it afterwards
        teach_store.create_project(OWNER, PROJECT, "image", ["a", "b"])
        self.classes = ["a", "b"]
        self.where: dict[str, str] = {}  # sample id -> its class
        self.views = {tab: list(self.classes) for tab in TABS}  # what each tab's page shows
        self.seen: dict[str, str] = {}  # sample ids some page showed, with the class it showed them in

    def teardown(self):
        shutil.rmtree(getattr(self, "folder", ""), ignore_errors=True)

    # ------------------------------------------------ what the model expects

    def _lower(self, skip: str | None = None) -> set[str]:
        return {c.lower() for c in self.classes if c != skip}

    def _can_rename(self, old: str, new: str) -> bool:
        return old in self.classes and (new == old or new.lower() not in self._lower(skip=old))

    def _can_remove(self, name: str) -> bool:
        return name in self.classes and len(self.classes) > teach_store.MIN_CLASSES

    def _can_add_class(self, name: str) -> bool:
        return name.lower() not in self._lower() and len(self.classes) < teach_store.MAX_CLASSES

    def _renamed(self, old: str, new: str) -> None:
        self.classes = [new if c == old else c for c in self.classes]
        self.where = {s: (new if c == old else c) for s, c in self.where.items()}

    def _removed(self, name: str) -> None:
        self.classes.remove(name)
        self.where = {s: c for s, c in self.where.items() if c != name}

    def _pick(self, tab: int, i: int) -> str:
        view = self.views[tab]
        return view[i % len(view)]

    # ------------------------------------------------ one tab at a time, on what its page last showed

    @rule(tab=st.sampled_from(TABS))
    def reload_tab(self, tab):
        self.views[tab] = list(teach_store.load_project(OWNER, PROJECT).classes)
        self.seen.update(self.where)

    @rule(tab=st.sampled_from(TABS), i=st.integers(0, 9))
    def add_sample(self, tab, i):
        target = self._pick(tab, i)
        ok, out = attempt(teach_store.add_sample, OWNER, PROJECT, target, PNG)
        assert ok == (target in self.classes), out
        if ok:
            (sample_id,) = out
            self.where[sample_id] = target
            self.seen[sample_id] = target

    @rule(tab=st.sampled_from(TABS), i=st.integers(0, 9), new=st.sampled_from(NAMES))
    def rename_class(self, tab, i, new):
        old = self._pick(tab, i)
        ok, out = attempt(teach_store.rename_class, OWNER, PROJECT, old, new)
        assert ok == self._can_rename(old, new), (old, new, out)
        if ok:
            self._renamed(old, new)

    @rule(tab=st.sampled_from(TABS), i=st.integers(0, 9))
    def remove_class(self, tab, i):
        name = self._pick(tab, i)
        ok, out = attempt(teach_store.remove_class, OWNER, PROJECT, name)
        assert ok == self._can_remove(name), (name, out)
        if ok:
            self._removed(name)

    @rule(name=st.sampled_from(NAMES))
    def add_class(self, name):
        ok, out = attempt(teach_store.add_class, OWNER, PROJECT, name)
        assert ok == self._can_add_class(name), (name, out)
        if ok:
            self.classes.append(name)

    @rule(k=st.integers(0, 99))
    def delete_sample(self, k):
        # An index, not a drawn id: the ids differ from run to run, and what is drawn must not depend on them.
        if not self.seen:
            return
        sample_id = sorted(self.seen)[k % len(self.seen)]
        shown_in = self.seen[sample_id]
        ok, out = attempt(teach_store.delete_sample, OWNER, PROJECT, shown_in, sample_id)
        assert ok == (self.where.get(sample_id) == shown_in), (sample_id, shown_in, out)
        if ok:
            del self.where[sample_id]

    @rule(name=st.sampled_from(["project.json", "Project.JSON", ".lock"]), i=st.integers(0, 9))
    def reserved_names_are_refused(self, name, i):
        ok, out = attempt(teach_store.add_class, OWNER, PROJECT, name)
        assert not ok and ("reserved" in str(out) or "not allowed" in str(out))
        ok, out = attempt(teach_store.rename_class, OWNER, PROJECT, self.classes[i % len(self.classes)], name)
        assert not ok and ("reserved" in str(out) or "not allowed" in str(out))

    # ------------------------------------------------ both tabs at the same moment

    @rule(
        change=st.sampled_from(["rename", "remove", "add_class"]),
        i=st.integers(0, 9),
        new=st.sampled_from(NAMES),
        j=st.integers(0, 9),
        deleting=st.booleans(),
    )
    def both_tabs_at_once(self, change, i, new, j, deleting):
        """Tab 0 changes the classes while tab 1 adds (or deletes) a sample in the class its page shows."""
        old = self._pick(0, i)
        if change == "rename":
            first, expected = (teach_store.rename_class, OWNER, PROJECT, old, new), self._can_rename(old, new)
        elif change == "remove":
            first, expected = (teach_store.remove_class, OWNER, PROJECT, old), self._can_remove(old)
        else:
            first, expected = (teach_store.add_class, OWNER, PROJECT, new), self._can_add_class(new)
        target = self._pick(1, j)
        victim = next((s for s, c in sorted(self.seen.items()) if c == target), None) if deleting else None
        if victim is not None:
            second = (teach_store.delete_sample, OWNER, PROJECT, target, victim)
            second_alone = self.where.get(victim) == target
        else:
            second, second_alone = (teach_store.add_sample, OWNER, PROJECT, target, PNG), target in self.classes
        (ok1, out1), (ok2, out2) = at_once(first, second)
        assert ok1 == expected, (first, out1)
        # Either order is right only if tab 0's change touched the sample's class (took its name away or gave it).
        took = change in ("rename", "remove") and old == target and (change == "remove" or new != old)
        touched = ok1 and (took or (change in ("rename", "add_class") and new == target))
        if not touched:
            assert ok2 == second_alone, (second, out2)
        # Apply in the only order both results allow: the sample first (had the change come first, it would have
        # failed), then the change.
        if ok2 and victim is not None:
            del self.where[victim]
        elif ok2:
            (sample_id,) = out2
            self.where[sample_id] = target
            self.seen[sample_id] = target
        if ok1 and change == "rename":
            self._renamed(old, new)
        elif ok1 and change == "remove":
            self._removed(old)
        elif ok1:
            self.classes.append(new)

    # ------------------------------------------------ after every step

    @invariant()
    def no_sample_is_lost_or_stranded(self):
        project = teach_store.load_project(OWNER, PROJECT)
        assert project.classes == self.classes
        on_disk = {
            teach_store.sample_id_of(f): c
            for c, files in teach_store.sample_paths(OWNER, PROJECT).items()
            for f in files
        }
        assert on_disk == self.where
        every_png = {f.stem for f in project.path.rglob("*.png")}
        assert every_png == set(self.where), "a sample file lies outside its class folder"
        names = {p.name for p in project.path.iterdir()} - {".lock"}
        assert names == {*self.classes, teach_store.PROJECT_JSON}, names

    @rule()
    def every_class_can_be_renamed_and_back(self):
        for name in list(self.classes):
            fresh = f"{name}-x"
            teach_store.rename_class(OWNER, PROJECT, name, fresh)
            assert teach_store.rename_class(OWNER, PROJECT, fresh, name).classes == self.classes


TwoTabs.TestCase.settings = settings(
    max_examples=10,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
test_two_tabs = TwoTabs.TestCase


# ---------------------------------------------------------------- the cases the issue found, one by one


def test_a_sample_added_into_a_class_renamed_meanwhile_gets_a_plain_refusal_and_no_stray_folder(user_data):
    """The stale tab: its page still shows "a" after another tab renamed it; nothing is stranded under "a"."""
    project = teach_store.create_project(OWNER, PROJECT, "image", ["a", "b"])
    teach_store.add_sample(OWNER, PROJECT, "a", PNG)
    teach_store.rename_class(OWNER, PROJECT, "a", "c")
    with pytest.raises(TeachError, match="no class|renamed or removed"):
        teach_store.add_sample(OWNER, PROJECT, "a", PNG)
    assert not (project.path / "a").exists()
    assert teach_store.rename_class(OWNER, PROJECT, "c", "a").classes == ["a", "b"]
    assert teach_store.counts(OWNER, PROJECT) == {"a": 1, "b": 0}


def test_a_stray_folder_in_the_cache_never_blocks_a_rename_and_is_not_a_sample(user_data):
    """The folder is only a cache: a folder left under a class's old name (an old store's race, a hand copy) neither
    blocks renaming back nor adds samples; the next read clears it."""
    project = teach_store.create_project(OWNER, PROJECT, "image", ["a", "b"])
    teach_store.add_sample(OWNER, PROJECT, "a", PNG)
    teach_store.rename_class(OWNER, PROJECT, "a", "c")
    stray = project.path / "a"
    stray.mkdir()
    shutil.copy(next((project.path / "c").glob("*.png")), stray / "0000000000000001-abcdef.png")
    assert teach_store.rename_class(OWNER, PROJECT, "c", "a").classes == ["a", "b"]
    assert teach_store.counts(OWNER, PROJECT) == {"a": 1, "b": 0}
    (kept,) = teach_store.sample_paths(OWNER, PROJECT)["a"]
    assert [p.name for p in (project.path / "a").iterdir()] == [kept.name]


def test_an_image_class_renamed_to_background_noise_can_be_renamed_back(user_data):
    teach_store.create_project(OWNER, PROJECT, "image", ["a", "b"])
    teach_store.rename_class(OWNER, PROJECT, "a", "background noise")
    assert teach_store.rename_class(OWNER, PROJECT, "background noise", "a").classes == ["a", "b"]
    teach_store.create_project(OWNER, "s", "sound", ["clap"])
    with pytest.raises(TeachError, match="keeps its name"):  # a sound project still needs it
        teach_store.rename_class(OWNER, "s", "background noise", "quiet")


@pytest.mark.parametrize("name", ["project.json", "PROJECT.json", ".lock"])
def test_a_class_named_like_the_project_file_is_refused_and_leaves_nothing(user_data, name):
    with pytest.raises(TeachError, match="reserved|not allowed"):
        teach_store.create_project(OWNER, PROJECT, "image", ["a", name])
    teach_store.create_project(OWNER, PROJECT, "image", ["a", "b"])
    with pytest.raises(TeachError, match="reserved|not allowed"):
        teach_store.add_class(OWNER, PROJECT, name)
    with pytest.raises(TeachError, match="reserved|not allowed"):
        teach_store.rename_class(OWNER, PROJECT, "a", name)
    listed = (p.name for p in (user_data / "teach" / OWNER).iterdir() if p.suffix != ".lock")  # the cache's locks
    assert sorted(listed) == [PROJECT]  # no hidden half-project
    assert teach_store.load_project(OWNER, PROJECT).classes == ["a", "b"]


def test_a_write_the_database_refuses_halfway_keeps_none_of_it(user_data, monkeypatch):
    """The database refuses the 84th of 100 clips (a NULL blob, which it never stores): the transaction keeps none of
    them, the message says so in plain words, and the cache folder is as it was."""
    project = teach_store.create_project(OWNER, PROJECT, "image", ["a", "b"])
    (before,) = teach_store.add_sample(OWNER, PROJECT, "a", PNG)
    monkeypatch.setattr(teach_store, "encode_sample", lambda kind, data: [PNG] * 83 + [None] + [PNG] * 16)
    with pytest.raises(TeachError, match="refused.*Nothing was changed") as refused:
        teach_store.add_sample(OWNER, PROJECT, "a", b"100 clips")
    check_plain(refused.value)
    assert not isinstance(refused.value, teach_store.PartlyAdded)
    assert teach_store.counts(OWNER, PROJECT) == {"a": 1, "b": 0}
    assert [p.stem for p in (project.path / "a").iterdir()] == [before]
    assert [p.stem for p in teach_store.sample_paths(OWNER, PROJECT)["a"]] == [before]


# ---------------------------------------------------------------- an experiment is its owner's job


def test_an_experiment_is_queued_as_its_owners_job_so_it_never_runs_beside_their_retrain(user_data):
    from core.engine import jobs

    project = teach_store.create_project(OWNER, PROJECT, "image", ["a", "b"])
    for name in ("a", "b"):
        for shade in (40, 120):
            teach_store.add_sample(OWNER, PROJECT, name, tiny_png(shade))
    queue = jobs.JobQueue(limit=lambda: 1, worker="thread")
    release, started = threading.Event(), threading.Event()

    def retrain(job):  # the owner's Retrain: queued under their identity, as the Retrain page does
        started.set()
        assert release.wait(60)

    running = queue.submit(OWNER, "Retrain colors", retrain)
    assert started.wait(60)
    try:
        with pytest.raises(jobs.JobError, match="already running"):
            teach_store.queue_experiment(
                queue, f"teach-experiments-{OWNER}", "Seeds", OWNER, project, "seeds", 1, 8, 0.001, 2
            )
        other = teach_store.create_project("owner-other", PROJECT, "image", ["a", "b"])
        for name in ("a", "b"):
            teach_store.add_sample("owner-other", PROJECT, name, PNG)
        waiting = teach_store.queue_experiment(
            queue, "teach-experiments-owner-other", "Seeds", "owner-other", other, "seeds", 1, 8, 0.001, 2
        )
        assert waiting.owner == "owner-other" and waiting.status == "queued"  # behind the running Retrain
        waiting.cancel()
        with pytest.raises(TeachError, match="needs its owner"):
            teach_store.queue_experiment(queue, "teach-experiments-", "Seeds", "", other, "seeds", 1, 8, 0.001, 2)
    finally:
        release.set()
    assert queue.wait(running, 60) and queue.wait(waiting, 60)
    assert waiting.status == "cancelled"
