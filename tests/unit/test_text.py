"""Unit tests for core.text on tiny models: vocabulary, windows, presets, the one-step sampler, evaluation, CLI."""

from __future__ import annotations

import json
import math
import urllib.error

import numpy as np
import pytest

from core.families.text import figures as text_figures
from core.families.text import generate as text_generate
from core.families.text import model as T
from core.families.text.config import TextConfig
from core.store import models as store
from tests.helpers.text import CORPUS


@pytest.fixture(scope="module")
def tiny():
    """A tiny untrained model over the corpus' vocabulary, with random (seeded) weights."""
    import keras

    vocab = T.Vocabulary.from_text(CORPUS)
    keras.utils.set_random_seed(0)
    model = T.build_text_model(len(vocab), TextConfig.tiny())
    return model, vocab


@pytest.fixture(scope="module")
def sampler(tiny):
    model, vocab = tiny
    return text_generate.CharSampler(model, vocab)


# ---------------------------------------------------------------- vocabulary and windows


def test_vocabulary_round_trip_is_stable_and_sorted():
    vocab = T.Vocabulary.from_text(CORPUS)
    assert list(vocab.chars) == sorted(set(CORPUS))
    assert vocab.decode(vocab.encode(CORPUS)) == CORPUS
    assert T.Vocabulary.from_json(vocab.to_json()) == vocab
    assert T.Vocabulary.from_text(CORPUS[::-1]) == vocab  # order of appearance does not matter


def test_vocabulary_rejects_unknown_and_bad_json():
    vocab = T.Vocabulary.from_text("abc")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        vocab.encode("abz")
    for bad in ('"abc"', "[]", '["ab"]', '["a", "a"]'):
        with pytest.raises(ValueError):
            T.Vocabulary.from_json(bad)
    with pytest.raises(ValueError, match="empty"):
        T.Vocabulary.from_text("")


def test_windows_shapes_and_shift():
    ids = np.arange(50, dtype=np.int32)
    x, y = T.make_windows(ids, 9)
    assert x.shape == y.shape == (5, 9)
    assert (y[:, :-1] == x[:, 1:]).all() and (y[:, -1] == x[:, -1] + 1).all()
    assert x[1, 0] == 10  # non-overlapping chunks of seq_length + 1


def test_corpus_shorter_than_one_sequence_is_a_plain_error():
    with pytest.raises(ValueError, match="too short"):
        T.make_windows(np.arange(5), 9)
    with pytest.raises(ValueError, match="too short"):
        T.prepare_text_data("hello there", TextConfig.tiny())
    with pytest.raises(ValueError, match="validation part"):
        T.prepare_text_data("ab" * 60, TextConfig.tiny().with_(seq_length=50))


def test_prepare_text_data_splits_first_90_percent(tiny):
    cfg = TextConfig.tiny()
    vocab, (x_train, y_train), (x_val, _) = T.prepare_text_data(CORPUS, cfg)
    cut = int(len(CORPUS) * 0.9)
    assert x_train.shape[1] == cfg.seq_length
    assert len(x_train) == cut // (cfg.seq_length + 1)
    assert len(x_val) == (len(CORPUS) - cut) // (cfg.seq_length + 1)
    assert vocab.decode(x_train[0]) == CORPUS[: cfg.seq_length]


# ---------------------------------------------------------------- presets


def test_tutorial_preset_has_the_tutorials_parameter_counts():
    model = T.build_text_model(65, T.PRESETS["tutorial"])
    counts = {row["layer"]: row["params"] for row in T.summary_table(model)}
    assert counts == {"embedding": 16_640, "lstm": 5_246_976, "dense_out": 66_625}
    assert model.count_params() == 5_330_241
    shapes = [row["output shape"] for row in T.summary_table(model)]
    assert shapes == ["(batch, time, 256)", "(batch, time, 1024)", "(batch, time, 65)"]


def test_shipped_preset_fits_in_10_mb():
    model = T.build_text_model(65, T.PRESETS["shipped"])
    assert model.count_params() * 4 <= 10 * 2**20


# ---------------------------------------------------------------- the one-step sampler


