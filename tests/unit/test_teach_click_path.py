"""Teach's "Train the model" and experiment clicks decode nothing in the page's process (issue 25: 3.3 s and 2.8 s of
decoding in the page's thread): the caps are checked from the file system, and the queued job reads and decodes the
samples itself, training on the same ones."""

from __future__ import annotations

import pytest

from core.families.teach import data as td
from core.families.teach import projects as teach_store
from core.families.teach.data import TeachError
from core.families.teach.job import TeachRequest, start_teach
from tests.helpers.teach import write_project

OWNER = "owner-click"


class CapturingQueue:
    """A queue that keeps what was submitted instead of running it, so the test runs the work itself."""

    def __init__(self):
        self.submitted: list[tuple[str, str, object, str]] = []

    def submit(self, session_id, title, work, owner=""):
        self.submitted.append((session_id, title, work, owner))
        return type("Queued", (), {"id": len(self.submitted), "owner": owner, "status": "queued"})()


class RunningJob:
    """The job handle a worker gives the work function: never stopped, reports recorded."""

    def __init__(self):
        self.reports, self.finished, self.planned = [], None, None

    def plan(self, epochs, steps_per_epoch):
        self.planned = (epochs, steps_per_epoch)

    def on_epoch_end(self, epoch, logs):
        self.reports.append(epoch)

    def should_stop(self):
        return False

    def hooks(self, batch_every=None):
        return {"on_epoch_end": self.on_epoch_end, "should_stop": self.should_stop}

    def finish(self, status, message="", curve=None):
        self.finished = (status, message)


@pytest.fixture
def decoded(monkeypatch):
    """Every sample file the Teach loader decodes, by path; while `decoded.page` is True, decoding fails the test."""
    real = td._decode_file
    calls: list[str] = []

    def counted(kind, path):
        if counted.page:
            raise AssertionError(f"{path.name} was decoded in the page's process")
        calls.append(str(path))
        return real(kind, path)

    counted.page = True
    counted.calls = calls
    monkeypatch.setattr(td, "_decode_file", counted)
    return counted


def test_the_train_click_decodes_nothing_and_the_job_trains_on_the_same_samples(tmp_path, user_data, decoded):
    root = write_project(tmp_path / "p", "image", per_class=5)  # image transfer: a head on NumPy features, quick
    queue = CapturingQueue()
    req = TeachRequest("image", str(root), owner=OWNER, project="p", version_name="p")
    start_teach(req, "session-click", queue)  # the click: settings and file-system caps only
    assert not decoded.calls and len(queue.submitted) == 1
    session, _, work, owner = queue.submitted[0]
    assert (session, owner) == ("session-click", OWNER)
    assert work.args == (req,) and req.samples_dir == str(root)  # plain values: the job finds the files itself

    decoded.page = False  # now the worker's side
    outcome = work(RunningJob())
    files = sorted(str(p) for p in root.glob("*/*.png"))
    assert sorted(decoded.calls) == files  # every sample, decoded once, by the job
    assert {name: c["train"] + c["held_out"] for name, c in outcome["counts"].items()} == {"a": 5, "b": 5}


def test_an_experiment_click_decodes_nothing_and_its_job_reads_every_sample(tmp_path, user_data, decoded):
    project = teach_store.create_project(OWNER, "exp", "drawing", ["a", "b"])
    source = write_project(tmp_path / "src", "drawing", per_class=5)
    for name in ("a", "b"):
        for path in sorted((source / name).glob("*.png")):
            teach_store.add_sample(OWNER, "exp", name, path.read_bytes())
    queue = CapturingQueue()
    teach_store.queue_experiment(queue, f"teach-experiments-{OWNER}", "Seeds", OWNER, project, "seeds", 1, 8, 0.001, 1)
    assert not decoded.calls and len(queue.submitted) == 1
    _, _, work, owner = queue.submitted[0]
    assert owner == OWNER and str(project.path) in work.args

    decoded.page = False
    job = RunningJob()
    result = work(job)
    assert len(decoded.calls) == 10 and len(set(decoded.calls)) == 10
    assert result["which"] == "seeds" and job.reports == [0]  # one seed, one training


def test_the_caps_still_refuse_before_queueing_without_decoding(tmp_path, monkeypatch, decoded):
    root = write_project(tmp_path / "p", "drawing", per_class=3)
    queue = CapturingQueue()
    monkeypatch.setenv("MLX_MAX_TEACH_FILES", "4")
    with pytest.raises(TeachError, match="at most 4"):
        start_teach(TeachRequest("drawing", str(root), owner=OWNER), "session-cap", queue)
    monkeypatch.delenv("MLX_MAX_TEACH_FILES")
    (root / "c").mkdir()  # a class with no samples
    with pytest.raises(TeachError, match="no samples"):
        start_teach(TeachRequest("drawing", str(root), owner=OWNER), "session-cap", queue)
    assert not queue.submitted and not decoded.calls


def test_a_broken_sample_fails_the_queued_job_in_plain_words(tmp_path, user_data, decoded):
    root = write_project(tmp_path / "p", "drawing", per_class=3)
    (root / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    queue = CapturingQueue()
    start_teach(TeachRequest("drawing", str(root), owner=OWNER), "session-broken", queue)  # queued: nothing decoded
    decoded.page = False
    with pytest.raises(TeachError, match="b/broken.png"):  # the queue shows a ValueError's text as the job's message
        queue.submitted[0][2](RunningJob())
