"""Retrain jobs on the real shipped models: a new shape class widens the shipped CNN and keeps the old classes in
place; a text retrain copies the shipped LSTM, keeps its alphabet and shows snippets."""

import numpy as np
import pytest

from core.engine import retrain
from core.families.shapes import generator as shape_generator
from core.store import models as store
from tests.helpers.jobs import request, run_job


def test_a_new_shape_class_widens_the_model_and_keeps_the_old_classes_in_place():
    from core.families.shapes import model as shapes
    from core.store import samples

    if not (store.shipped_model_dir("shapes") / store.MODEL_JSON).is_file():
        pytest.skip("the shipped shapes model is not built yet")
    rng = np.random.default_rng(1)
    for i in range(4):
        image = np.zeros((28, 28), np.uint8)
        image[6 + i : 20, 8:20] = 255 * (rng.random((14 - i, 12)) > 0.5)
        samples.add_drawing(image, "blob")
    user = retrain.read_user_data("shapes")
    req = request(
        family="shapes",
        learning_rate=0.002,
        optimizer="adam",
        use_builtin=True,
        samples_per_class=6,
        epochs=1,
        batch_size=8,
        validation_fraction=0.25,
    )
    job = run_job(req, user)
    assert job.status == "done", job.message
    names = list(job.result.class_names)
    assert names[: len(shape_generator.CLASS_NAMES)] == list(shape_generator.CLASS_NAMES) and names[-1] == "blob"
    loaded = store.load_model(job.result.version_path)
    assert shapes.n_outputs(loaded.model) == len(names)
    assert loaded.metadata["class_names"] == names


def test_a_text_retrain_copies_the_lstm_keeps_its_alphabet_and_shows_snippets():
    from core.families.text import model as text

    if not (store.shipped_model_dir("text") / store.MODEL_JSON).is_file():
        pytest.skip("the shipped text model is not built yet")
    lines = ["To be, or not to be, that is the question.", "ROMEO:\nBut soft, what light through yonder window?"]
    corpus = ("\n".join(lines) + "\n") * 12 + "Ω"  # one character the shipped alphabet lacks
    req = request(
        family="text",
        optimizer="adam",
        learning_rate=0.002,
        epochs=1,
        batch_size=4,
        validation_fraction=0.2,
        use_builtin=False,
        text=corpus,
        text_name="tiny.txt",
    )
    job = run_job(req, retrain.UserData())
    assert job.status == "done", job.message
    outcome = job.result
    assert any("left out" in n for n in outcome.notes)  # the unknown character was dropped, and said so
    assert outcome.class_names[-1] == "other" and outcome.before is not None
    assert outcome.after.n == outcome.before.n
    snippets = [s for cell in outcome.misclassified for s in cell.samples]
    assert snippets and all(s.expected != s.predicted for s in snippets)
    loaded, vocab = text.load_text_model(outcome.version_path)
    shipped_vocab = text.vocab_from_metadata(store.load_metadata(store.shipped_model_dir("text")))
    assert vocab == shipped_vocab
    assert loaded.metadata["corpus"]["name"] == "tiny.txt"