def test_one_step_logits_match_a_full_sequence_forward_pass(tiny, sampler):
    model, vocab = tiny
    ids = vocab.encode(CORPUS[:80])
    full = np.asarray(model(ids[None], training=False))[0]  # (T, V) Keras, whole sequence at once
    stepped, _, hidden, cell = sampler.run(ids)  # NumPy, one character at a time, state carried
    np.testing.assert_allclose(stepped, full, atol=1e-5)
    assert hidden.shape == cell.shape == (80, TextConfig.tiny().lstm_units)


def test_state_is_carried_between_calls(sampler, tiny):
    _, vocab = tiny
    ids = vocab.encode(CORPUS[:40])
    whole, _, _, _ = sampler.run(ids)
    _, state, _, _ = sampler.run(ids[:25])
    rest, _, _, _ = sampler.run(ids[25:], state)
    np.testing.assert_allclose(rest, whole[25:], atol=1e-6)
    fresh, _, _, _ = sampler.run(ids[25:])
    assert not np.allclose(fresh, whole[25:], atol=1e-3)  # without the state the logits differ


def test_batch_rows_are_independent_streams(sampler, tiny):
    _, vocab = tiny
    state = sampler.initial_state(2)
    a, b = vocab.encode("To be"), vocab.encode("Or to")
    for i, j in zip(a, b):
        logits, state = sampler.step(state, [i, j])
    single_b, _, _, _ = sampler.run(b)
    np.testing.assert_allclose(logits[1], single_b[-1], atol=1e-6)


def test_sampler_rejects_a_mismatched_vocabulary(tiny):
    model, _ = tiny
    with pytest.raises(ValueError, match="do not belong"):
        text_generate.CharSampler(model, T.Vocabulary.from_text("abc"))


def test_probabilities_sum_to_one_and_match_a_softmax():
    logits = np.array([[2.0, 1.0, 0.1, -3.0]])
    p = text_generate.next_char_probabilities(logits, 1.0)
    e = np.exp(logits - logits.max())
    np.testing.assert_allclose(p, e / e.sum(), atol=1e-12)
    p2 = text_generate.next_char_probabilities(logits, 0.5, top_k=2)
    assert p2[0, 2] == 0 and p2[0, 3] == 0 and math.isclose(p2.sum(), 1.0)


def test_temperature_to_zero_tends_to_argmax():
    logits = np.array([1.0, 1.5, 0.2, 1.4])
    for t in (1.0, 0.3, 0.1, 0.01):
        assert np.argmax(text_generate.next_char_probabilities(logits, t)) == 1
    assert text_generate.next_char_probabilities(logits, 0.01)[1] > 0.99
    np.testing.assert_array_equal(text_generate.next_char_probabilities(logits, 0), [0, 1, 0, 0])


def test_low_temperature_sampling_equals_argmax_generation(tiny):
    # An untrained model's logits nearly tie; scaling the output layer separates them, as training would.
    sharp = text_generate.CharSampler(*tiny)
    sharp.dense_kernel = sharp.dense_kernel * 100
    argmax = text_generate.generate_text(sharp, "To be", 40, temperature=0, random_seed=1)
    cold = text_generate.generate_text(sharp, "To be", 40, temperature=1e-3, random_seed=2)
    assert cold.texts == argmax.texts
    assert np.allclose(argmax.probabilities.max(axis=-1), 1.0)


def test_generation_is_reproducible_with_a_seed(sampler):
    a = text_generate.generate_text(sampler, "To be", 60, temperature=1.0, n_samples=3, random_seed=7)
    b = text_generate.generate_text(sampler, "To be", 60, temperature=1.0, n_samples=3, random_seed=7)
    c = text_generate.generate_text(sampler, "To be", 60, temperature=1.0, n_samples=3, random_seed=8)
    assert a.texts == b.texts and a.texts != c.texts
    assert len(a.texts) == 3 and all(len(t) == 60 for t in a.texts)
    assert len(set(a.texts)) > 1  # the rows of the batch are different samples
    assert a.probabilities.shape == (3, 60, len(sampler.vocab))
    assert a.hidden.shape == (60, sampler.units)


def test_generated_chars_are_the_recorded_draws(sampler):
    g = text_generate.generate_text(sampler, "To", 30, temperature=0.8, top_k=3, random_seed=3)
    for t, i in enumerate(g.ids[0]):
        p = g.probabilities[0, t]
        assert p[i] > 0 and (p > 0).sum() <= 3  # drawn from its own top-3 distribution
    assert g.texts[0] == sampler.vocab.decode(g.ids[0])


