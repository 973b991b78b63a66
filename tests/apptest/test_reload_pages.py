"""AppTest: pages rebuilt from the store and the queue after a reload (a reload is a new AppTest of the same
identity): Retrain finds its running or finished job's family and settings, Teach its projects' last trained models
with their result, "Try it" and "Export" (and deletes a model or a project after asking), and the Class page is the
same in every tab."""

from __future__ import annotations

import time

import numpy as np
import pytest

from core.engine import jobs
from core.engine import registry as families
from core.families.teach import job as teach
from core.families.teach import projects as teach_store
from core.families.teach import saved as teach_saved
from core.store import access
from core.store import models as store
from tests.helpers.apptest import app_test_as

RETRAIN, TEACH, CLASS = "pages/4_Retrain.py", "pages/7_Teach.py", "pages/8_Class.py"
ME, OTHER = "u" + "1" * 20, "u" + "2" * 20
SHAPES_SUBMIT = "FormSubmitter:retrain.form.shapes-Start training"
TEACH_TRAIN = "FormSubmitter:teach.train-Train the model"

pytestmark = pytest.mark.usefixtures("no_job_left_behind")


def rerun_until(at, predicate, seconds: float = 240):
    """Rerun the page (as its job panel's poller would) until `predicate(at)` holds."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        if predicate(at):
            return at
        time.sleep(0.5)
    raise AssertionError(f"timed out; the page says {[e.value for e in at.error + at.warning + at.success]}")


def start_shapes(monkeypatch, **values):
    """The Retrain page as ME, with shapes chosen and its form filled with `values` (ui key -> value), started."""
    monkeypatch.setenv("MLX_MAX_GENERATED_PER_CLASS", "24")  # a shapes run of seconds, not minutes
    at = app_test_as(RETRAIN, ME).run()
    at.radio(key="retrain.family").set_value("shapes").run()
    for key, value in values.items():
        (at.text_input if key in ("lr", "name") else at.number_input)(key=f"retrain.shapes.{key}").set_value(value)
    at.button(key=SHAPES_SUBMIT).click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def test_a_reload_mid_training_shows_the_running_jobs_family_and_settings_locked(monkeypatch):
    start_shapes(monkeypatch, epochs=150, batch=8, lr="0.005", per_class=24, name="reloaded")
    job = jobs.QUEUE.job_for(ME)
    assert job is not None and job.active and job.request["family"] == "shapes"

    reloaded = app_test_as(RETRAIN, ME).run()  # a reload: a new session of the same identity, colours by default
    assert not reloaded.exception
    assert job.active, f"the 150-epoch run ended before the reload: {job.status} {job.message}"
    assert reloaded.radio(key="retrain.family").value == "shapes" and reloaded.radio(key="retrain.family").disabled
    assert reloaded.number_input(key="retrain.shapes.epochs").value == 150
    assert reloaded.number_input(key="retrain.shapes.batch").value == 8
    assert reloaded.number_input(key="retrain.shapes.per_class").value == 24
    assert reloaded.text_input(key="retrain.shapes.lr").value == "0.005"
    assert reloaded.text_input(key="retrain.shapes.name").value == "reloaded"
    assert reloaded.button(key=SHAPES_SUBMIT).disabled
    assert any(c.value == job.title for c in reloaded.caption)  # its job panel, under the restored form

    other = app_test_as(RETRAIN, OTHER).run()  # another person still gets the defaults of the first family
    assert other.radio(key="retrain.family").value == next(iter(f.name for f in families.with_shipped_model()))
    assert not other.radio(key="retrain.family").disabled
    job.cancel()
    assert jobs.QUEUE.wait(job, 120)


def test_a_reload_after_training_shows_the_result_with_its_family_and_settings_once(monkeypatch):
    start_shapes(monkeypatch, epochs=1, batch=32, per_class=24, name="done")
    job = jobs.QUEUE.job_for(ME)
    assert jobs.QUEUE.wait(job, 240) and job.status == "done", (job.status, job.message)

    reloaded = app_test_as(RETRAIN, ME).run()
    assert not reloaded.exception
    assert reloaded.radio(key="retrain.family").value == "shapes" and not reloaded.radio(key="retrain.family").disabled
    assert reloaded.number_input(key="retrain.shapes.epochs").value == 1
    assert reloaded.number_input(key="retrain.shapes.batch").value == 32
    assert any("Last run" in s.value for s in reloaded.subheader)
    assert any(f"Saved as version **{job.result.version_id}**" in s.value for s in reloaded.success)
    # Restored once: the user's own choice afterwards stays.
    reloaded.radio(key="retrain.family").set_value("colors").run()
    reloaded.run()
    assert reloaded.radio(key="retrain.family").value == "colors"


def _teach_project(owner: str, name: str = "doodles"):
    """A drawing project with eight bars and eight boxes."""
    teach_store.create_project(owner, name, "drawing", ["bar", "box"])
    rng = np.random.default_rng(0)
    for shape in ("bar", "box"):
        for _ in range(8):
            rgba = np.full((140, 140, 4), 255, np.uint8)
            y, x = rng.integers(30, 100, 2)
            if shape == "bar":
                rgba[y : y + 8, 20:120, :3] = 0
            else:
                rgba[30:110, x : x + 6, :3] = 0
                rgba[30:36, 30:110, :3] = 0
            teach_store.add_sample(owner, name, shape, rgba)
    return teach_store.load_project(owner, name)


def _open(at, project: str):
    at.run()
    [box] = [s for s in at.selectbox if s.key.startswith("teach.project.")]
    box.set_value(project).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _subheaders(at) -> list[str]:
    return [s.value for s in at.subheader]


def test_teach_after_a_reload_shows_the_projects_last_model_then_deletes_it_and_the_project():
    project = _teach_project(ME)
    at = _open(app_test_as(TEACH, ME), project.name)
    at.button(key=TEACH_TRAIN).click().run()  # transfer learning, the default: a head trained in about a second
    assert not at.error, [e.value for e in at.error]
    rerun_until(at, lambda a: "4 · Try it" in _subheaders(a))
    [row] = access.teach_models(ME, "teach-drawing", project.name)
    assert row.project == "doodles"

    reloaded = _open(app_test_as(TEACH, ME), project.name)  # a reload: nothing of the training is in this session
    assert "4 · Try it" in _subheaders(reloaded) and "6 · Export" in _subheaders(reloaded)
    assert any(f"saved as version **{row.version_id}**" in s.value for s in reloaded.success)
    assert any("Confusion matrix" in str(c.proto.spec) for c in reloaded.get("plotly_chart"))
    assert any(b.label.startswith("Download for TensorFlow.js") for b in reloaded.get("download_button"))
    # Another person with a project of the same name sees no model of it.
    _teach_project(OTHER)
    other = _open(app_test_as(TEACH, OTHER), project.name)
    assert "4 · Try it" not in _subheaders(other) and not other.get("download_button")

    reloaded.button(key="teach.delete_model").click().run()
    assert any("cannot be undone" in w.value for w in reloaded.warning)
    assert store.list_versions("teach-drawing")  # asked first: nothing deleted yet
    reloaded.button(key="teach.delete_model.yes").click().run()
    assert not reloaded.exception and not reloaded.error, [e.value for e in reloaded.error]
    assert access.teach_models(ME, "teach-drawing", project.name) == []
    assert "4 · Try it" not in _subheaders(reloaded) and teach_store.counts(ME, project.name) == {"bar": 8, "box": 8}

    reloaded.button(key="teach.delete_project").click().run()
    reloaded.button(key="teach.delete_project.yes").click().run()
    assert not reloaded.exception and not reloaded.error, [e.value for e in reloaded.error]
    assert teach_store.list_projects(ME) == [] and teach_store.list_projects(OTHER) == ["doodles"]
    assert reloaded.text_input(key="teach.new.name") is not None  # back to "a new project"


def test_deleting_a_teach_model_shows_the_one_before_and_a_project_takes_its_models_along():
    project = _teach_project(ME)

    request = teach.TeachRequest(
        "drawing", str(project.path), epochs=1, version_name="doodles", owner=ME, project="doodles"
    )
    first = teach.run_teach(request, jobs.Job(session_id="t", title="first"))  # the job's work, without the queue
    time.sleep(1.1)  # version ids are stamped to the second: the second model is the newer one
    second = teach.run_teach(request, jobs.Job(session_id="t", title="second"))
    assert teach_saved.last_model(ME, project)["version_id"] == second["version_id"]
    shown = teach_saved.last_model(ME, project)
    assert shown["confusion"] == second["confusion"] and shown["per_class"] == second["per_class"]

    at = _open(app_test_as(TEACH, ME), project.name)
    assert any("1 older model(s)" in c.value for c in at.caption)
    at.button(key="teach.delete_model").click().run()
    at.button(key="teach.delete_model.yes").click().run()
    assert any(f"version **{first['version_id']}**" in s.value for s in at.success)
    assert "4 · Try it" in _subheaders(at)
    with pytest.raises(access.NotYours):
        teach_saved.delete_model(OTHER, project, first["version_id"])  # not theirs, whatever the name
    assert teach_saved.delete_project(ME, project.name) == 1
    assert store.list_versions("teach-drawing") == []


def test_the_class_page_is_the_same_in_every_tab():
    tab1 = app_test_as(CLASS, ME).run()
    tab1.text_input(key="class.name").set_value("Year 9")
    tab1.button(key="FormSubmitter:class.open_form-Open a class").click().run()
    assert not tab1.exception and not tab1.error

    def code_and_caption(at) -> tuple[str, str]:
        code = next(m.value for m in at.markdown if "data-testid='class-code'" in m.value)
        return code, next(c.value for c in at.caption if "member(s)" in c.value)

    tab2 = app_test_as(CLASS, ME).run()  # a second tab (or a reload) of the teacher
    assert code_and_caption(tab2) == code_and_caption(tab1)
    assert "Year 9 · 1 of at most" in code_and_caption(tab2)[1]
    tab2.button(key="class.joining").click().run()  # the teacher closes joining in one tab...
    tab1.run()
    assert "joining is closed" in code_and_caption(tab1)[1]  # ...and the other tab shows it on its next run
    assert tab1.button(key="class.joining").label == "Reopen joining"
    assert code_and_caption(tab1) == code_and_caption(tab2.run())
