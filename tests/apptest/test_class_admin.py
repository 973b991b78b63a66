"""AppTest: the teacher runs the class from the Class page (close and reopen joining, the member limit, rename, remove
a member with or without their samples, remove a pooled sample), each removal after a confirmation; a student sees
none of these controls, and every tab shows the class as the store has it."""

from __future__ import annotations

from core.store import access, identity
from tests.helpers.apptest import app_test_as

TEACHER, ANNA, BEN = "u" + "t" * 20, "u" + "e" * 20, "u" + "f" * 20
PAGE = "pages/8_Class.py"


def a_class_with_anna() -> str:
    code = access.open_class(TEACHER, "ML 101").code
    identity.set_class_code(TEACHER, code)
    access.join_class(ANNA, code, "Anna")
    identity.set_class_code(ANNA, code)
    access.add_color_label(ANNA, (0, 255, 0), "red")  # mislabelled
    access.add_color_label(ANNA, (0, 0, 255), "blue")
    access.share_samples(ANNA, code)
    return code


def test_the_teacher_closes_and_reopens_joining_and_renames_the_class():
    code = a_class_with_anna()
    teacher = app_test_as(PAGE, TEACHER).run()
    assert not teacher.exception
    teacher.button(key="class.joining").click().run()
    assert not access.my_class(TEACHER, code).joining
    assert any("joining is closed" in c.value for c in teacher.caption)
    other_tab = app_test_as(PAGE, TEACHER).run()  # another tab rebuilds the same class from the store
    assert any("joining is closed" in c.value for c in other_tab.caption)
    ben = app_test_as(PAGE, BEN).run()
    ben.text_input(key="class.code").set_value(code)
    ben.text_input(key="class.nickname").set_value("Ben")
    ben.button(key="FormSubmitter:class.join_form-Join").click().run()
    assert any("closed this class" in e.value for e in ben.error)
    teacher.button(key="class.joining").click().run()
    assert access.my_class(TEACHER, code).joining
    teacher.text_input(key="class.rename_to").set_value("ML 102")
    teacher.button(key="class.rename").click().run()
    assert access.my_class(ANNA, code).name == "ML 102"


def test_a_student_sees_no_teacher_controls():
    a_class_with_anna()
    anna = app_test_as(PAGE, ANNA).run()
    assert not anna.exception
    assert not any(b.key in ("class.joining", "class.rename", "class.remove_member") for b in anna.button)


def test_the_teacher_removes_a_pooled_sample_then_a_member_with_their_samples():
    code = a_class_with_anna()
    teacher = app_test_as(PAGE, TEACHER).run()
    wrong = next(o for o in teacher.selectbox(key="class.pooled").options if "“red”" in o)
    teacher.selectbox(key="class.pooled").set_value(wrong).run()
    teacher.button(key="class.remove_sample").click().run()
    assert access.pool_size(TEACHER, code, "colors") == 2  # asked first
    teacher.button(key="class.remove_sample.yes").click().run()
    assert [p.label for p in access.class_pool(TEACHER, code, "colors")] == ["blue"]
    teacher.checkbox(key="class.member.samples").check().run()
    teacher.button(key="class.remove_member").click().run()
    teacher.button(key="class.remove_member.yes").click().run()
    assert not teacher.exception
    assert [m.nickname for m in access.class_members(TEACHER, code)] == ["Teacher"]
    assert access.color_labels(ANNA) == []
    anna = app_test_as(PAGE, ANNA).run()
    assert any("not a member" in w.value for w in anna.warning)  # her page says so, and offers to join again