def test_sampling_follows_the_distribution():
    rng = np.random.default_rng(0)
    probs = np.tile([0.7, 0.2, 0.1, 0.0], (20000, 1))
    counts = np.bincount(text_generate.sample_ids(probs, rng), minlength=4) / 20000
    np.testing.assert_allclose(counts, [0.7, 0.2, 0.1, 0.0], atol=0.02)


# ---------------------------------------------------------------- bad input


def test_seed_outside_the_vocabulary_is_mapped_or_dropped():
    vocab = T.Vocabulary.from_text(CORPUS)
    check = text_generate.clean_seed("Tő be’ 🙂 or", vocab)
    assert check.text == "To be'  or"  # ő -> o, ’ -> ', the emoji dropped (its two spaces stay)
    assert "🙂" in check.dropped and "ő" in check.mapped
    assert "vocabulary" in check.message
    assert all(c in vocab.index for c in check.text)


def test_empty_seed_starts_from_a_new_line():
    vocab = T.Vocabulary.from_text(CORPUS)
    for seed in ("", "🙂🙂"):
        check = text_generate.clean_seed(seed, vocab)
        assert check.text == "\n" and check.defaulted and "empty" in check.message


def test_generation_from_an_empty_seed_works(sampler):
    g = text_generate.generate_text(sampler, "", 10, random_seed=0)
    assert len(g.texts[0]) == 10 and g.seed.defaulted


def test_lengths_are_checked_and_capped(sampler):
    for bad in (0, -5, "x"):
        with pytest.raises(ValueError, match="length"):
            text_generate.generate_text(sampler, "To", bad)
    g = text_generate.generate_text(sampler, "To", 10_000, max_chars=50, random_seed=0)
    assert len(g.texts[0]) == 50 and any("capped" in n for n in g.notes)


def test_negative_or_nan_temperature_is_refused(sampler):
    for bad in (-0.5, float("nan"), "hot"):
        with pytest.raises(ValueError, match="temperature"):
            text_generate.generate_text(sampler, "To", 5, temperature=bad)


def test_bad_sample_counts_and_top_k_are_refused(sampler):
    with pytest.raises(ValueError, match="samples"):
        text_generate.generate_text(sampler, "To", 5, n_samples=0)
    with pytest.raises(ValueError, match="top-k"):
        text_generate.generate_text(sampler, "To", 5, top_k=-1)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"\x00\x01\x02binary\x00" * 50, "binary"),
        (b"caf\xe9 " * 100, "UTF-8"),
        (b"short text", "needs at least"),
        (b"x" * (2 * 2**20), "capped"),
    ],
)
def test_bad_uploads_are_refused_in_plain_words(data, message):
    with pytest.raises(ValueError, match=message):
        T.check_corpus_upload(data, max_mb=1.0)


def test_a_good_upload_is_decoded():
    text = T.check_corpus_upload(("\ufeff" + CORPUS).encode("utf-8"), max_mb=1.0)
    assert text == CORPUS


# ---------------------------------------------------------------- helpers for the page


def test_find_loop():
    assert text_generate.find_loop("the cat sat the the the the ") == (11, 4)  # the cycle " the" starts after "sat"
    assert text_generate.find_loop("abcdefg") is None
    assert text_generate.find_loop("aaaa") == (0, 1)


def test_surprisal_matches_the_logits(sampler):
    text, bits = text_generate.surprisal(sampler, "To be or")
    logits, _, _, _ = sampler.run(sampler.vocab.encode(text[:-1]))
    p = np.exp(logits[-1] - logits[-1].max())
    p /= p.sum()
    assert len(bits) == len(text) - 1
    assert math.isclose(bits[-1], -math.log2(p[sampler.vocab.index[text[-1]]]), rel_tol=1e-5)


def test_top_units_picks_the_most_varied():
    acts = np.zeros((10, 4))
    acts[:, 2] = np.linspace(-1, 1, 10)
    acts[:, 0] = np.linspace(0, 0.1, 10)
    assert text_generate.top_units(acts, 2) == [2, 0]


