"""Issue 13: validate before work. Everything a retrain would refuse after preparing its data or at its very end
(the version name, the validation split, a base model that does not fit) is refused when Start is pressed, before
anything is queued or trained. And a version that does not fit its page (class count, input shape, family) is
named plainly (core.engine.fit); on the page (tests/apptest) it is replaced by the shipped model."""

from __future__ import annotations

import pytest

from core.engine import checks as retrain_checks
from core.engine import fit as model_fit
from core.engine import jobs, retrain
from core.engine.training import TrainingError
from core.families.text import retrain as text_retrain
from core.store import models as store
from core.store import topology as store_topology
from tests.helpers import misfit_models

TEXT = ("To be, or not to be, that is the question.\n" * 6)[:240]  # passes the upload check (202+ characters)


def request(**changes) -> retrain.RetrainRequest:
    base = dict(
        family="colors",
        epochs=2,
        batch_size=4,
        learning_rate=0.1,
        optimizer="sgd",
        validation_fraction=0.25,
        seed=0,
        use_builtin=False,
        use_user_samples=True,
        version_name="ok",
        owner="s",
    )
    base.update(changes)
    return retrain.RetrainRequest(**base)


def own_colors() -> retrain.UserData:
    rows = [(250 - i, i, 0, "red") for i in range(4)] + [(0, i, 250 - i, "blue") for i in range(4)]
    return retrain.UserData(colors=rows)


@pytest.fixture
def no_run(monkeypatch):
    """Every call of the work function, recorded: a refusal at Start must come before any of them."""
    calls = []
    monkeypatch.setattr(retrain, "run_retrain", lambda *args: calls.append(args))
    return calls


def refused_at_start(req, user, no_run) -> str:
    queue = jobs.JobQueue(limit=lambda: 1, worker="thread")
    with pytest.raises(TrainingError) as info:
        retrain.start_retrain(req, user, "s", queue=queue)
    assert queue.job_for("s") is None  # nothing queued
    assert no_run == []  # and the work never ran
    assert store.list_versions(req.family) == []
    return str(info.value)


# ---------------------------------------------------------------- refused at Start


@pytest.mark.parametrize("name", ["a..b", "my..run", "x" * 30 + ".." + "y"])
def test_a_version_name_the_store_refuses_is_refused_at_start(name, no_run):
    message = refused_at_start(request(version_name=name), own_colors(), no_run)
    assert "cannot be used" in message and "single dots" in message


def test_the_name_refused_at_start_is_the_one_the_store_refuses_at_the_end():
    for name in ("a..b", "my run", "../../evil", "", "  ", "Ω", "x" * 200, "-lead", ".hidden"):
        req = request(version_name=name)
        try:
            saved = retrain_checks.check_version_name(req)
        except TrainingError:
            with pytest.raises(store_topology.StoreError):
                store.check_name(retrain_checks.version_name(req), "version name")
        else:
            assert store.check_name(saved, "version name") == saved == retrain_checks.version_name(req)


def test_the_worker_refuses_a_bad_name_before_any_epoch():
    """Even a request that skipped start_retrain (the CLI, a test) is refused before training: no plan, no epoch."""
    job = jobs.Job(session_id="s", title="t")
    with pytest.raises(TrainingError, match="cannot be used"):
        retrain.run_retrain(request(version_name="a..b"), own_colors(), job)
    assert job.epochs == 0 and job.epoch_logs == [] and job.batch_logs == []


def test_text_too_short_for_one_validation_sequence_is_refused_at_start(no_run):
    req = request(family="text", optimizer="adam", learning_rate=0.002, text=TEXT, validation_fraction=0.2)
    message = refused_at_start(req, retrain.UserData(), no_run)
    assert "validation part" in message and "101" in message


def test_text_the_model_cannot_read_is_refused_at_start(no_run):
    """A copy keeps the base model's alphabet: a corpus of unknown characters is empty once they are left out."""
    req = request(family="text", optimizer="adam", learning_rate=0.002, text="Ω" * 400)
    assert "too short" in refused_at_start(req, retrain.UserData(), no_run)


def test_a_batch_larger_than_own_colours_is_refused_at_start(no_run):
    message = refused_at_start(request(batch_size=500), own_colors(), no_run)
    assert "larger than the training data" in message


def test_too_much_data_is_refused_at_start(no_run, monkeypatch):
    monkeypatch.setenv("MLX_MAX_TRAIN_SAMPLES", "3")
    assert "at most 3" in refused_at_start(request(), own_colors(), no_run)


