"""The model store: TF.js layers format, round trips, atomic writes, safe names, and refusal of bad files."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from core.families.text.config import TextConfig
from core.families.text.model import build_text_model
from core.store import blobs, export, leftovers
from core.store import models as store
from core.store import topology as store_topology
from tests.helpers.store import tiny_color_model, which


@pytest.fixture
def color_model():
    return tiny_color_model()


def test_model_json_has_the_tfjs_keys_and_little_endian_weights(tmp_path, color_model):
    folder = store.save_model(color_model, tmp_path / "m", {"class_names": ["a"]})
    data = json.loads((folder / "model.json").read_text())
    assert data["format"] == "layers-model"
    for key in ("generatedBy", "convertedBy", "modelTopology", "weightsManifest", "userDefinedMetadata"):
        assert key in data
    assert data["userDefinedMetadata"]["class_names"] == ["a"]
    assert "keras" in data["userDefinedMetadata"]["versions"]
    raw = (folder / store.SHARD_NAME).read_bytes()
    expected = b"".join(np.asarray(v.numpy(), dtype="<f4").tobytes() for _, v in store.named_weights(color_model))
    assert raw == expected
    names = [w["name"] for w in data["weightsManifest"][0]["weights"]]
    assert names[:2] == ["hidden/kernel", "hidden/bias"]


def test_topology_is_keras2_style(color_model):
    topo = store_topology.to_tfjs_topology(color_model)
    text = json.dumps(topo)
    assert '"module"' not in text and '"registered_name"' not in text and "DTypePolicy" not in text
    first = topo["config"]["layers"][0]["config"]
    assert first["batch_input_shape"] == [None, 3]
    assert first["dtype"] == "float32"


@pytest.mark.parametrize("kind", ["dense", "lstm", "conv"])
def test_round_trip_gives_identical_predictions(tmp_path, kind, color_model):
    import keras

    if kind == "dense":
        model, x = color_model, np.random.default_rng(0).uniform(0, 255, (5, 3)).astype("float32")
    elif kind == "lstm":
        model, x = build_text_model(11, TextConfig.tiny()), np.random.default_rng(0).integers(0, 11, (2, 9))
    else:
        model = keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                keras.layers.Conv2D(4, 3, name="conv_1"),
                keras.layers.MaxPooling2D(name="pool_1"),
                keras.layers.Flatten(name="flatten"),
                keras.layers.Dense(3, activation="softmax", name="dense_out"),
            ]
        )
        x = np.random.default_rng(0).random((2, 8, 8, 1)).astype("float32")
    loaded = store.load_model(store.save_model(model, tmp_path / kind))
    np.testing.assert_array_equal(np.asarray(loaded.model(x)), np.asarray(model(x)))


def test_save_is_atomic_when_writing_fails(tmp_path, color_model, monkeypatch):
    folder = store.save_model(color_model, tmp_path / "m", {"run": 1})
    before = (folder / "model.json").read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store, "fsync_path", boom)
    with pytest.raises(OSError):
        store.save_model(color_model, folder, {"run": 2})
    assert (folder / "model.json").read_bytes() == before  # the previous model is intact
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no temp folder left behind


def test_interrupted_save_is_never_listed(tmp_path, color_model):
    version = store.save_version(color_model, "colors", "good", models_dir=tmp_path)
    half = tmp_path / "colors" / ".tmp-20990101-000000-half-1234"
    half.mkdir()
    (half / "model.json").write_text("{")
    listed = store.list_versions("colors", models_dir=tmp_path)
    assert [v.version_id for v in listed] == [version.version_id]


@pytest.mark.parametrize("name", ["../evil", "..", "a/b", "", "x" * 65, "/abs", "name with space", ".hidden", "a\\b"])
def test_bad_version_names_are_rejected(tmp_path, color_model, name):
    with pytest.raises(store_topology.StoreError):
        store.save_version(color_model, "colors", name, models_dir=tmp_path)
    assert not any(tmp_path.rglob("model.json"))


def test_versions_never_touch_shipped_models(tmp_path, color_model):
    shipped = store.shipped_model_dir("colors") / "model.json"
    before = shipped.read_bytes()
    v = store.save_version(color_model, "colors", "mine", models_dir=tmp_path)
    assert v.path.is_relative_to(tmp_path)
    assert shipped.read_bytes() == before
    store.delete_version("colors", v.version_id, models_dir=tmp_path)
    assert store.list_versions("colors", models_dir=tmp_path) == []


def test_a_version_deleted_elsewhere_is_not_listed_even_with_its_cache_folder_left(tmp_path, color_model):
    keep = store.save_version(color_model, "colors", "keep", models_dir=tmp_path)
    gone = store.save_version(color_model, "colors", "gone", models_dir=tmp_path)
    assert blobs.delete_version("colors", gone.version_id)  # another process deletes it: this cache keeps the folder
    assert (gone.path / store.MODEL_JSON).is_file()
    assert [v.version_id for v in store.list_versions("colors", models_dir=tmp_path)] == [keep.version_id]


def _corrupt(folder, edit):
    data = json.loads((folder / "model.json").read_text())
    edit(data)
    (folder / "model.json").write_text(json.dumps(data))


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda f: (f / "model.json").write_text('{"format": "layers-mo'), "not valid JSON"),
        (lambda f: (f / "model.json").write_text("[1, 2]"), "JSON object"),
        (lambda f: _corrupt(f, lambda d: d.pop("weightsManifest")), "lacks the key"),
        (lambda f: (f / store.SHARD_NAME).write_bytes((f / store.SHARD_NAME).read_bytes()[:-4]), "shorter"),
        (lambda f: (f / store.SHARD_NAME).write_bytes((f / store.SHARD_NAME).read_bytes() + b"xx"), "longer"),
        (lambda f: (f / store.SHARD_NAME).unlink(), "missing"),
        (
            lambda f: _corrupt(f, lambda d: d["modelTopology"]["config"]["layers"][1].update(class_name="Lambda")),
            "Lambda",
        ),
        (
            lambda f: _corrupt(f, lambda d: d["modelTopology"]["config"]["layers"][1].update(class_name="Evil")),
            "unknown layer",
        ),
        (
            lambda f: _corrupt(f, lambda d: d["weightsManifest"][0].update(paths=["../../etc/passwd"])),
            "plain file name",
        ),
        (
            lambda f: _corrupt(f, lambda d: d["weightsManifest"][0]["weights"][0].update(dtype="float16")),
            "unsupported dtype",
        ),
        (
            lambda f: _corrupt(f, lambda d: d["weightsManifest"][0]["weights"][0].update(shape=[2**40, 2**40])),
            "elements",
        ),
        (
            lambda f: _corrupt(
                f,
                lambda d: d["modelTopology"]["config"]["layers"][1]["config"].update(
                    activation={"class_name": "function", "config": "os.system"}
                ),
            ),
            "not allowed",
        ),
    ],
)
def test_bad_model_files_are_refused_clearly(tmp_path, color_model, damage, message):
    folder = store.save_model(color_model, tmp_path / "m")
    damage(folder)
    with pytest.raises(store_topology.StoreError, match=message):
        store.load_model(folder)
    # the shipped model still loads
    assert store.load_model(store.shipped_model_dir("colors")).model is not None


def test_missing_model_folder(tmp_path):
    with pytest.raises(store_topology.StoreError, match="no model folder"):
        store.load_model(tmp_path / "nope")


def test_zip_holds_model_json_and_weights(tmp_path, color_model):
    import io
    import zipfile

    folder = store.save_model(color_model, tmp_path / "m")
    names = zipfile.ZipFile(io.BytesIO(export.zip_model_folder(folder))).namelist()
    assert sorted(names) == sorted(["model.json", store.SHARD_NAME])


def test_user_models_dir_follows_the_environment(tmp_path, monkeypatch, color_model):
    monkeypatch.setenv("MLX_USER_MODELS_DIR", str(tmp_path / "elsewhere"))
    v = store.save_version(color_model, "colors", "envtest")
    assert v.path.parent.parent == (tmp_path / "elsewhere").resolve()
    assert os.path.isfile(v.path / "model.json")


# ---------------------------------------------------------------- issue 13: atomic replace, bounded cost, broken weights


def _two_models(tmp_path, color_model):
    """A folder holding model A, and the files of model B (different weights) ready to replace it."""
    import keras

    folder = store.save_model(color_model, tmp_path / "m", {"which": "old"})
    other = keras.models.clone_model(color_model)
    other.set_weights([w + 1.0 for w in color_model.get_weights()])
    new_json, new_shard = store.model_to_files(other, {"which": "new"})
    return folder, new_json, new_shard


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2-exchange", "two-renames"])
@pytest.mark.parametrize("step", ["written", "exchanged", "moved-aside", "moved-in"])
def test_a_failure_between_the_steps_of_a_replace_leaves_the_old_or_the_new_model(
    tmp_path, color_model, monkeypatch, exchange, step
):
    folder, new_json, new_shard = _two_models(tmp_path, color_model)
    if not exchange:
        monkeypatch.setattr(store, "_exchange", lambda a, b: False)
    steps = []

    def fail(name):
        steps.append(name)
        if name == step:
            raise OSError("injected failure")

    monkeypatch.setattr(store, "_STEP_HOOK", fail)
    try:
        store.write_model_folder(folder, new_json, new_shard)
    except OSError as exc:
        assert str(exc) == "injected failure"
    monkeypatch.setattr(store, "_STEP_HOOK", None)
    expected = "new" if step in {"exchanged", "moved-in"} else "old"
    if step not in steps:  # this step belongs to the other strategy
        expected = "new"
    assert which(folder) == expected
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # nothing left behind


def test_replacing_an_empty_destination_is_refused(color_model):
    model_json, shard = store.model_to_files(color_model)
    with pytest.raises(store_topology.StoreError, match="destination folder is empty"):
        store.write_model_folder("", model_json, shard)


def test_building_keeps_each_layers_own_initializers(color_model):
    """Weights are created as zeros while building (the file's replace them), but a retrain that re-creates a layer
    from its config must still get the file's initializer, not Zeros."""
    model = build_text_model(11, TextConfig.tiny())
    rebuilt = store_topology.build_model_from_topology(store_topology.to_tfjs_topology(model))
    for old, new in zip(model.layers, rebuilt.layers, strict=True):
        assert store_topology._to_keras2(new.get_config()) == store_topology._to_keras2(old.get_config())
    kernels = [v for name, v in store.named_weights(rebuilt) if name.endswith(("kernel", "embeddings"))]
    assert len(kernels) == 4 and all(not np.any(v.numpy()) for v in kernels)  # zeros: no Orthogonal or Glorot ran


def _dense_topology(units: int, inputs: int = 3) -> dict:
    return {
        "class_name": "Sequential",
        "config": {
            "name": "big",
            "layers": [
                {"class_name": "Dense", "config": {"name": "d", "units": units, "batch_input_shape": [None, inputs]}}
            ],
        },
    }


def test_a_topology_declaring_billions_of_parameters_is_refused_before_building(monkeypatch):
    import resource
    import time

    before_cpu, before_rss = time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(store_topology.StoreError, match="at most 10,000,000"):
        store_topology.build_model_from_topology(_dense_topology(100_000, 100_000))  # 10^10 parameters = 40 GB
    assert time.process_time() - before_cpu < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_rss < 100 * 1024  # KB
    monkeypatch.setenv("MLX_MAX_MODEL_PARAMS", "100")
    with pytest.raises(store_topology.StoreError, match="declare 400 parameters"):
        store_topology.build_model_from_topology(_dense_topology(100))
    assert store_topology.build_model_from_topology(_dense_topology(24)).count_params() == 96


def test_estimated_cost_equals_keras_parameter_count():
    """The estimate is what the caps are checked against, so it must be Keras' own count for every layer kind."""
    import keras

    models = [
        build_text_model(11, TextConfig.tiny()),
        keras.Sequential(
            [
                keras.Input((12, 12, 2)),
                keras.layers.Conv2D(4, 3, strides=2, padding="same", name="c1"),
                keras.layers.AveragePooling2D(2, name="p1"),
                keras.layers.Conv2D(3, (2, 1), use_bias=False, name="c2"),
                keras.layers.GlobalAveragePooling2D(name="g"),
                keras.layers.Reshape((3, 1), name="r"),
                keras.layers.Flatten(name="f"),
                keras.layers.Dense(5, name="d"),
            ]
        ),
    ]
    for model in models:
        topology = store_topology.to_tfjs_topology(model)
        layers = store_topology.topology_layers(topology)
        cost = store_topology.estimate_cost(layers, layers[0]["config"]["batch_input_shape"])
        assert cost.params == model.count_params()


def test_non_finite_weights_are_refused_by_load(tmp_path, color_model):
    folder = store.save_model(color_model, tmp_path / "m")
    shard = folder / store.SHARD_NAME
    raw = bytearray(shard.read_bytes())
    raw[0:4] = np.array([np.nan], "<f4").tobytes()
    shard.write_bytes(bytes(raw))
    with pytest.raises(store_topology.StoreError, match=r"NaN, infinity.*hidden/kernel \(1 of"):
        store.load_model(folder)


def test_a_tensor_listed_twice_is_refused(tmp_path, color_model):
    folder = store.save_model(color_model, tmp_path / "m")
    _corrupt(folder, lambda d: d["weightsManifest"][0]["weights"][1].update(name="hidden/kernel"))
    with pytest.raises(store_topology.StoreError, match="listed twice"):
        store.load_model(folder)


# ---------------------------------------------------------------- leftovers of killed saves (issue 25)


def _leftover(parent: Path, name: str, age_s: float) -> Path:
    folder = parent / name
    folder.mkdir(parents=True)
    (folder / store.SHARD_NAME).write_bytes(b"\0" * 64)
    then = os.path.getmtime(folder) - age_s
    os.utime(folder, (then, then))
    return folder


def test_old_leftovers_of_killed_saves_are_cleaned_at_start_and_one_being_written_never(
    tmp_path, color_model, monkeypatch
):
    version = store.save_version(color_model, "colors", "keep", models_dir=tmp_path)
    family = tmp_path / "colors"
    killed = _leftover(family, ".tmp-20990101-000000-killed-1234", 2 * leftovers.LEFTOVER_AGE_S)
    deleting = _leftover(family, ".deleted-old-abcdef", 2 * leftovers.LEFTOVER_AGE_S)
    young = _leftover(family, ".tmp-20990101-000000-young-5678", 0)
    slow = _leftover(family, ".tmp-20990101-000000-slow-9abc", 2 * leftovers.LEFTOVER_AGE_S)
    writer = leftovers.hold(slow)  # a save still being written (an flock held by its writer), however long it takes
    try:
        monkeypatch.setattr(leftovers, "_CLEANED", set())  # a fresh server or worker process
        listed = store.list_versions("colors", models_dir=tmp_path)
        assert [v.version_id for v in listed] == [version.version_id]
        assert not killed.exists() and not deleting.exists()
        assert young.exists() and slow.exists()
    finally:
        os.close(writer)
    assert leftovers.clean_leftovers(family) == [slow.name]  # its writer is gone now: cleaned like any other
    assert young.exists() and (version.path / "model.json").is_file()


def test_a_failed_save_cleans_old_leftovers_beside_it(tmp_path, color_model, monkeypatch):
    killed = _leftover(tmp_path, ".tmp-m-deadbeef", 2 * leftovers.LEFTOVER_AGE_S)

    def disk_full(path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "fsync_path", disk_full)
    with pytest.raises(OSError):
        store.save_model(color_model, tmp_path / "m", {"run": 1})
    assert [p.name for p in tmp_path.iterdir()] == []  # its own temp folder and the old leftover are both gone
    assert not killed.exists()