def test_figures_build(sampler):

    g = text_generate.generate_text(sampler, "To", 20, random_seed=0)
    bars = text_figures.next_char_bars(g.probabilities[0, 0], sampler.vocab.chars, int(g.ids[0, 0]), k=3)
    assert int(g.ids[0, 0]) in [
        sampler.vocab.chars.index(c.replace("␣", " ").replace("⏎", "\n")) for c in bars.data[0].x
    ]
    heat = text_figures.activation_heatmap(g.hidden, g.texts[0], [0, 3])
    assert np.asarray(heat.data[0].z).shape == (2, 20)
    text, bits = text_generate.surprisal(sampler, "To be")
    assert len(text_figures.surprisal_bars(text, bits).data[0].y) == 4


# ---------------------------------------------------------------- evaluation, store, CLI, download


def _nll_reference(model, vocab, text):
    """Independent reference: one Keras forward pass over the whole text, then the mean -log softmax."""
    ids = vocab.encode(text)
    logits = np.asarray(model(ids[None, :-1]), dtype=np.float64)[0]
    logp = (
        logits
        - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True))
        - logits.max(-1, keepdims=True)
    )
    return float(-logp[np.arange(len(ids) - 1), ids[1:]].mean())


def test_evaluate_text_on_a_tiny_text(tiny):
    model, vocab = tiny
    short = CORPUS[:12]  # shorter than one window (seq 12 + 1): scored as one sequence
    out = T.evaluate_text(model, vocab, short, seq_length=12)
    assert out["chars"] == 11 and out["unknown_chars"] == 0
    assert math.isclose(out["loss_nats_per_char"], _nll_reference(model, vocab, short), rel_tol=1e-4)
    assert math.isclose(out["bits_per_char"], out["loss_nats_per_char"] / math.log(2), rel_tol=1e-4)
    with_unknown = T.evaluate_text(model, vocab, "Tő bé", seq_length=12)
    assert with_unknown["unknown_chars"] == 2 and with_unknown["chars"] == 2
    with pytest.raises(ValueError, match="at least 2"):
        T.evaluate_text(model, vocab, "🙂🙂T", seq_length=12)


def _save_tiny(tmp_path, tiny):
    model, vocab = tiny
    meta = T.text_metadata(vocab, TextConfig.tiny(), {"val_loss": [2.0, 1.5]}, 1.0, T.describe_corpus(CORPUS), None)
    folder = store.save_model(model, tmp_path / "tiny_text", meta)
    return folder


def test_store_round_trip_keeps_vocab_and_logits(tmp_path, tiny):
    model, vocab = tiny
    folder = _save_tiny(tmp_path, tiny)
    loaded, vocab2 = T.load_text_model(folder)
    assert vocab2 == vocab and loaded.metadata["metrics"]["best_epoch"] == 2
    ids = vocab.encode(CORPUS[:30])[None]
    np.testing.assert_allclose(np.asarray(loaded.model(ids)), np.asarray(model(ids)), atol=1e-6)
    assert "sha256" in loaded.metadata["corpus"] and CORPUS not in json.dumps(loaded.metadata)