def test_a_base_version_that_does_not_fit_is_refused_at_start(no_run, tmp_path):
    folder = misfit_models.colors_with_outputs(tmp_path / "five", n_outputs=5)
    message = refused_at_start(request(base_path=str(folder)), own_colors(), no_run)
    assert "does not fit" in message and "5 outputs" in message and "shipped model" in message


def test_a_base_of_another_family_is_refused_at_start(no_run, tmp_path):
    folder = misfit_models.shipped_copy(tmp_path / "colors-copy", "colors")
    req = request(family="text", optimizer="adam", text=TEXT * 2, base_path=str(folder))
    assert "not a text model" in refused_at_start(req, retrain.UserData(), no_run)


def test_good_settings_still_queue_and_run(no_run):
    """The checks refuse only what would fail: the same request with a fine name reaches the work function."""
    queue = jobs.JobQueue(limit=lambda: 1, worker="thread")
    job = retrain.start_retrain(request(version_name="my run.2"), own_colors(), "s", queue=queue)
    assert queue.wait(job, 30)
    assert len(no_run) == 1 and no_run[0][0].version_name == "my run.2"


# ---------------------------------------------------------------- core.model_fit


def fit(family: str, folder) -> str | None:
    return model_fit.fit_problem(family, store.read_model_json(folder))


@pytest.mark.parametrize("family", ["colors", "shapes", "text"])
def test_every_shipped_model_fits_its_own_pages_and_no_other(family):
    assert fit(family, store.shipped_model_dir(family)) is None
    for other in {"colors", "shapes", "text"} - {family}:
        assert f"not a {other} model" in fit(other, store.shipped_model_dir(family))


def test_a_colour_version_with_the_wrong_class_count(tmp_path):
    problem = fit("colors", misfit_models.colors_with_outputs(tmp_path / "m", n_outputs=5))
    assert "5 outputs" in problem and "needs 9" in problem


def test_a_colour_version_with_the_wrong_input(tmp_path):
    problem = fit("colors", misfit_models.colors_with_outputs(tmp_path / "m", n_outputs=9, n_inputs=4))
    assert "(4,)" in problem and "(3,)" in problem


def test_a_drawing_version_with_the_wrong_input(tmp_path):
    problem = fit("shapes", misfit_models.shapes_with_channel_input(tmp_path / "m"))
    assert "(28, 28, 1)" in problem and "(28, 28)" in problem


def test_a_model_without_family_metadata_is_still_checked_by_its_shape(tmp_path):
    folder = misfit_models.shipped_copy(tmp_path / "m", "colors", metadata_family=None)
    assert "(3,)" in fit("text", folder)
    assert "(3,)" in fit("shapes", folder)
    assert fit("colors", folder) is None


def test_metadata_that_disagrees_with_the_layers(tmp_path):
    import json

    folder = misfit_models.shipped_copy(tmp_path / "m", "text")
    path = folder / store.MODEL_JSON
    model_json = json.loads(path.read_text())
    model_json["userDefinedMetadata"]["vocab"] = model_json["userDefinedMetadata"]["vocab"][:30]
    path.write_text(json.dumps(model_json))
    assert "vocabulary has 30" in fit("text", folder)
    with pytest.raises(model_fit.ModelFitError, match="does not fit the text pages"):
        model_fit.check_model_fits("text", model_json)


def test_a_layer_a_page_reads_by_name_must_be_there(tmp_path):
    import json

    folder = misfit_models.shipped_copy(tmp_path / "m", "shapes")
    path = folder / store.MODEL_JSON
    model_json = json.loads(path.read_text())
    model_json["modelTopology"]["config"]["layers"][2]["config"]["name"] = "first_conv"  # was conv_1
    assert "'conv_1'" in model_fit.fit_problem("shapes", model_json)


# ---------------------------------------------------------------- the text a run reads


def test_a_text_run_reads_the_chosen_number_of_last_characters(monkeypatch):
    text = "abc" * 1000 + "END"
    corpus, notes, _ = text_retrain.text_corpus(request(family="text", text=text, text_chars=1000))
    assert len(corpus) == 1000 and corpus.endswith("END")
    assert "last 1,000 of 3,003" in notes[0] and "as chosen" in notes[0]
    monkeypatch.setenv("MLX_MAX_TEXT_TRAIN_CHARS", "2000")  # the server's cap wins over a larger choice
    corpus, notes, _ = text_retrain.text_corpus(request(family="text", text=text, text_chars=None))
    assert len(corpus) == 2000 and "this server's limit" in notes[0]
    with pytest.raises(TrainingError, match="between 1,000 and 2,000"):
        retrain_checks.check_request(request(family="text", optimizer="adam", text_chars=5000))
