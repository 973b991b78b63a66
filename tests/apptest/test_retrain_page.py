"""AppTest: the Retrain studio page trains in the background, shows results and versions, keeps sessions apart,
and answers every bad input with a plain message."""

import time

import pytest

from core.engine import jobs
from core.engine import registry as families
from core.families.text import model as text_model
from core.settings import get_settings
from core.store import models as store
from core.store import samples
from tests.helpers.apptest import TEST_OWNER, app_test, app_test_as

PAGE = "pages/4_Retrain.py"
SUBMIT = "FormSubmitter:retrain.form.colors-Start training"


def start(at, **values):
    for key, value in values.items():
        widget = at.text_input(key=f"retrain.colors.{key}") if key in ("lr", "name") else None
        if widget is None:
            widget = at.number_input(key=f"retrain.colors.{key}")
        widget.set_value(value)
    return at.button(key=SUBMIT).click().run()


def wait_for_results(at, seconds: float = 180):
    """Rerun the page (as the fragment's poller would) until the last run's results are shown."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        at.run()
        if any("Last run" in s.value for s in at.subheader):
            return at
        time.sleep(0.5)
    raise AssertionError("The training did not finish in time.")


def session_job(at):
    return jobs.QUEUE.job_for(at.session_state["identity"].owner)


pytestmark = pytest.mark.usefixtures("no_job_left_behind")


def test_page_loads_with_the_shipped_models_settings():
    at = app_test(PAGE).run()
    assert not at.exception
    assert any("Setup" in s.value for s in at.subheader)
    meta = store.load_metadata(store.shipped_model_dir("colors"))
    assert at.number_input(key="retrain.colors.batch").value == meta["config"]["batch_size"]
    assert at.text_input(key="retrain.colors.lr").value == f"{meta['config']['learning_rate']:g}"
    assert at.selectbox(key="retrain.colors.optimizer").value == meta["config"]["optimizer"]
    assert "No saved versions yet" in " ".join(c.value for c in at.caption)


def test_demo_mode_hides_expert_controls():
    at = app_test(PAGE)
    at.query_params["demo"] = "1"
    at.run()
    assert not at.exception
    keys = {w.key for w in at.selectbox} | {w.key for w in at.number_input}
    assert "retrain.colors.optimizer" not in keys and "retrain.colors.seed" not in keys
    assert "retrain.colors.epochs" in keys


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"epochs": 0}, "at least 1"),
        ({"epochs": -5}, "at least 1"),
        ({"epochs": 100_000}, "capped"),
        ({"lr": "0"}, "positive"),
        ({"lr": "-0.1"}, "positive"),
        ({"lr": "nan"}, "positive"),
        ({"lr": "fast"}, "must be a number"),
        ({"val": 0.0}, "above 0 and below 1"),
        ({"val": 1.0}, "above 0 and below 1"),
        ({"batch": 0}, "Batch size"),
    ],
)
def test_bad_settings_show_a_plain_message_and_start_nothing(values, words):
    at = start(app_test(PAGE).run(), **values)
    assert not at.exception
    assert any(words in e.value for e in at.error), [e.value for e in at.error]
    assert session_job(at) is None
    assert at.number_input(key="retrain.colors.seed").value is not None  # the form keeps what was typed


def test_an_empty_custom_dataset_and_a_single_sample_class_are_refused():
    at = app_test(PAGE).run()
    at.checkbox(key="retrain.colors.builtin").uncheck()
    at = start(at)
    assert any("dataset is empty" in e.value for e in at.error)
    samples.add_color_label((250, 5, 5), "red", owner=TEST_OWNER)
    samples.add_color_label((245, 0, 10), "red", owner=TEST_OWNER)
    samples.add_color_label((5, 5, 250), "blue", owner=TEST_OWNER)
    samples.add_color_label((5, 5, 250), "blue", owner="someone else")  # another user's labels are not this one's
    at = app_test_as(PAGE).run()
    at.checkbox(key="retrain.colors.builtin").uncheck()
    at.checkbox(key="retrain.colors.user").check()
    at = start(at)
    assert any("'blue'" in e.value and "single sample" in e.value for e in at.error)
    assert session_job(at) is None


def test_a_batch_larger_than_the_data_is_refused_when_start_is_pressed():
    for _ in range(3):
        samples.add_color_label((250, 5, 5), "red", owner=TEST_OWNER)
        samples.add_color_label((5, 5, 250), "blue", owner=TEST_OWNER)
    at = app_test_as(PAGE).run()
    at.checkbox(key="retrain.colors.builtin").uncheck()
    at.checkbox(key="retrain.colors.user").check()
    at = start(at, batch=64, epochs=2)
    assert not at.exception
    assert any("larger than the training data" in e.value for e in at.error)
    assert session_job(at) is None  # refused before anything was queued
    assert store.list_versions("colors") == []


def test_a_version_name_the_store_would_refuse_is_refused_when_start_is_pressed():
    at = start(app_test(PAGE).run(), name="a..b")
    assert not at.exception
    assert any("cannot be used" in e.value for e in at.error)
    assert session_job(at) is None
    assert at.text_input(key="retrain.colors.name").value == "a..b"  # the form keeps what was typed


def test_an_active_version_that_does_not_fit_is_refused_as_a_base(tmp_path):
    from tests.helpers import misfit_models

    at = app_test(PAGE)
    at.session_state["active.colors"] = str(misfit_models.colors_with_outputs(tmp_path / "five", n_outputs=5))
    at = start(at.run(), epochs=1)
    assert not at.exception
    assert any("does not fit" in e.value and "5 outputs" in e.value for e in at.error)
    assert session_job(at) is None


def test_a_run_shows_results_saves_a_version_and_only_this_session_uses_it():
    at = wait_for_results(start(app_test(PAGE).run(), epochs=1, batch=256))
    assert not at.exception
    assert any("Saved as version" in s.value for s in at.success)
    labels = [m.label for m in at.metric]
    # The shipped colour model learnt from every person, these validation people included: said plainly, with its
    # fair cross-validated figure, and its score is labelled as one on data it has seen.
    assert "Validation accuracy, retrained" in labels and "…the model before (has seen them)" in labels
    assert any("which it has seen" in s.value for s in at.success)
    assert any("no fair comparison" in w.value and "cross-validation" in w.value for w in at.warning)
    assert at.selectbox(key=f"retrain.cell.{session_job(at).id}").value is not None  # a confusion cell to inspect
    versions = store.list_versions("colors")
    assert len(versions) == 1
    at.button(key=f"retrain.use.{session_job(at).id}").click().run()
    assert at.session_state["active.colors"] == str(versions[0].path)
    assert any("your version" in c.value for c in at.caption)
    other = app_test(PAGE).run()  # another browser session
    assert not other.exception
    assert any("shipped model" in c.value for c in other.caption)
    assert session_job(other) is None
    # The other identity does not even see the version; this one deletes it, after saying yes.
    assert not any(b.key == "retrain.delete" for b in other.button)
    assert any("No saved versions yet" in c.value for c in other.caption)
    at.button(key="retrain.delete").click().run()
    assert len(store.list_versions("colors")) == 1 and any("cannot be undone" in w.value for w in at.warning)
    at.button(key="retrain.delete.yes").click().run()
    assert store.list_versions("colors") == []
    assert at.session_state["active.colors"] is None  # deleting the active version goes back to the shipped model


def test_a_second_start_while_training_is_refused_and_cancel_saves_nothing():
    at = start(app_test(PAGE).run(), epochs=150, batch=8)
    job = session_job(at)
    assert job is not None and job.active
    assert at.button(key=SUBMIT).disabled  # the form is locked while it trains...
    assert at.number_input(key="retrain.colors.epochs").disabled and at.text_input(key="retrain.colors.lr").disabled
    other_tab = app_test_as(PAGE, at.session_state["identity"].owner).run()  # ...in every tab of this user,
    assert other_tab.button(key=SUBMIT).disabled and other_tab.button(key="retrain.cancel").label == "Cancel training"
    with pytest.raises(jobs.JobError, match="already running"):  # ...and the queue refuses a second one anyway
        jobs.QUEUE.submit(at.session_state["identity"].owner, "again", lambda j: None)
    assert session_job(at) is job
    deadline = time.time() + 120
    while not job.snapshot().epoch_logs and time.time() < deadline:
        time.sleep(0.2)
    at.run()
    at.button(key="retrain.cancel").click().run()
    assert not at.error, [e.value for e in at.error]  # the click is handled, not turned into a plain error line
    assert jobs.QUEUE.wait(job, 120)
    at = wait_for_results(at)
    assert job.status == "cancelled"
    assert any("Nothing was saved" in w.value for w in at.warning)
    assert store.list_versions("colors") == []


def test_leaving_and_coming_back_finds_the_running_job():
    at = app_test("app.py").run()
    at = start(at.switch_page(PAGE).run(), epochs=150, batch=8)
    job = session_job(at)
    assert job is not None
    at.switch_page("pages/1_Colors.py").run()
    assert not at.exception
    at.switch_page(PAGE).run()
    assert session_job(at) is job
    # A status only moves on from running, so a job active after that run was active during it: 150 epochs outlast it.
    assert job.active, f"the 150-epoch run ended before the page came back: {job.status} {job.message}"
    assert any("Training now" in s.value for s in at.subheader)
    assert any(c.value == job.title for c in at.caption)  # the panel shows this job, not another session's
    assert at.button(key="retrain.cancel").label == "Cancel training"
    job.cancel()
    assert jobs.QUEUE.wait(job, 120)


def test_an_unexpected_error_is_one_plain_line_not_a_traceback(monkeypatch):
    """The page boundary (ui.common.guard): a bug below it shows a plain message; the traceback goes to the log."""
    from core.store import access

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the versions table")

    monkeypatch.setattr(access, "versions", broken)
    at = app_test(PAGE).run()
    assert not at.exception
    assert any("The Retrain page failed unexpectedly (RuntimeError)" in e.value for e in at.error)
    assert any("Setup" in s.value for s in at.subheader)  # what came before the error is still on the page


# ---------------------------------------------------------------- the loss up to a divergence


def plotly_specs(at) -> list[dict]:
    import json

    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def test_a_diverged_run_draws_its_loss_up_to_the_divergence_point():
    at = wait_for_results(start(app_test(PAGE).run(), lr="50", epochs=5, batch=256))
    assert not at.exception
    job = session_job(at)
    assert job.status == "diverged"
    assert any("Training diverged" in e.value for e in at.error)
    curve = job.snapshot().curve
    where = curve["divergence"]
    specs = [s for s in plotly_specs(at) if any(t.get("name") == "diverged here" for t in s["data"])]
    assert len(specs) == 1
    traces = {t.get("name"): t for t in specs[0]["data"]}
    marker = traces["diverged here"]
    label = "nan" if where["value"] != where["value"] else "inf" if abs(where["value"]) == float("inf") else None
    assert (label or f"{where['value']:.4g}") in marker["text"][0]
    assert marker["x"][0] == pytest.approx(where["step"] / curve["steps_per_epoch"])
    batches = traces["training (every batch)"]
    assert len(batches["y"]) == where["step"] - 1  # every batch before the diverging one
    assert batches["y"] == pytest.approx([b["loss"] for b in curve["batch_logs"][:-1]])
    assert any(f"epoch {where['epoch']}, batch {where['batch']}" in c.value for c in at.caption)
    assert store.list_versions("colors") == []


# ---------------------------------------------------------------- comparing two versions


def fresh_colour_version():
    from core.families.colors import model as colors
    from core.families.colors.config import ColorConfig

    model = colors.build_color_model(ColorConfig())  # untrained: it disagrees with the shipped model on many inputs
    meta = {"family": "colors", "class_names": colors.CLASS_NAMES, "owner": TEST_OWNER}  # the page's user's version
    return model, store.save_version(model, "colors", "fresh", meta)


def test_two_versions_are_compared_on_the_same_held_out_inputs():
    import numpy as np

    from core.engine import compare
    from core.families.colors import model as colors

    at = app_test(PAGE).run()
    assert any("Train a version first" in c.value for c in at.caption)
    model, version = fresh_colour_version()
    at = app_test_as(PAGE).run()
    assert at.selectbox(key="retrain.compare.a.colors").value == str(store.shipped_model_dir("colors"))
    assert at.selectbox(key="retrain.compare.b.colors").value == str(version.path)
    at.button(key="retrain.compare.run.colors").click().run()
    assert not at.exception, at.exception
    held = compare.held_out_inputs("colors")
    ref_a = colors.predict_proba(store.load_model(store.shipped_model_dir("colors")).model, held.x).argmax(axis=1)
    ref_b = colors.predict_proba(model, held.x).argmax(axis=1)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Accuracy of A (the shipped model)"] == f"{np.mean(ref_a == held.y):.1%}"
    label_b = f"version {version.version_id}"  # the user's own (saved outside this browser session)
    assert metrics[f"Accuracy of B ({label_b})"] == f"{np.mean(ref_b == held.y):.1%}"
    assert metrics["They disagree on"] == f"{np.mean(ref_a != ref_b):.1%}"
    assert any(f"{int(np.sum(ref_a != ref_b)):,} of {len(held.y):,} inputs" in m.value for m in at.markdown)
    tables = [d.value for d in at.dataframe if "A predicts" in d.value.columns]
    assert len(tables) == 1
    table = tables[0]
    assert len(table) == min(200, int(np.sum(ref_a != ref_b)))
    assert (table["A predicts"] != table["B predicts"]).all()
    confusion_titles = [s["layout"]["title"]["text"] for s in plotly_specs(at) if s["data"][0]["type"] == "heatmap"]
    assert "A: the shipped model" in confusion_titles and f"B: {label_b}" in confusion_titles


def test_comparing_a_model_with_itself_is_refused_in_plain_words():
    fresh_colour_version()
    at = app_test_as(PAGE).run()
    at.selectbox(key="retrain.compare.b.colors").set_value(str(store.shipped_model_dir("colors")))
    at.button(key="retrain.compare.run.colors").click().run()
    assert not at.exception
    assert any("the same model" in w.value for w in at.warning)
    assert not any(m.label.startswith("Accuracy of A") for m in at.metric)


def test_a_version_whose_weights_are_missing_is_refused_in_plain_words():
    _, version = fresh_colour_version()
    for shard in version.path.glob("*.bin"):
        shard.unlink()  # listed (its model.json reads) but it cannot be loaded
    at = app_test_as(PAGE).run()
    at.button(key="retrain.compare.run.colors").click().run()
    assert not at.exception
    assert any(e.value.startswith(f"Version {version.version_id}") and "cannot be loaded" in e.value for e in at.error)
    assert not any(m.label.startswith("Accuracy of A") for m in at.metric)
    assert any("cannot be downloaded" in e.value for e in at.error)  # the versions list says it plainly too


def test_text_models_are_skipped_without_the_corpus(monkeypatch):

    monkeypatch.setattr(text_model, "builtin_corpus_path", lambda: None)
    at = app_test(PAGE).run()
    at.radio(key="retrain.family").set_value("text").run()
    assert not at.exception
    assert any("Text models are not compared here" in i.value for i in at.info)


def test_a_shapes_version_with_its_own_class_is_compared_on_the_shared_classes():
    import numpy as np

    from core.engine import compare
    from core.families.shapes import model as shapes

    shipped = store.load_model(store.shipped_model_dir("shapes"))
    names = shapes.class_names_for(shipped.metadata, shipped.model)
    wider = shapes.with_classes(shipped.model, len(names) + 1)
    rng = np.random.default_rng(0)
    wider.get_layer("dense_out").set_weights(
        [w + rng.normal(0, 0.5, w.shape) for w in wider.get_layer("dense_out").get_weights()]
    )
    meta = {**shipped.metadata, "class_names": [*names, "heart"], "owner": TEST_OWNER}
    version = store.save_version(wider, "shapes", "heart", meta)
    at = app_test_as(PAGE).run()
    at.radio(key="retrain.family").set_value("shapes").run()
    at.selectbox(key="retrain.compare.b.shapes").set_value(str(version.path))
    at.button(key="retrain.compare.run.shapes").click().run()
    assert not at.exception, at.exception
    assert any("heart" in i.value and "share" in i.value for i in at.info)
    held = compare.held_out_inputs("shapes")
    ref_a = shapes.predict_proba(shipped.model, held.x).argmax(axis=1)
    ref_b = shapes.predict_proba(wider, held.x)[:, : len(names)].argmax(axis=1)  # B picks among the shared classes
    assert int(np.sum(ref_a != ref_b)) > 0
    assert any(f"{int(np.sum(ref_a != ref_b)):,} of {len(held.y):,} inputs" in m.value for m in at.markdown)
    # The drawings they disagree on, each captioned with the truth and both predictions.
    captions = [c for img in at.get("image") for c in img.captions]
    assert captions and all(": A " in c and ", B " in c for c in captions)
    tables = [d.value for d in at.dataframe if "A predicts" in d.value.columns]
    assert len(tables) == 1 and (tables[0]["A predicts"] != tables[0]["B predicts"]).all()
    assert "heart" not in set(tables[0]["B predicts"])  # B chose among the shared classes only


def test_the_quick_preset_fills_the_form_with_the_familys_quick_settings():
    at = app_test(PAGE).run()
    at.button(key="retrain.colors.quick").click().run()
    assert not at.exception
    assert at.number_input(key="retrain.colors.epochs").value == families.get("colors").quick["epochs"]
    at.radio(key="retrain.family").set_value("shapes").run()
    at.button(key="retrain.shapes.quick").click().run()
    quick = families.get("shapes").quick
    assert at.number_input(key="retrain.shapes.epochs").value == quick["epochs"]
    assert at.number_input(key="retrain.shapes.per_class").value == quick["samples_per_class"]
    at.radio(key="retrain.family").set_value("text").run()
    assert at.number_input(key="retrain.text.chars").value == get_settings().max_text_train_chars  # the default
    at.button(key="retrain.text.quick").click().run()
    assert not at.exception
    assert at.number_input(key="retrain.text.chars").value == families.get("text").quick["text_chars"]


def test_opening_the_page_warms_a_training_worker(monkeypatch):
    """The Retrain page asks for a warm worker (TensorFlow imported ahead of Start) on every run with no job of its
    own; core.engine.job_workers.warm_worker decides whether one is started (tests/integration/test_jobs_process.py)."""
    from core.engine import job_workers

    calls = []
    monkeypatch.setattr(job_workers, "warm_worker", lambda: calls.append(1) or True)
    at = app_test(PAGE).run()
    assert not at.exception
    assert calls == [1]
