"""Teach core (unit tier): decoding photos, drawings and WAVs with their caps, 1-second chunks, the log-mel
spectrogram, project folders, the stratified split, training a NEW model, evaluation, the experiments, the figures,
and the job. Tiny configs and data made here; the TF.js/Node export check is in tests/integration/test_teach_cli.py."""

from __future__ import annotations

import functools
import io
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.families.teach import data as td
from core.families.teach.data import TeachError
from core.store import topology as store_topology
from tests.helpers.teach import canvas, png_bytes, sine, write_project

RNG = np.random.default_rng(0)


# ---------------------------------------------------------------- helpers


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height with 10 bytes of pixels: decoding it would fail as truncated, so a
    message about its size shows that the header was checked first."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 10)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def wav_bytes(samples: np.ndarray, rate: int, width: int = 2, channels: int = 1) -> bytes:
    import wave

    x = np.repeat(np.asarray(samples, np.float64)[:, None], channels, axis=1)
    if width == 1:
        raw = (np.round(x * 127) + 128).astype(np.uint8).tobytes()
    elif width == 2:
        raw = np.round(x * 32767).astype("<i2").tobytes()
    elif width == 3:
        raw = np.round(x * 8388607).astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    else:
        raw = np.round(x * 2147483647).astype("<i4").tobytes()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(raw)
    return buf.getvalue()


# ---------------------------------------------------------------- images


def test_decode_image_crops_the_centre_square_and_scales_to_0_1():
    wide = np.zeros((40, 120, 3), np.uint8)
    wide[:, :40] = (255, 0, 0)  # left third red, middle green, right third blue: the centre square is all green
    wide[:, 40:80] = (0, 255, 0)
    wide[:, 80:] = (0, 0, 255)
    x = td.decode_image(png_bytes(wide))
    assert x.shape == (td.IMAGE_SIZE, td.IMAGE_SIZE, 3) and x.dtype == np.float32
    inner = x[:, 2:-2]  # the resampling filter blends the crop's outermost pixel column with its neighbour
    assert inner[..., 1].min() > 0.95 and inner[..., 0].max() < 0.05 and inner[..., 2].max() < 0.05


def test_decode_image_puts_transparency_on_white():
    rgba = np.zeros((10, 10, 4), np.uint8)  # fully transparent black
    assert td.decode_image(png_bytes(rgba)).min() > 0.99


