"""AppTest: a teacher opens a class, a student joins it with the code, shares samples, retrains on the class's pool in
the Retrain studio, and the run appears on the Class page side by side with the others."""

from __future__ import annotations

from core.engine import jobs
from core.store import classroom, samples
from tests.helpers.apptest import app_test_as

TEACHER, ANNA = "u" + "d" * 20, "u" + "e" * 20
CLASS_PAGE, RETRAIN_PAGE = "pages/8_Class.py", "pages/4_Retrain.py"


def test_open_join_share_retrain_on_the_pool_and_see_the_runs():
    teacher = app_test_as(CLASS_PAGE, TEACHER).run()
    teacher.text_input(key="class.name").set_value("ML 101")
    teacher.button(key="FormSubmitter:class.open_form-Open a class").click().run()
    assert not teacher.exception
    code = (
        next(m.value for m in teacher.markdown if "data-testid='class-code'" in m.value)
        .split(">")[1][:9]
        .replace("-", "")
    )
    assert classroom.class_info(code).teacher == TEACHER

    for i, rgb in enumerate([(250, 5, 5), (240, 10, 0), (5, 5, 250), (0, 20, 240)]):
        samples.add_color_label(rgb, "red" if i < 2 else "blue", owner=ANNA)
    anna = app_test_as(CLASS_PAGE, ANNA).run()
    anna.text_input(key="class.code").set_value(code.lower())
    anna.text_input(key="class.nickname").set_value("Anna")
    anna.button(key="FormSubmitter:class.join_form-Join").click().run()
    assert not anna.exception and not anna.error
    assert [m.value for m in anna.metric if m.label == "In the class's pool"] == ["0"]
    anna.button(key="class.share").click().run()
    assert [m.value for m in anna.metric if m.label == "In the class's pool"] == ["4"]
    assert any("No runs yet" in i.value for i in anna.info)

    studio = app_test_as(RETRAIN_PAGE, ANNA).run()
    studio.checkbox(key="retrain.colors.builtin").uncheck()
    studio.checkbox(key="retrain.colors.class").check()
    studio.number_input(key="retrain.colors.epochs").set_value(2)
    studio.number_input(key="retrain.colors.batch").set_value(2)
    studio.number_input(key="retrain.colors.val").set_value(0.5)
    studio.button(key="FormSubmitter:retrain.form.colors-Start training").click().run()
    assert not studio.error, [e.value for e in studio.error]
    job = jobs.QUEUE.job_for(ANNA)
    assert jobs.QUEUE.wait(job, 120) and job.status == "done", job.snapshot()
    studio.run()
    assert any("Sent to your class's results" in c.value for c in studio.caption)

    teacher.run()
    assert any("**colors**: 1 run(s)" in m.value for m in teacher.markdown)
    assert teacher.dataframe[0].value["nickname"].tolist() == ["Anna"]
    anna.button(key="class.leave").click().run()
    assert any("join a class" in m.value.lower() for m in anna.markdown)


def test_a_wrong_code_is_a_plain_message():
    at = app_test_as(CLASS_PAGE, ANNA).run()
    at.text_input(key="class.code").set_value("ZZZZZZZZ")
    at.text_input(key="class.nickname").set_value("Anna")
    at.button(key="FormSubmitter:class.join_form-Join").click().run()
    assert not at.exception
    assert any("no class with the code ZZZZZZZZ" in e.value for e in at.error)
    assert classroom.results("ZZZZZZZZ") == []
