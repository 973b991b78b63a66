"""The teacher's live view and shared Teach projects in the store and the queue, with two identities and more: the
roster (one query, the teacher's only), a member's training status read from the queue without its details, and Teach
projects shared with a class (the owner shares and unshares, members read, nobody else sees or changes them)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from core.engine import jobs
from core.store import access, class_projects, classroom
from core.store.topology import StoreError
from tests.helpers.jobs import WAIT
from tests.helpers.teach import stored_project

TEACHER, ANNA, BEN, CARL = "u" + "t" * 20, "u" + "a" * 20, "u" + "b" * 20, "u" + "c" * 20
INK = np.zeros((28, 28), np.uint8)


def make_project(owner: str, name: str, classes=("thumbs up", "thumbs down"), samples=(3, 1)) -> None:
    stored_project(owner, name, classes, samples)


def a_class() -> str:
    code = access.open_class(TEACHER, "ML 101").code
    access.join_class(ANNA, code, "Anna")
    access.join_class(BEN, code, "Ben")
    return code


def run_record(version: str, accuracy: float) -> classroom.RunRecord:
    return classroom.RunRecord("colors", version, accuracy, 2, 8, 0.1, 0, 1.5)


# ---------------------------------------------------------------- the roster


def test_the_roster_counts_each_members_shared_samples_and_last_run_for_the_teacher_only():
    code = a_class()
    access.add_color_label(ANNA, (250, 0, 0), "red")
    access.add_color_label(ANNA, (0, 0, 250), "blue")
    access.add_drawing(ANNA, INK, "circle")
    access.add_color_label(BEN, (0, 250, 0), "green")  # Ben's stays private
    access.share_samples(ANNA, code)
    classroom.record_result(code, ANNA, run_record("v1", 0.5))
    classroom.record_result(code, ANNA, run_record("v2", 0.75))

    roster = access.class_roster(TEACHER, code.lower())
    by_name = {m.nickname: m for m in roster.members}
    assert list(by_name) == ["Teacher", "Anna", "Ben"] and by_name["Teacher"].is_teacher
    anna, ben = by_name["Anna"], by_name["Ben"]
    assert (anna.shared_colors, anna.shared_drawings, anna.runs) == (2, 1, 2)
    assert (anna.last_accuracy, anna.last_family) == (0.75, "colors")  # the newest run, not the best
    assert (ben.shared_colors, ben.shared_drawings, ben.runs, ben.last_accuracy) == (0, 0, 0, None)
    assert anna.member_id == ANNA and roster.class_runs == 2
    for someone in (ANNA, BEN, CARL):  # a student, and an outsider
        with pytest.raises(access.NotYours, match="teacher"):
            access.class_roster(someone, code)


def test_a_bad_or_unknown_code_is_refused_plainly():
    a_class()
    with pytest.raises(classroom.ClassError, match="8 letters"):
        access.class_roster(TEACHER, "<b>oops</b>")
    with pytest.raises(access.NotYours):
        access.class_roster(TEACHER, "ZZZZZZZZ")  # well formed, no such class: the same answer as not its teacher


# ---------------------------------------------------------------- a member's training, read from the queue


def test_activity_of_says_where_an_owners_latest_training_stands_and_nothing_else():
    queue = jobs.JobQueue(limit=lambda: 1, worker="thread")
    release = threading.Event()

    def work(job):
        job.plan(1, 4)
        job.on_batch_end(0, 0, {"loss": 1.0})
        assert release.wait(WAIT)
        return {"secret": "weights"}

    assert queue.activity_of(ANNA) is None and queue.activity_of("") is None
    a = queue.submit("retrain-anna", "Retrain colors", work, owner=ANNA)
    b = queue.submit("teach-ben", "Teach my-private-project", work, owner=BEN)
    deadline = threading.Event()
    for _ in range(int(WAIT / 0.05)):
        if a.status == "running" and a.steps_done:
            break
        deadline.wait(0.05)
    assert queue.activity_of(ANNA) == jobs.OwnerActivity("running", 0.25, 0)
    assert queue.activity_of(BEN) == jobs.OwnerActivity("queued", 0.0, 1)
    assert queue.activity_of(CARL) is None
    assert set(vars(queue.activity_of(BEN))) == {"status", "progress", "position"}  # no title, settings or result
    release.set()
    assert queue.wait(a, WAIT) and queue.wait(b, WAIT)
    assert queue.activity_of(ANNA) == jobs.OwnerActivity("done", 1.0, 0)


# ---------------------------------------------------------------- Teach projects shared with a class


def test_a_teach_project_is_shared_and_unshared_by_its_owner_only_and_read_by_members():
    code = a_class()
    make_project(ANNA, "gestures")
    assert class_projects.class_projects(BEN, code) == [] and access.teach_project_share(ANNA, "gestures") == ""

    with pytest.raises(access.NotYours, match="no project"):
        access.share_teach_project(BEN, "gestures", code)  # Ben has no such project: Anna's is not his to share
    with pytest.raises(access.NotYours, match="not a member"):
        access.share_teach_project(ANNA, "gestures", access.open_class(CARL, "Other").code)  # not Anna's class
    access.share_teach_project(ANNA, "gestures", code)
    assert access.teach_project_share(ANNA, "gestures") == code
    assert access.teach_project_share(BEN, "gestures") == ""

    for member in (TEACHER, ANNA, BEN):
        (project,) = class_projects.class_projects(member, code)
        assert (project.name, project.nickname, project.kind) == ("gestures", "Anna", "drawing")
        assert project.classes == ("thumbs up", "thumbs down") and project.samples == (3, 1)
        assert project.mine == (member == ANNA)
    with pytest.raises(access.NotYours):
        class_projects.class_projects(CARL, code)  # not a member
    assert access.teach_projects(BEN) == []  # read-only: it never becomes one of Ben's projects

    with pytest.raises(access.NotYours, match="not shared"):
        access.unshare_teach_project(BEN, "gestures")
    assert class_projects.class_projects(BEN, code) != []
    access.unshare_teach_project(ANNA, "gestures")
    assert class_projects.class_projects(BEN, code) == [] and access.teach_project_share(ANNA, "gestures") == ""
    with pytest.raises(access.NotYours, match="not shared"):
        access.unshare_teach_project(ANNA, "gestures")


def test_a_shared_project_leaves_the_class_with_its_owner_and_with_its_deletion():
    code = a_class()
    make_project(ANNA, "gestures")
    make_project(BEN, "sounds")
    access.share_teach_project(ANNA, "gestures", code)
    access.share_teach_project(BEN, "sounds", code)
    assert [p.name for p in class_projects.class_projects(TEACHER, code)] == ["gestures", "sounds"]
    access.leave_class(BEN, code)
    assert [p.name for p in class_projects.class_projects(TEACHER, code)] == ["gestures"]
    access.delete_teach_project(ANNA, "gestures")
    assert class_projects.class_projects(TEACHER, code) == []
    make_project(ANNA, "gestures")  # a new project of the same name starts private
    assert access.teach_project_share(ANNA, "gestures") == "" and class_projects.class_projects(TEACHER, code) == []


def test_shared_project_names_never_leave_the_owners_folder():
    code = a_class()
    for bad in ("../" + BEN, "a/b", ".."):
        with pytest.raises(StoreError):
            access.share_teach_project(ANNA, bad, code)
        with pytest.raises(StoreError):
            access.unshare_teach_project(ANNA, bad)