@pytest.mark.parametrize("data", [b"", b"hello, not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20])
def test_decode_image_refuses_non_images_plainly(data):
    with pytest.raises(TeachError) as err:
        td.decode_image(data)
    assert "\n" not in str(err.value) and "image" in str(err.value)


def test_decode_image_checks_the_pixel_cap_from_the_header_before_decoding(monkeypatch):
    with pytest.raises(TeachError, match="6000x6000 pixels; this server reads images of at most 25,000,000"):
        td.decode_image(png_header_only(6000, 6000))
    with pytest.raises(TeachError, match="far more pixels"):
        td.decode_image(png_header_only(60_000, 60_000))  # past PIL's own limit, which it checks on opening
    monkeypatch.setenv("MLX_MAX_TEACH_IMAGE_PIXELS", "100")
    with pytest.raises(TeachError, match="11x11"):
        td.decode_image(png_bytes(np.zeros((11, 11, 3))))


def test_a_truncated_image_is_refused_plainly():
    data = png_bytes(RNG.integers(0, 255, (64, 64, 3)))
    with pytest.raises(TeachError, match="damaged|not an image"):
        td.decode_image(data[: len(data) // 2])


# ---------------------------------------------------------------- drawings


def test_decode_drawing_from_the_canvas_matches_the_draw_pages_preprocessing():
    from core.inputs.canvas import preprocess_canvas

    x = td.decode_drawing(canvas())
    assert x.shape == (28, 28) and x.dtype == np.float32 and x.max() == 1.0
    np.testing.assert_allclose(x, preprocess_canvas(canvas()) / 255.0, atol=1e-6)
    assert x[0].max() == 0  # white on black: the border is black


def test_decode_drawing_png_bitmaps_either_polarity_and_large_pictures():
    bitmap = (td.decode_drawing(canvas()) * 255).astype(np.uint8)
    np.testing.assert_allclose(td.decode_drawing(png_bytes(bitmap)), bitmap / 255.0)  # used as it is
    np.testing.assert_allclose(td.decode_drawing(png_bytes(255 - bitmap)), bitmap / 255.0)  # dark-on-light: inverted
    big_light_on_dark = 255 - canvas()[..., :3]
    np.testing.assert_allclose(td.decode_drawing(png_bytes(big_light_on_dark)), td.decode_drawing(canvas()))


def test_decode_drawing_refuses_blank_and_wrong_shapes():
    with pytest.raises(TeachError, match="blank"):
        td.decode_drawing(np.full((280, 280, 4), 255, np.uint8))
    with pytest.raises(TeachError, match="blank"):
        td.decode_drawing(np.zeros((280, 280, 4), np.uint8))  # transparent: nothing drawn
    with pytest.raises(TeachError, match="RGBA"):
        td.decode_drawing(np.zeros((28, 28)))
    with pytest.raises(TeachError, match="finite"):
        td.decode_drawing(np.full((20, 20, 4), np.nan))


# ---------------------------------------------------------------- sound


def test_wav_round_trip_and_every_pcm_width():
    x = sine(440, 0.5)
    np.testing.assert_allclose(td.decode_wav(td.encode_wav(x)), x, atol=1e-4)
    for width, tolerance in ((1, 1e-2), (2, 1e-4), (3, 1e-6), (4, 1e-6)):
        got = td.decode_wav(wav_bytes(x, td.SAMPLE_RATE, width, channels=2))
        np.testing.assert_allclose(got, x, atol=tolerance, err_msg=f"{8 * width}-bit")


def test_wav_is_resampled_to_16k_keeping_the_pitch():
    y = td.decode_wav(wav_bytes(sine(1000, 1.0, rate=44100), 44100))
    assert abs(len(y) - td.SAMPLE_RATE) <= 1
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * td.SAMPLE_RATE / len(y) - 1000) < 2
    # a 12 kHz tone cannot exist at 16 kHz: the low-pass removes it instead of folding it to 4 kHz
    aliased = td.decode_wav(wav_bytes(sine(12000, 1.0, rate=48000), 48000))
    assert np.abs(aliased[200:-200]).max() < 0.05


def test_wav_refusals_are_plain_and_the_duration_cap_comes_from_the_header(monkeypatch):
    good = wav_bytes(sine(440, 3.0), td.SAMPLE_RATE)
    float_wav = bytearray(good)
    float_wav[20:22] = struct.pack("<H", 3)  # format tag 3: IEEE float
    cases = {
        b"": "empty",
        b"RIFF....WAVEnot really": "damaged",
        b"ID3 an mp3": "not a WAV",
        bytes(float_wav): "PCM",
        good[:44]: "no audio",
    }
    for data, phrase in cases.items():
        with pytest.raises(TeachError, match=phrase) as err:
            td.decode_wav(data)
        assert "\n" not in str(err.value)
    assert len(td.decode_wav(good[: 44 + 2 * 8000])) == 8000  # cut short: the half second that is there
    monkeypatch.setenv("MLX_MAX_TEACH_WAV_SECONDS", "2")
    header_says_long = bytearray(good[:44])  # the header claims 3 s; no frame is needed to refuse it
    with pytest.raises(TeachError, match="3 s long"):
        td.decode_wav(bytes(header_says_long) + b"\x00" * 100)


def test_cut_chunks_keeps_whole_seconds_and_a_long_enough_tail():
    n = td.SAMPLE_RATE
    assert len(td.cut_chunks(np.ones(int(2.6 * n)))) == 3  # 0.6 s tail kept, zero-padded
    assert len(td.cut_chunks(np.ones(int(2.3 * n)))) == 2  # 0.3 s tail dropped
    short = td.cut_chunks(np.ones(int(0.3 * n)))
    assert len(short) == 1 and short[0][: int(0.3 * n)].min() == 1 and short[0][int(0.3 * n) :].max() == 0
    silent = td.cut_chunks(np.zeros(3 * n))
    assert len(silent) == 3 and all(c.shape == (n,) for c in silent)
    with pytest.raises(TeachError, match="no audio"):
        td.cut_chunks(np.zeros(0))


def test_log_mel_shape_floor_and_where_a_tone_lands():
    assert td.N_FRAMES == 49
    silence = td.log_mel(np.zeros(td.SAMPLE_RATE))
    assert silence.shape == (49, td.N_MELS) and silence.dtype == np.float32
    np.testing.assert_allclose(silence, np.log(td.LOG_FLOOR), rtol=1e-6)
    low, high = td.log_mel(sine(300, 1.0)).mean(axis=0), td.log_mel(sine(3000, 1.0)).mean(axis=0)
    assert np.argmax(low) < np.argmax(high)
    centres = td._mel_to_hz(np.linspace(td._hz_to_mel(td.MEL_FMIN), td._hz_to_mel(8000), td.N_MELS + 2))[1:-1]
    assert abs(centres[np.argmax(high)] - 3000) < 250  # the band whose centre is nearest 3 kHz
    bank = td.mel_filterbank()
    assert bank.shape == (td.N_FFT // 2 + 1, td.N_MELS) and bank.max(axis=0).min() > 0.5


# ---------------------------------------------------------------- project folders


@pytest.mark.parametrize("kind", td.KINDS)
def test_load_folder_gives_aligned_inputs_labels_and_files(kind, tmp_path):
    classes = ("a", td.BACKGROUND) if kind == "sound" else ("b_class", "a_class")
    root = write_project(tmp_path, kind, per_class=3, classes=classes)
    (root / classes[0] / "notes.txt").write_text("not a sample")
    (root / classes[0] / ".hidden.png").write_bytes(b"ignored")
    data = td.load_folder(kind, root)
    assert data["class_names"] == sorted(classes)
    assert data["x"].shape == (6, *td.input_shape(kind)) and data["x"].dtype == np.float32
    assert data["y"].tolist() == [0, 0, 0, 1, 1, 1]
    assert [Path(f).parent.name for f in data["files"]] == [data["class_names"][i] for i in data["y"]]
    assert [Path(f).name for f in data["skipped"]] == ["notes.txt"]


def test_a_long_recording_is_one_row_per_second(tmp_path):
    root = write_project(tmp_path, "sound", per_class=1, classes=("hum", td.SPEECH_COMMANDS_BACKGROUND))
    (root / "hum" / "0.wav").write_bytes(td.encode_wav(sine(200, 3.2)))
    data = td.load_folder("sound", root)  # Speech Commands' folder name counts as the background class
    assert data["y"].tolist() == [0, 1, 1, 1] and len(set(data["files"][1:])) == 1


@pytest.mark.parametrize(
    "setup, phrase",
    [
        (lambda r: None, "at least 2 classes"),
        (lambda r: (r / "only").mkdir(), "at least 2 classes"),
        (lambda r: [(r / f"c{i}").mkdir() for i in range(11)], "at most 10"),
        (lambda r: [(r / n).mkdir() for n in "ab"], "no samples"),
    ],
)
def test_load_folder_refuses_bad_projects_plainly(tmp_path, setup, phrase):
    setup(tmp_path)
    with pytest.raises(TeachError, match=phrase):
        td.load_folder("image", tmp_path)


def test_load_folder_names_the_unreadable_file_and_checks_kind_folder_and_caps(tmp_path, monkeypatch):
    root = write_project(tmp_path / "p", "image", per_class=2)
    (root / "b" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(TeachError, match=r"b/broken\.png: Could not read the image: it is not a PNG or JPEG"):
        td.load_folder("image", root)
    (root / "b" / "broken.png").unlink()
    with pytest.raises(TeachError, match="Unknown kind"):
        td.load_folder("video", root)
    with pytest.raises(TeachError, match="no project folder"):
        td.load_folder("image", tmp_path / "missing")
    with pytest.raises(TeachError, match="background noise"):
        td.load_folder("sound", write_project(tmp_path / "s", "sound", 1, ("yes", "no")))
    monkeypatch.setenv("MLX_MAX_TEACH_FILES", "3")
    with pytest.raises(TeachError, match="4 samples; this server reads at most 3"):
        td.load_folder("image", root)
    monkeypatch.setenv("MLX_MAX_TEACH_FILES", "100")
    monkeypatch.setenv("MLX_MAX_TEACH_MB", "0.0001")
    with pytest.raises(TeachError, match="MB"):
        td.load_folder("image", root)


# ---------------------------------------------------------------- split, train, evaluate


def test_split_is_stratified_and_tiny_classes_keep_a_training_sample():
    from core.families.teach.model import TeachConfig, split_data

    y = np.array([0] * 20 + [1] * 7 + [2] * 1)
    parts = split_data(np.arange(len(y)), y, TeachConfig(seed=3))
    assert np.bincount(parts["y_val"], minlength=3).tolist() == [3, 1, 0]  # round(15%): 3 of 20, 1 of 7, 0 of 1
    assert np.bincount(parts["y_train"], minlength=3).tolist() == [17, 6, 1]
    assert sorted(parts["x_train"].tolist() + parts["x_val"].tolist()) == list(range(len(y)))
    again = split_data(np.arange(len(y)), y, TeachConfig(seed=3))
    assert parts["x_val"].tolist() == again["x_val"].tolist()  # seeded
    groups = np.repeat(np.arange(14), 2)  # two rows (seconds) per file: a file is held out whole
    by_file = split_data(np.arange(28), np.repeat([0, 1], 14), TeachConfig(validation_fraction=0.3), groups=groups)
    held = set(groups[by_file["x_val"]])
    assert held and not held & set(groups[by_file["x_train"]])


@pytest.fixture(scope="module")
def tiny_drawing_data():
    from core.families.teach.model import TeachConfig, split_data

    rng = np.random.default_rng(0)
    x = rng.random((24, 28, 28)).astype(np.float32) * 0.2
    y = np.arange(24) % 2
    x[y == 1, 10:18, 10:18] = 1.0  # class 1 has a bright square
    data = split_data(x, y, TeachConfig(seed=0, validation_fraction=0.25))
    return {**data, "class_names": ["plain", "square"], "kind": "drawing"}


def test_train_returns_a_new_model_and_leaves_the_passed_one_unchanged(tiny_drawing_data):
    from core.families.teach.model import TeachConfig, build_teach_model, train_teach_model

    cfg = TeachConfig.tiny("drawing")
    base = build_teach_model("drawing", 2, cfg)
    before = [w.copy() for w in base.get_weights()]
    epochs = []
    trained = train_teach_model(cfg, tiny_drawing_data, model=base, on_epoch_end=lambda e, logs: epochs.append(e))
    assert trained.model is not base and trained.result.ok and epochs == [0, 1]
    assert all(np.array_equal(a, b) for a, b in zip(before, base.get_weights()))
    assert any(not np.array_equal(a, b) for a, b in zip(before, trained.model.get_weights()))
    assert trained.data["n_train_augmented"] == 4 * len(tiny_drawing_data["y_train"])  # 3 jittered copies each
    assert [layer.name for layer in base.layers][-1] == "dense_out"


def test_train_honours_cancel_and_refuses_mismatched_data(tiny_drawing_data):
    from core.families.teach.model import TeachConfig, train_teach_model

    trained = train_teach_model(TeachConfig.tiny("drawing"), tiny_drawing_data, should_stop=lambda: True)
    assert trained.result.cancelled
    with pytest.raises(TeachError, match="shape"):
        train_teach_model(TeachConfig.tiny("image"), {**tiny_drawing_data, "kind": "image"})


def test_evaluate_arrays_and_predict_proba(tiny_drawing_data):
    from core.families.teach.model import build_teach_model, evaluate_arrays, predict_proba

    model = build_teach_model("drawing", 2)
    probs = predict_proba(model, tiny_drawing_data["x_val"])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    report = evaluate_arrays(model, tiny_drawing_data["x_val"], tiny_drawing_data["y_val"], ["plain", "square"])
    assert {"accuracy", "per_class", "n", "confusion", "mean_confidence", "misclassified"} <= set(report)
    assert report["n"] == len(tiny_drawing_data["y_val"]) == sum(map(sum, report["confusion"]))
    assert set(report["per_class"]["plain"]) == {"accuracy", "n"}
    wrong = [i for i, (p, t) in enumerate(zip(probs.argmax(1), tiny_drawing_data["y_val"])) if p != t]
    assert report["misclassified"] == wrong
    assert report["mean_confidence"] == pytest.approx(float(probs.max(axis=1).mean()), abs=1e-6)


@pytest.mark.parametrize("kind", td.KINDS)
def test_each_kind_builds_with_store_layers_only_and_round_trips(kind, tmp_path):
    from core.families.teach.model import build_teach_model, predict_proba
    from core.store import models as store

    model = build_teach_model(kind, 3)
    assert all(layer.name and layer.__class__.__name__ in store_topology.ALLOWED_LAYERS for layer in model.layers)
    x = np.random.default_rng(1).random((2, *td.input_shape(kind))).astype(np.float32)
    loaded = store.load_model(store.save_model(model, tmp_path / kind))
    np.testing.assert_allclose(predict_proba(loaded.model, x), predict_proba(model, x), atol=1e-6)


# ---------------------------------------------------------------- experiments and figures


def test_experiments_on_tiny_data(tiny_drawing_data):
    from core.families.teach import experiments as tx
    from core.families.teach.model import TeachConfig

    cfg = TeachConfig(kind="drawing", epochs=1, batch_size=8, augment=False)
    rows = tx.samples_curve(cfg, tiny_drawing_data, counts=(1, 2), seeds=(0,), method="scratch")
    assert [r["count"] for r in rows] == [1, 2] and [r["n_train"] for r in rows] == [2, 4]
    assert all(0 <= r["accuracy_mean"] <= 1 and len(r["runs"]) == 1 for r in rows)
    assert tx.default_counts(tiny_drawing_data["y_train"]) == [1, 2, 4, 8, 9]


def test_variance_subsets_are_the_nearest_and_farthest_from_the_class_mean():
    from core.families.teach import experiments as tx

    x = np.array([[0.0], [1.0], [-1.0], [10.0], [100.0], [101.0], [99.0], [50.0]])
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    subsets = tx.variance_subsets(x, y, 2)
    assert sorted(x[subsets["low"][:2], 0]) == [0.0, 1.0] and sorted(x[subsets["high"][:2], 0]) == [-1.0, 10.0]
    assert tx.spread_of(x[subsets["high"][:2]]) > tx.spread_of(x[subsets["low"][:2]])


def test_seed_spread_is_generic_and_checks_its_input():
    from core.engine.seed_spread import seed_spread
    from core.engine.training import TrainingError

    out = seed_spread(lambda seed: {"accuracy": 0.5 + 0.1 * seed, "extra": seed}, 3)
    assert out["accuracies"] == pytest.approx([0.5, 0.6, 0.7]) and out["n_runs"] == 3
    assert out["mean"] == pytest.approx(0.6) and out["min"] == 0.5 and out["max"] == pytest.approx(0.7)
    assert out["runs"][2]["extra"] == 2
    with pytest.raises(TrainingError, match="at least 1"):
        seed_spread(lambda s: {"accuracy": 1.0}, 0)
    with pytest.raises(TrainingError, match="no accuracy"):
        seed_spread(lambda s: {"loss": 1.0}, 1)


def test_figures_draw_the_experiment_rows():
    from core.families.teach import figures as fig

    rows = [
        {"count": c, "accuracy_mean": a, "accuracy_min": a - 0.1, "accuracy_max": a, "confidence_mean": 0.9}
        for c, a in ((1, 0.5), (4, 0.8))
    ]
    f = fig.samples_curve_figure(rows)
    assert list(f.data[1].x) == [1, 4] and list(f.data[1].y) == [0.5, 0.8]
    v = fig.variance_figure([{**r, "subset": s, "spread": 1.0} for r in rows for s in ("low", "high")])
    assert {t.name for t in v.data if t.showlegend is not False} == {"samples all alike", "varied samples"}
    s = fig.seed_spread_figure({"runs": [{"seed": 0, "accuracy": 0.7}], "mean": 0.7, "min": 0.7, "max": 0.7})
    assert list(s.data[0].y) == [0.7]
    spec = fig.spectrogram_figure(td.log_mel(sine(440, 1.0)))
    assert np.asarray(spec.data[0].z).shape == (td.N_MELS, td.N_FRAMES)
    with pytest.raises(ValueError, match="frames, mels"):
        fig.spectrogram_figure(np.zeros(3))


# ---------------------------------------------------------------- the job


def test_run_teach_through_the_queue_saves_a_version_with_its_measurements(tmp_path):
    from core.engine.jobs import JobQueue
    from core.families.teach.job import TeachRequest, predict_sample, run_teach, start_teach
    from core.store import models as store

    root = write_project(tmp_path / "project", "image", per_class=7)
    req = TeachRequest("image", str(root), epochs=2, batch_size=8, version_name="mine", owner="s1", method="scratch")
    queue = JobQueue(worker="thread")
    assert pickle.loads(pickle.dumps(functools.partial(run_teach, req))).args == (req,)  # worker processes need it
    job = start_teach(req, "s1", queue)
    assert queue.wait(job, 120) and job.status == "done", job.message
    out = job.result
    assert out["class_names"] == ["a", "b"] and out["n"] == 2  # round(15% of 7) = 1 held out per class
    assert out["per_class"]["a"] == {"accuracy": out["per_class"]["a"]["accuracy"], "n": 1, "train": 6, "held_out": 1}
    assert len(out["history"]["loss"]) == 2 and len(job.epoch_logs) == 2
    assert sum(map(sum, out["confusion"])) == 2 and "held-out" in out["measured_on"]
    for cell, files in out["examples"].items():
        t, p = map(int, cell.split(","))
        assert t != p and all(Path(f).parent.name == out["class_names"][t] for f in files)
    loaded = store.load_model(out["version_path"])
    meta = loaded.metadata
    assert meta["family"] == "teach-image" and meta["kind"] == "image" and meta["class_names"] == ["a", "b"]
    assert meta["metrics"]["accuracy"] == out["accuracy"] and meta["owner"] == "s1" and meta["config"]["epochs"] == 2
    probs = predict_sample(loaded.model, "image", (root / "a" / "0.png").read_bytes())
    assert probs.shape == (2,) and probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert meta["method"] == "scratch" and out["method"] == "scratch"


def test_transfer_is_the_default_and_reports_the_heads_steps_through_the_queue(tmp_path):
    """A sound project by transfer: progress declared before the samples load, one report every REPORT_EVERY head
    steps, the head (on features) saved with its method and input, and predict_sample taking raw WAV bytes."""
    from core.engine.jobs import JobQueue
    from core.families.teach import transfer
    from core.families.teach.job import TeachRequest, predict_sample, start_teach
    from core.store import models as store

    root = write_project(tmp_path / "project", "sound", per_class=7, classes=("tone", td.BACKGROUND))
    req = TeachRequest("sound", str(root), version_name="mine", owner="s1")
    assert req.method == "transfer"
    queue = JobQueue(worker="thread")
    job = start_teach(req, "s1", queue)
    assert "transfer" in job.title
    assert queue.wait(job, 120) and job.status == "done", job.message
    out = job.result
    steps = transfer.TransferConfig().epochs
    assert out["method"] == "transfer" and len(out["history"]["loss"]) == steps == out["epochs_run"]
    assert len(job.epoch_logs) == steps // transfer.REPORT_EVERY and job.progress() == 1.0
    assert out["history"]["loss"][-1] < out["history"]["loss"][0]  # the head learnt
    assert out["accuracy"] == 1.0  # a tone against noise, on the held-out second of each
    loaded = store.load_model(out["version_path"])
    assert loaded.metadata["method"] == "transfer" and "head only" in loaded.metadata["input"]
    assert tuple(loaded.model.inputs[0].shape[1:]) == (transfer.SOUND_FEATURES,)
    probs = predict_sample(loaded.model, "sound", (root / "tone" / "0.wav").read_bytes())
    assert probs.shape == (2,) and probs.argmax() == out["class_names"].index("tone")


def test_a_cancel_during_the_heads_training_saves_nothing(tmp_path):
    from core.families.teach.job import TeachRequest, run_teach

    class CancelAfterFirstReport:
        def __init__(self):
            self.reports, self.finished, self.planned = [], None, None

        def plan(self, epochs, steps_per_epoch):
            self.planned = (epochs, steps_per_epoch)

        def on_epoch_end(self, epoch, logs):
            self.reports.append(epoch)

        def should_stop(self):
            return bool(self.reports)

        def hooks(self, batch_every=None):
            return {"on_epoch_end": self.on_epoch_end, "should_stop": self.should_stop}

        def finish(self, status, message="", curve=None):
            self.finished = (status, message)

    job = CancelAfterFirstReport()
    assert run_teach(TeachRequest("drawing", str(write_project(tmp_path, "drawing", 3))), job) is None
    assert job.finished[0] == "cancelled" and job.reports == [9] and job.planned == (300, 1)
    from core.settings import get_settings

    assert not (get_settings().models_dir / "teach-drawing").exists()


def test_an_unknown_method_is_refused_plainly(tmp_path):
    from core.families.teach.job import TeachRequest, check_teach_request

    with pytest.raises(ValueError, match="Unknown training method 'magic'"):
        check_teach_request(TeachRequest("image", str(write_project(tmp_path, "image", 2)), method="magic"))


def test_check_teach_request_refuses_plainly_before_queueing(tmp_path):
    from core.engine.jobs import JobQueue
    from core.families.teach.job import TeachRequest, check_teach_request, start_teach

    root = write_project(tmp_path, "image", per_class=2)
    bad = {
        "epochs": (TeachRequest("image", str(root), epochs=0), "at least 1"),
        "rate": (TeachRequest("image", str(root), learning_rate=-1.0), "positive"),
        "name": (TeachRequest("image", str(root), version_name="../up"), "not allowed"),
        "kind": (TeachRequest("video", str(root)), "Unknown kind"),
        "folder": (TeachRequest("image", str(tmp_path / "nope")), "no project folder"),
        "background": (TeachRequest("sound", str(write_project(tmp_path / "s", "sound", 1))), "background noise"),
    }
    queue = JobQueue(worker="thread")
    for name, (req, phrase) in bad.items():
        with pytest.raises(ValueError, match=phrase):
            check_teach_request(req)
        with pytest.raises(ValueError, match=phrase):
            start_teach(req, f"session-{name}", queue)
        assert queue.job_for(f"session-{name}") is None, name


def test_a_cancel_before_training_saves_nothing(tmp_path):
    from core.families.teach.job import TeachRequest, run_teach

    class Cancelled:
        def __init__(self):
            self.finished = None

        def plan(self, epochs, steps_per_epoch):
            pass

        def should_stop(self):
            return True

        def finish(self, status, message="", curve=None):
            self.finished = (status, message)

    job = Cancelled()
    assert run_teach(TeachRequest("drawing", str(write_project(tmp_path, "drawing", 2))), job) is None
    assert job.finished[0] == "cancelled"
    from core.settings import get_settings

    assert not (get_settings().models_dir / "teach-drawing").exists()


def test_predict_sample_for_sound_averages_the_seconds_and_drawing_takes_the_canvas():
    from core.families.teach.job import predict_sample, sample_inputs
    from core.families.teach.model import build_teach_model

    assert sample_inputs("sound", td.encode_wav(sine(440, 2.5))).shape == (3, td.N_FRAMES, td.N_MELS)
    model = build_teach_model("sound", 3)
    clip = sine(440, 2.0)
    rows = sample_inputs("sound", clip)
    expected = np.asarray(model(rows, training=False)).mean(axis=0)
    np.testing.assert_allclose(predict_sample(model, "sound", clip), expected, atol=1e-6)
    drawing = predict_sample(build_teach_model("drawing", 2), "drawing", canvas())
    assert drawing.shape == (2,) and drawing.sum() == pytest.approx(1.0, abs=1e-5)


def test_a_large_jpeg_is_decoded_at_a_reduced_scale_to_the_same_picture():
    """libjpeg's draft decode (1/2 to 1/8 scale, at least 4x the final size) gives the full decode's 32x32 picture."""
    rng = np.random.default_rng(0)
    pixels = (rng.random((1200, 1600, 3)) * 40 + np.linspace(0, 200, 1600)[None, :, None]).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=90)
    fast = td.decode_image(buf.getvalue())
    full = Image.open(io.BytesIO(buf.getvalue()))
    full.load()  # every pixel, no draft
    box = (200, 0, 1400, 1200)  # the centre square
    reference = full.convert("RGB").resize((32, 32), Image.Resampling.BILINEAR, box=box, reducing_gap=2.0)
    assert fast.shape == (32, 32, 3)
    np.testing.assert_allclose(fast, np.asarray(reference, np.float32) / 255.0, atol=3 / 255)
