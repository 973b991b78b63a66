"""AppTest, two identities: the teacher's live view of the Class page (a student joins through the join link, shares
samples, trains and records a run, and the teacher's roster says so), the join link's query parameter (good, bad and
another class's code), its QR code decoding back to the link, and a Teach project shared with the class by its owner
(seen read-only by a classmate, unshared by its owner only)."""

from __future__ import annotations

import io
import threading

import pytest
import zxingcpp
from PIL import Image

from core.engine import jobs
from core.families.teach import projects as teach_store
from core.store import access, classroom, samples
from tests.helpers.apptest import app_test_as
from tests.helpers.jobs import WAIT
from ui import class_views

TEACHER, ANNA, BEN = "u" + "d" * 20, "u" + "e" * 20, "u" + "f" * 20
CLASS_PAGE, TEACH_PAGE = "pages/8_Class.py", "pages/7_Teach.py"
APP_URL = "http://classroom.example:8501/Class"
OPEN = "FormSubmitter:class.open_form-Open a class"
JOIN = "FormSubmitter:class.join_form-Join"

pytestmark = pytest.mark.usefixtures("no_job_left_behind")


def open_class(name: str = "ML 101"):
    """The teacher's Class page with a class just opened, and its code."""
    teacher = app_test_as(CLASS_PAGE, TEACHER)
    teacher.context = {"url": APP_URL}
    teacher.run()
    teacher.text_input(key="class.name").set_value(name)
    teacher.button(key=OPEN).click().run()
    assert not teacher.exception and not teacher.error, [e.value for e in teacher.error]
    return teacher, classroom.classes_of(TEACHER).pop()


def roster(at) -> str:
    return next((m.value for m in at.markdown if "class-roster" in m.value), "")


def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def join_by_link(owner: str, code: str, nickname: str):
    student = app_test_as(CLASS_PAGE, owner)
    student.query_params["class"] = code.lower()  # as typed off a slide: the form forgives case
    student.run()
    assert not student.exception and not student.warning
    assert student.text_input(key="class.code").value == code  # the link filled the form in
    student.text_input(key="class.nickname").set_value(nickname)
    student.button(key=JOIN).click().run()
    assert not student.exception and not student.error, [e.value for e in student.error]
    assert "class" not in student.query_params  # joined: the address is clean again
    return student


def test_the_teachers_roster_follows_a_student_who_joins_shares_trains_and_records_a_run():
    teacher, code = open_class()
    assert not roster(teacher) and any("Nobody has joined yet" in i.value for i in teacher.info)
    assert not [m for m in teacher.metric if m.label == "Your samples"]  # the teacher counts the pool instead
    assert metric(teacher, "Students") == "0"

    for rgb, label in [((250, 5, 5), "red"), ((5, 5, 250), "blue")]:
        samples.add_color_label(rgb, label, owner=ANNA)
    anna = join_by_link(ANNA, code, "Anna O'Neil")
    teacher.run()
    assert metric(teacher, "Students") == "1"
    row = roster(teacher).split("<tbody>")[1]
    assert "Anna O&#x27;Neil" in row  # the nickname is escaped in the table
    assert "<td>0</td><td>—</td><td>—</td>" in row  # joined: nothing shared, no training, no run

    anna.button(key="class.share").click().run()
    teacher.run()
    assert "<td>2</td>" in roster(teacher) and metric(teacher, "Colour labels pooled") == "2"

    started, release = threading.Event(), threading.Event()

    def training(job):
        job.plan(2, 5)
        job.on_epoch_end(0, {"loss": 1.0})
        started.set()
        assert release.wait(WAIT)

    job = jobs.QUEUE.submit(f"retrain-{ANNA}", "Retrain colors", training, owner=ANNA)
    assert started.wait(WAIT)
    teacher.run()
    assert "training 50%" in roster(teacher)
    release.set()
    assert jobs.QUEUE.wait(job, WAIT)

    classroom.record_result(code, ANNA, classroom.RunRecord("colors", "v1", 0.8125, 2, 8, 0.1, 0, 3.0))
    teacher.run()
    assert not teacher.exception
    assert "<td>done</td><td>81% (colors)</td>" in roster(teacher)
    assert metric(teacher, "Runs") == "1"
    assert teacher.dataframe[0].value["nickname"].tolist() == ["Anna O'Neil"]  # the runs side by side