def test_evaluate_cli_on_a_tiny_text(tmp_path, tiny, capsys):
    from core.__main__ import main

    model, vocab = tiny
    folder = _save_tiny(tmp_path, tiny)
    path = tmp_path / "tiny.txt"
    path.write_text(CORPUS, encoding="utf-8")
    assert main(["evaluate", "text", str(path), "--model", str(folder), "--tail", "0.5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"chars", "loss_nats_per_char", "bits_per_char", "unknown_chars"}
    tail = CORPUS[len(CORPUS) // 2 :]
    assert out["chars"] == (len(tail) // 13) * 12
    assert math.isclose(out["loss_nats_per_char"], math.log(len(vocab)), rel_tol=0.2)  # untrained: near uniform
    assert main(["evaluate", "text", str(path), "--model", str(folder), "--tail", "2"]) == 2
    assert main(["evaluate", "text", str(tmp_path / "missing.txt"), "--model", str(folder)]) == 2
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00\x00")
    assert main(["evaluate", "text", str(tmp_path / "bin.txt"), "--model", str(folder)]) == 2
    assert "error:" in capsys.readouterr().err


def test_train_cli_refuses_a_too_short_corpus(tmp_path, capsys):
    from core.__main__ import main

    path = tmp_path / "short.txt"
    path.write_text("too short", encoding="utf-8")
    assert main(["train", "text", "--corpus", str(path), "--preset", "tiny", "--out", str(tmp_path / "o")]) == 2
    assert "too short" in capsys.readouterr().err


def test_download_uses_get_file_and_explains_offline(tmp_path, monkeypatch):
    source = tmp_path / "served.txt"
    source.write_text(CORPUS, encoding="utf-8")
    path = T.download_shakespeare(tmp_path / "cache", url=source.as_uri())
    assert path.read_text(encoding="utf-8") == CORPUS

    import keras.src.utils.file_utils as file_utils

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(file_utils, "urlretrieve", offline)
    with pytest.raises(ValueError, match="offline"):
        T.download_shakespeare(tmp_path / "cache2")


def test_one_blas_thread_restores_the_limit_after_nested_use():
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    before = blas_threads()
    with text_generate.one_blas_thread():
        with text_generate.one_blas_thread():
            assert all(n == 1 for n in blas_threads())
        assert all(n == 1 for n in blas_threads())  # still inside the outer use
    assert blas_threads() == before


def test_measured_summary_names_the_held_out_text_and_its_figure():
    loaded, _ = T.load_text_model()
    line = T.measured_summary(loaded.metadata)
    assert "last 10%" in line and "tinyshakespeare" in line
    assert f"{loaded.metadata['metrics']['val_loss_nats_per_char']:.3f} nats per character" in line
    assert "no figure" in T.measured_summary({})


# ---------------------------------------------------------------- stored logits, fresh seeds, live temperature


def _softmax_reference(logits, temperature):
    """Independent NumPy reference: exp(z / T) / sum exp(z / T), in float64."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    e = np.exp(z - z.max())
    return e / e.sum()


def _entropy_reference(p):
    p = np.asarray(p, dtype=np.float64)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def test_steps_keep_the_logits_their_distribution_came_from(sampler):
    steps = list(
        text_generate.iter_generate(sampler, "To be", 12, temperature=0.7, top_k=5, n_samples=2, random_seed=4)
    )
    assert all(s.logits.shape == (2, len(sampler.vocab)) for s in steps)
    for s in steps:
        np.testing.assert_allclose(text_generate.next_char_probabilities(s.logits, 0.7, 5), s.probabilities, atol=1e-6)
    g = text_generate.generate_text(sampler, "To be", 12, temperature=0.7, top_k=5, n_samples=2, random_seed=4)
    assert g.logits.shape == (2, 12, len(sampler.vocab)) and g.top_k == 5 and g.temperature == 0.7
    # each step's logits are the model's scores after reading the seed and everything generated before it
    for t in (0, 5, 11):
        reference, _, _, _ = sampler.run(sampler.vocab.encode("To be" + g.texts[1][:t]))
        np.testing.assert_allclose(g.logits[1, t], reference[-1], atol=1e-5)


def test_without_a_seed_each_run_draws_a_fresh_one_that_repeats_it(sampler):
    a = text_generate.generate_text(sampler, "To be", 50, temperature=1.0)
    b = text_generate.generate_text(sampler, "To be", 50, temperature=1.0)
    assert a.random_seed is not None and b.random_seed is not None
    assert a.random_seed != b.random_seed and a.texts != b.texts  # fresh samples (a tie has chance 1e-6)
    again = text_generate.generate_text(sampler, "To be", 50, temperature=1.0, random_seed=a.random_seed)
    assert again.texts == a.texts and again.random_seed == a.random_seed
    np.testing.assert_array_equal(again.logits, a.logits)
    stream = text_generate.GenerationStream(sampler, "To be", 5)
    assert 0 <= stream.random_seed < text_generate.DRAWN_SEED_LIMIT  # known before the first character


def test_drawn_seeds_are_short_and_vary():
    seeds = [text_generate.draw_random_seed() for _ in range(40)]
    assert all(isinstance(s, int) and 0 <= s < text_generate.DRAWN_SEED_LIMIT for s in seeds)
    assert len(set(seeds)) > 30


def test_random_seeds_are_checked(sampler):
    for good, expected in (
        (0, 0),
        (5, 5),
        (np.int64(7), 7),
        (7.0, 7),
        (text_generate.MAX_RANDOM_SEED, text_generate.MAX_RANDOM_SEED),
    ):
        assert text_generate.check_random_seed(good) == expected
    for bad in (-1, 1.5, math.nan, math.inf, "abc", None, True, text_generate.MAX_RANDOM_SEED + 1, 10**400):
        with pytest.raises(ValueError, match="random seed must be a whole number"):
            text_generate.check_random_seed(bad)
    with pytest.raises(ValueError, match="random seed"):
        text_generate.GenerationStream(sampler, "To be", 5, random_seed=-3)  # refused before any character


@pytest.mark.parametrize("temperature", [0.05, 0.3, 0.8, 1.0, 1.7, 5.0])
def test_distribution_at_a_temperature_matches_a_numpy_reference(temperature):
    from core.families.text import steps as TS

    logits = np.random.default_rng(1).normal(0, 3, 65)
    d = TS.distribution_at(logits, temperature)
    np.testing.assert_allclose(d.probabilities, _softmax_reference(logits, temperature), rtol=1e-10, atol=1e-14)
    assert math.isclose(d.probabilities.sum(), 1.0, rel_tol=1e-12)
    assert math.isclose(d.entropy_nats, _entropy_reference(d.probabilities), rel_tol=1e-10, abs_tol=1e-12)
    assert math.isclose(d.entropy_bits, d.entropy_nats / math.log(2), rel_tol=1e-12)
    assert math.isclose(d.effective_choices, math.exp(_entropy_reference(d.probabilities)), rel_tol=1e-10)


def test_entropy_limits_and_top_k():
    from core.families.text import steps as TS

    logits = np.array([3.0, 1.0, 0.5, -2.0, 0.0])
    assert TS.distribution_at(logits, 0).entropy_nats == 0.0  # argmax: one certain character
    assert math.isclose(TS.distribution_at(np.zeros(8), 0.7).entropy_bits, 3.0, rel_tol=1e-12)  # uniform over 8
    assert math.isclose(TS.distribution_at(logits, 1e6).entropy_bits, math.log2(5), rel_tol=1e-5)
    curve = TS.entropy_by_temperature(logits, np.linspace(0, 4, 41))
    assert curve[0] == 0.0 and (np.diff(curve) > -1e-12).all()  # a higher temperature never sharpens it
    top2 = TS.distribution_at(logits, 1.0, top_k=2)
    reference = _softmax_reference(logits[:2], 1.0)
    np.testing.assert_allclose(top2.probabilities, [*reference, 0, 0, 0], atol=1e-12)
    assert math.isclose(top2.entropy_nats, _entropy_reference(reference), rel_tol=1e-10)
    assert top2.rank_of(0) == 1 and top2.rank_of(1) == 2
    np.testing.assert_allclose(TS.entropy_bits(np.array([[0.5, 0.5, 0], [1, 0, 0]])), [1.0, 0.0])


def test_bad_step_logits_and_temperatures_are_plain_errors():
    from core.families.text import steps as TS

    for bad in ([], [[1.0, 2.0]], [1.0, math.nan], [math.inf, 0.0]):
        with pytest.raises(ValueError, match="logits"):
            TS.distribution_at(bad, 1.0)
    with pytest.raises(ValueError, match="temperature"):
        TS.distribution_at([1.0, 2.0], -0.5)


def test_temperature_figures_show_both_distributions(sampler):
    from core.families.text import steps as TS

    g = text_generate.generate_text(sampler, "To", 5, temperature=0.8, random_seed=2)
    live = TS.distribution_at(g.logits[0, 3], 2.0)
    chosen = int(g.ids[0, 3])
    bars = text_figures.temperature_bars(live.probabilities, g.probabilities[0, 3], sampler.vocab.chars, chosen, k=3)
    assert len(bars.data) == 2 and len(bars.data[0].x) in (3, 4)
    order = np.argsort(-live.probabilities)[:3]
    np.testing.assert_allclose(bars.data[0].y[:3], live.probabilities[order])
    np.testing.assert_allclose(bars.data[1].y[:3], g.probabilities[0, 3][order])
    ts = np.linspace(0, 2, 5)
    curve = text_figures.entropy_curve(
        ts, TS.entropy_by_temperature(g.logits[0, 3], ts), [("slider", 2.0, live.entropy_bits)]
    )
    assert len(curve.data) == 2 and curve.data[1].y[0] == live.entropy_bits
