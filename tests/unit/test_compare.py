"""core.engine.compare: two models on the same inputs, checked against a NumPy forward pass; shared classes; saved versions."""

import numpy as np
import pytest

from core.engine import compare
from core.families.text import compare as text_compare
from core.families.text import model as text_model
from core.store import models as store


def linear_model(n_in: int, n_out: int, seed: int):
    """One softmax Dense layer: its argmax is argmax(x @ W + b), which NumPy computes independently."""
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input(shape=(n_in,), name="x"), keras.layers.Dense(n_out, activation="softmax", name="dense_out")]
    )


def numpy_argmax(model, x, columns=None) -> np.ndarray:
    w, b = model.get_weights()
    logits = x @ w + b  # (N, C)
    if columns is not None:
        logits = logits[:, columns]
    return logits.argmax(axis=1)


def inputs(n: int = 200, n_in: int = 4, n_classes: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 2, (n, n_in)).astype(np.float32), rng.integers(0, n_classes, n)


def test_the_disagreements_are_exactly_where_numpy_says_the_two_models_differ():
    x, y = inputs()
    a, b = linear_model(4, 3, seed=1), linear_model(4, 3, seed=2)
    result = compare.compare_models(a, b, x, y, ["cat", "dog", "owl"])
    ref_a, ref_b = numpy_argmax(a, x), numpy_argmax(b, x)
    assert result.n == len(y)
    assert result.n_disagree == int(np.sum(ref_a != ref_b)) > 0
    assert np.array_equal(result.disagreements, np.flatnonzero(ref_a != ref_b))
    assert np.array_equal(result.pred_a, ref_a) and np.array_equal(result.pred_b, ref_b)
    assert result.report_a.accuracy == pytest.approx(np.mean(ref_a == y))
    assert result.report_b.accuracy == pytest.approx(np.mean(ref_b == y))
    counts = result.outcome_counts()
    assert sum(counts.values()) == len(y)
    assert counts["only A right"] == int(np.sum((ref_a == y) & (ref_b != y)))
    agreement = result.agreement()
    assert agreement.sum() - np.trace(agreement) == result.n_disagree


def test_identical_models_disagree_nowhere():
    x, y = inputs()
    a = linear_model(4, 3, seed=1)
    result = compare.compare_models(a, a, x, y, ["cat", "dog", "owl"])
    assert result.n_disagree == 0 and len(result.disagreements) == 0
    assert result.report_a == result.report_b
    assert result.outcome_counts()["only A right"] == result.outcome_counts()["only B right"] == 0


def test_models_with_an_extra_class_are_compared_on_the_classes_they_share():
    x, y = inputs(n_classes=4)  # labels index ["cat", "dog", "owl", "heart"]; "heart" is only model B's
    a, b = linear_model(4, 3, seed=1), linear_model(4, 4, seed=2)
    names = ["cat", "dog", "owl", "heart"]
    result = compare.compare_models(a, b, x, y, names, classes_a=names[:3], classes_b=names)
    kept = np.flatnonzero(y != 3)
    assert result.class_names == ["cat", "dog", "owl"]
    assert np.array_equal(result.kept, kept) and result.n == len(kept)
    ref_a, ref_b = numpy_argmax(a, x[kept]), numpy_argmax(b, x[kept], columns=[0, 1, 2])  # B picks among shared
    assert result.n_disagree == int(np.sum(ref_a != ref_b))
    assert np.array_equal(result.y_true, y[kept])
    assert any("share" in note and "heart" in note for note in result.notes)


@pytest.mark.parametrize(
    ("classes_b", "words"),
    [(["x", "y", "z"], "share 0 class"), (["cat", "y", "z"], "share 1 class")],
)
def test_models_sharing_fewer_than_two_classes_are_refused(classes_b, words):
    x, y = inputs()
    a, b = linear_model(4, 3, seed=1), linear_model(4, 3, seed=2)
    with pytest.raises(compare.CompareError, match=words):
        compare.compare_models(a, b, x, y, ["cat", "dog", "owl"], classes_b=classes_b)


def test_bad_inputs_are_refused_in_plain_words():
    x, y = inputs()
    a = linear_model(4, 3, seed=1)
    with pytest.raises(compare.CompareError, match="200 inputs but 199 labels"):
        compare.compare_models(a, a, x, y[:-1], ["cat", "dog", "owl"])
    with pytest.raises(compare.CompareError, match="no held-out inputs"):
        compare.compare_models(a, a, x[:0], y[:0], ["cat", "dog", "owl"])
    with pytest.raises(compare.CompareError, match="4 class names"):
        compare.compare_models(a, a, x, y, ["cat", "dog", "owl", "emu"])  # 3 outputs, 4 names
    with pytest.raises(compare.CompareError, match="same inputs"):
        compare.compare_predictions([0, 1], [0], [0, 1], ["cat", "dog"])


def test_a_saved_colour_version_against_the_shipped_model_on_the_validation_people(user_data):
    from core.families.colors import model as colors
    from core.families.colors.config import ColorConfig

    shipped = store.shipped_model_dir("colors")
    fresh = colors.build_color_model(ColorConfig())  # untrained: it disagrees with the shipped model a lot
    version = store.save_version(fresh, "colors", "fresh", {"family": "colors", "class_names": colors.CLASS_NAMES})
    result = compare.compare_versions("colors", shipped, version.path)
    held = compare.held_out_inputs("colors")
    ref_a = colors.predict_proba(store.load_model(shipped).model, held.x).argmax(axis=1)
    ref_b = colors.predict_proba(fresh, held.x).argmax(axis=1)
    c = result.comparison
    assert c.n == len(held.y) > 0
    assert c.n_disagree == int(np.sum(ref_a != ref_b)) > 0
    assert c.report_a.accuracy == pytest.approx(np.mean(ref_a == held.y))
    assert result.inputs.shape == (c.n, 3)
    assert "validation split" in result.description


def test_a_shapes_version_with_a_user_class_is_compared_on_the_shared_classes(user_data):
    from core.families.shapes import model as shapes

    shipped = store.load_model(store.shipped_model_dir("shapes"))
    names = shapes.class_names_for(shipped.metadata, shipped.model)
    wider = shapes.with_classes(shipped.model, len(names) + 1)
    meta = {**shipped.metadata, "class_names": [*names, "heart"]}
    version = store.save_version(wider, "shapes", "heart", meta)
    result = compare.compare_versions("shapes", shipped.path, version.path)
    c = result.comparison
    assert c.class_names == names
    assert c.n == len(compare.held_out_inputs("shapes").y) > 0
    assert any("heart" in n for n in c.notes)
    # with_classes keeps the shared output rows, so among the shared classes the two agree exactly.
    assert c.n_disagree == 0


def test_text_without_the_corpus_is_skipped_with_a_plain_message(monkeypatch):

    monkeypatch.setattr(text_model, "builtin_corpus", lambda: None)
    with pytest.raises(compare.CompareError, match="corpus is not on this server"):
        text_compare.held_out(list("abc"))