def test_the_join_link_is_shown_with_a_qr_code_that_decodes_to_it(monkeypatch):
    made: list[tuple[str, bytes]] = []
    real = class_views.qr_png
    monkeypatch.setattr(class_views, "qr_png", lambda link: made.append((link, real(link))) or made[-1][1])
    teacher, code = open_class()
    link = f"{APP_URL}?class={code}"
    assert [c.value for c in teacher.code] == [link]
    (image,) = teacher.get("image")
    assert image.captions == ["The join link"]
    shown_link, png = made[-1]
    assert shown_link == link
    assert [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))] == [link]
    elsewhere = app_test_as(CLASS_PAGE, TEACHER).run()  # no browser address known: no QR code of half a link
    assert not elsewhere.exception and not elsewhere.get("image")


def test_a_malformed_code_in_the_link_is_said_plainly_and_an_unknown_one_fails_on_join():
    at = app_test_as(CLASS_PAGE, ANNA)
    at.query_params["class"] = "<script>alert(1)</script>"
    at.run()
    assert not at.exception
    (warning,) = at.warning
    assert "not a join code" in warning.value and "script" not in warning.value  # the address's text is not echoed
    assert at.text_input(key="class.code").value == ""
    assert "class" not in at.query_params

    at = app_test_as(CLASS_PAGE, BEN)
    at.query_params["class"] = "ZZZZ-ZZZZ"
    at.run()
    assert at.text_input(key="class.code").value == "ZZZZZZZZ"
    at.text_input(key="class.nickname").set_value("Ben")
    at.button(key=JOIN).click().run()
    assert any("no class with the code ZZZZZZZZ" in e.value for e in at.error)
    assert classroom.join_failures(f"owner:{BEN}") == 1  # counted like a typed one: the link is no way round the limit


def test_a_member_opening_another_classs_link_is_told_so():
    teacher, code = open_class()
    other = access.open_class(BEN, "Other").code
    anna = join_by_link(ANNA, code, "Anna")
    anna.query_params["class"] = other
    anna.run()
    assert any(other in i.value and "leave this class" in i.value for i in anna.info)
    anna.query_params["class"] = code
    anna.run()
    assert not [i for i in anna.info if "leave this class" in i.value] and "class" not in anna.query_params


def test_a_teach_project_is_shared_with_the_class_by_its_owner_and_read_only_for_a_classmate():
    teacher, code = open_class()
    join_by_link(ANNA, code, "Anna")
    ben = join_by_link(BEN, code, "Ben")
    teach_store.create_project(ANNA, "gestures", "drawing", ["thumbs up", "thumbs down"])

    anna = app_test_as(TEACH_PAGE, ANNA).run()
    anna.selectbox(key="teach.project.1").set_value("gestures").run()
    assert not anna.exception
    anna.button(key="teach.share").click().run()
    assert not anna.error and access.teach_project_share(ANNA, "gestures") == code
    assert any("Shared with your class" in c.value for c in anna.caption)

    for viewer in (ben, teacher):
        viewer.run()
        (table,) = [d.value for d in viewer.dataframe if "project" in d.value.columns]
        assert table.to_dict("records") == [
            {
                "project": "gestures",
                "shared by": "Anna",
                "kind": "drawing",
                "classes (samples)": "thumbs up (0), thumbs down (0)",
                "samples": 0,
            }
        ]
    ben_teach = app_test_as(TEACH_PAGE, BEN).run()  # read-only: never one of Ben's projects
    assert ben_teach.selectbox(key="teach.project.0").options == ["➕ A new project"]
    with pytest.raises(access.NotYours):
        access.unshare_teach_project(BEN, "gestures")

    anna.button(key="teach.unshare").click().run()
    assert not anna.error and access.teach_project_share(ANNA, "gestures") == ""
    ben.run()
    assert not [d for d in ben.dataframe if "project" in d.value.columns]


def test_the_share_control_asks_a_project_owner_outside_a_class_to_join_one():
    teach_store.create_project(BEN, "sounds", "drawing", ["a", "b"])
    at = app_test_as(TEACH_PAGE, BEN).run()
    at.selectbox(key="teach.project.1").set_value("sounds").run()
    assert not at.exception and not [b for b in at.button if b.key == "teach.share"]
    assert any("Join a class on the Class page" in c.value for c in at.caption)
