"""The inspector: byte offsets against NumPy, hex decoding, explicit/default flags, the diff, every bad input, export."""

from __future__ import annotations

import json
import math
import re
import struct
import zipfile
from io import BytesIO

import numpy as np
import pytest

from core.__main__ import main as cli
from core.families.text.config import TextConfig
from core.families.text.model import build_text_model
from core.inspector import config as inspect_config
from core.inspector import figures as inspect_figures
from core.inspector import graph as inspect_graph
from core.inspector import inspect as inspector
from core.inspector import values as tensor_values
from core.settings import SHIPPED_MODELS_DIR
from core.store import export, topology
from core.store import models as store


def conv_model():
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="conv_1"),
            keras.layers.MaxPooling2D(name="pool_1"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(5, activation="softmax", name="dense_out"),
        ],
        name="tiny_conv",
    )


@pytest.fixture
def conv_folder(tmp_path):
    return store.save_model(conv_model(), tmp_path / "conv")


def status(inspection: inspector.Inspection, fragment: str) -> inspector.Check:
    return next(c for c in inspection.checks if fragment in c.title)


def failures(inspection: inspector.Inspection) -> str:
    return " ".join(c.detail for c in inspection.checks if c.status == inspector.FAIL)


# ---------------------------------------------------------------- layers


def test_layer_table_matches_model_summary(conv_folder, monkeypatch):
    inspection = inspector.inspect_folder(conv_folder)
    assert inspection.ok, failures(inspection)
    monkeypatch.setenv("COLUMNS", "200")  # so rich prints the whole summary table
    lines = []
    store.load_model(conv_folder).model.summary(print_fn=lambda s, **_: lines.append(s))
    summary = {
        m.group(1): (m.group(3).strip(), int(m.group(4).replace(",", "")))
        for m in re.finditer(r"│ (\S+) \((\w+)\)\s*│ (.+?)│\s+([\d,]+) │", "\n".join(lines))
    }
    assert len(summary) == 4
    for row in inspection.layers:
        shape, params = summary[row["name"]]
        assert row["params"] == params
        assert row["output_shape"] == shape
    assert sum(r["params"] for r in inspection.layers) == 4 * 9 + 4 + (4 * 4) * 5 + 5


def test_explicit_and_default_values_on_a_known_layer(conv_folder):
    flags = {v.key: v for v in inspector.inspect_folder(conv_folder).configs["conv_1"]}
    for key in ("name", "filters", "kernel_size", "strides", "padding", "activation"):
        assert flags[key].explicit, key
    for key in ("dilation_rate", "use_bias", "kernel_initializer", "bias_initializer", "groups", "trainable"):
        assert not flags[key].explicit, key
        assert flags[key].source == "Keras default"
    assert flags["strides"].default == [1, 1] or tuple(flags["strides"].default) == (1, 1)


def test_the_text_models_explicit_recurrent_initializer_is_found(tmp_path):
    folder = store.save_model(build_text_model(7, TextConfig.tiny()), tmp_path / "text")
    flags = {v.key: v for v in inspector.inspect_folder(folder).configs["lstm"]}
    assert flags["recurrent_initializer"].explicit  # glorot_uniform instead of the Orthogonal default
    assert flags["return_sequences"].explicit and flags["units"].explicit
    assert not flags["kernel_initializer"].explicit and not flags["unit_forget_bias"].explicit


def test_tfjs_style_values_that_mean_the_keras_default_count_as_defaults():
    glorot_as_tfjs_writes_it = {
        "class_name": "VarianceScaling",
        "config": {"scale": 1, "mode": "fan_avg", "distribution": "uniform", "seed": None},
    }
    entry = {
        "class_name": "Dense",
        "config": {
            "name": "d",
            "units": 3,
            "kernel_initializer": glorot_as_tfjs_writes_it,
            "activity_regularizer": None,
        },
    }
    flags = {v.key: v for v in inspect_config.config_flags(entry)}
    assert not flags["kernel_initializer"].explicit and not flags["activity_regularizer"].explicit
    assert flags["units"].explicit
    he = {"class_name": "VarianceScaling", "config": {"scale": 2.0, "mode": "fan_in", "distribution": "uniform"}}
    entry["config"]["kernel_initializer"] = he
    assert {v.key: v for v in inspect_config.config_flags(entry)}["kernel_initializer"].explicit
    assert inspect_config.explain_initializer(he, (4, 4)).startswith(
        "VarianceScaling(2.0, fan_in, uniform) is He uniform"
    )


def test_auto_names_count_as_defaults():
    assert inspect_config._auto_name("conv2d_3", "Conv2D")
    assert inspect_config._auto_name("dense_Dense1", "Dense")  # TF.js's own naming
    assert not inspect_config._auto_name("conv_1", "Conv2D")


def test_initializer_sentences_use_the_weight_shape():
    text = inspect_config.explain_initializer({"class_name": "GlorotUniform", "config": {}}, (3, 32))
    assert f"{math.sqrt(6 / 35):.4g}" in text and "fan_in 3" in text
    conv = inspect_config.explain_initializer({"class_name": "HeNormal", "config": {}}, (3, 3, 2, 8))
    assert f"{math.sqrt(2 / 18):.4g}" in conv  # fan_in = 3 * 3 * 2
    assert "orthogonal" in inspect_config.explain_initializer({"class_name": "Orthogonal", "config": {}}).lower()


# ---------------------------------------------------------------- bytes


def test_byte_offsets_match_numpy(conv_folder):
    inspection = inspector.inspect_folder(conv_folder)
    model = store.load_model(conv_folder).model
    raw = (conv_folder / store.SHARD_NAME).read_bytes()
    offset = 0
    for row, (name, variable) in zip(inspection.manifest, store.named_weights(model), strict=True):
        array = np.asarray(variable.numpy(), dtype="<f4")
        assert row["name"] == name and row["shape"] == list(array.shape)
        assert (row["offset"], row["length"]) == (offset, array.nbytes)
        np.testing.assert_array_equal(
            np.frombuffer(raw[offset : offset + array.nbytes], "<f4").reshape(array.shape), array
        )
        offset += array.nbytes
    assert offset == len(raw)


def test_hex_rows_decode_little_endian_float32(tmp_path):
    model = conv_model()
    kernel = model.get_layer("conv_1").kernel
    values = np.asarray(kernel.numpy())
    values.flat[0], values.flat[1] = 1.0, -2.5  # known bit patterns: 0x3f800000, 0xc0200000
    kernel.assign(values)
    inspection = inspector.inspect_folder(store.save_model(model, tmp_path / "m"))
    rows = inspector.hex_rows(inspection, "conv_1/kernel", count=6)
    assert rows[0]["hex"] == "00 00 80 3f" and rows[0]["decoded"] == 1.0
    assert rows[1]["hex"] == "00 00 20 c0" and rows[1]["decoded"] == -2.5
    for i, row in enumerate(rows):
        assert row["byte_offset"] == 4 * i
        assert row["decoded"] == pytest.approx(float(values.ravel()[i]), abs=0)
        assert bytes.fromhex(row["hex"].replace(" ", "")) == struct.pack("<f", values.ravel()[i])
        assert row["keras"] == row["decoded"]  # the loaded Keras model holds the same number


def test_stats_histogram_and_conv_mosaic():
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(3, 3, 2, 4)).astype("float32")
    stats = tensor_values.tensor_stats(kernel)
    assert stats["min"] == pytest.approx(kernel.min()) and stats["std"] == pytest.approx(kernel.std(), rel=1e-5)
    counts, edges = tensor_values.tensor_histogram(kernel, bins=10)
    assert counts.sum() == kernel.size and len(edges) == 11
    matrix, caption = tensor_values.tensor_matrix(kernel)
    assert matrix.shape == (2 * 4 - 1, 4 * 4 - 1) and "3×3" in caption
    np.testing.assert_allclose(matrix[4:7, 8:11], kernel[:, :, 1, 2])
    assert np.isnan(matrix[3]).all()  # the gap between input-channel rows
    first_layer = rng.normal(size=(3, 3, 1, 5))
    grid, caption = tensor_values.tensor_matrix(first_layer)  # one input channel: 5 filters wrap into 2 rows of 3
    assert grid.shape == (7, 11) and "5 filters" in caption
    np.testing.assert_allclose(grid[4:7, 4:7], first_layer[:, :, 0, 4])
    big, note = tensor_values.tensor_matrix(np.zeros((600, 600)), max_cells=10_000)
    assert big.size <= 10_000 and "every" in note


# ---------------------------------------------------------------- diff


def test_diff_reports_l2_and_relative_change():
    before = {"a/kernel": np.ones((2, 2), "float32"), "a/bias": np.zeros(2, "float32"), "b/kernel": np.ones(3)}
    after = {
        "a/kernel": np.array([[1, 1], [1, 4]], "float32"),
        "a/bias": np.zeros(2, "float32"),
        "b/kernel": np.ones(4),
    }
    rows = {r["name"]: r for r in tensor_values.diff_arrays(before, after)}
    assert rows["a/kernel"]["l2_change"] == pytest.approx(3.0)
    assert rows["a/kernel"]["relative_change"] == pytest.approx(3.0 / 2.0)
    assert rows["a/kernel"]["max_abs_change"] == pytest.approx(3.0)
    assert rows["a/bias"]["l2_change"] == 0.0 and rows["a/bias"]["relative_change"] == 0.0
    assert rows["b/kernel"]["l2_change"] is None and rows["b/kernel"]["note"] == "shapes differ"


def test_diff_of_two_saved_versions(tmp_path):
    model = conv_model()
    first = store.save_version(model, "shapes", "before", models_dir=tmp_path)
    bias = model.get_layer("dense_out").bias
    bias.assign(bias.numpy() + 0.5)
    second = store.save_version(model, "shapes", "after", models_dir=tmp_path)
    rows = {r["name"]: r for r in inspector.diff_folders(first.path, second.path)}
    assert rows["dense_out/bias"]["l2_change"] == pytest.approx(0.5 * math.sqrt(5), rel=1e-6)
    assert rows["conv_1/kernel"]["l2_change"] == 0.0
    (tmp_path / "a..b").mkdir()  # a stray folder the store would never write is skipped, not fatal
    labels = [c.label for c in inspector.model_choices(models_dir=tmp_path)]
    assert f"shapes · {second.version_id}" in labels and f"shapes · {first.version_id}" in labels


# ---------------------------------------------------------------- bad inputs


def corrupted(folder, edit_json=None, bin_bytes=None):
    files = inspector.read_folder_files(folder)
    if edit_json is not None:
        data = json.loads(files.model_json_bytes)
        result = edit_json(data)
        files.model_json_bytes = result if isinstance(result, bytes) else json.dumps(data).encode()
    if bin_bytes is not None:
        files.shards[store.SHARD_NAME] = bin_bytes(files.shards[store.SHARD_NAME])
    return inspector.inspect_files(files)


def set_config(data, index, **changes):
    data["modelTopology"]["config"]["layers"][index]["config"].update(changes)


def set_layer(data, index, **changes):
    data["modelTopology"]["config"]["layers"][index].update(changes)


def set_weight(data, index, **changes):
    data["weightsManifest"][0]["weights"][index].update(changes)


BAD_INPUTS = {
    "truncated bin": (None, lambda b: b[:-6], "shard file sizes", "truncated"),
    "over-long bin": (None, lambda b: b + b"\0" * 8, "shard file sizes", "8 extra bytes"),
    "not JSON": (lambda d: b'{"format": "layers-model", "modelTo', None, "JSON with", "not valid JSON"),
    "lacks keys": (lambda d: d.pop("weightsManifest"), None, "JSON with", "lacks the key(s) weightsManifest"),
    "unknown layer class": (
        lambda d: set_layer(d, 0, class_name="Conv3DTranspose"),
        None,
        "layer class is allowed",
        "unknown layer class 'Conv3DTranspose'",
    ),
    "Lambda layer": (
        lambda d: set_layer(d, 1, class_name="Lambda", config={"name": "evil", "function": "open('/tmp/x','w')"}),
        None,
        "layer class is allowed",
        "Lambda layer",
    ),
    "path with ../": (
        lambda d: d["weightsManifest"][0].update(paths=["../../etc/passwd"]),
        None,
        "manifest is well formed",
        "must be a plain file name",
    ),
    "element-count overflow": (
        lambda d: set_weight(d, 0, shape=[2**40, 2**40, 2**40]),
        None,
        "manifest is well formed",
        "elements",
    ),
    "unsupported dtype": (
        lambda d: set_weight(d, 0, dtype="complex64"),
        None,
        "manifest is well formed",
        "unsupported dtype 'complex64'",
    ),
    "activation that is not a name": (
        lambda d: d["modelTopology"]["config"]["layers"][0]["config"].update(activation=["relu"]),
        None,
        "layer class is allowed",
        "unknown activation",
    ),
    "pooling strides of 0": (
        lambda d: d["modelTopology"]["config"]["layers"][1]["config"].update(strides=[0, 0]),
        None,
        "options are ones Keras accepts",  # refused from the config, before Keras divides by zero while building
        "strides must be a whole number from 1",
    ),
    "dtype that is not a name": (lambda d: set_weight(d, 0, dtype=[]), None, "manifest is well formed", "unsupported"),
    # issue 13: valid-looking but broken models, and a few hundred bytes that declare gigabytes
    "a NaN weight": (None, lambda raw: np.array([np.nan], "<f4").tobytes() + raw[4:], "finite number", "NaN"),
    "an infinite weight": (None, lambda raw: raw[:-4] + np.array([np.inf], "<f4").tobytes(), "finite", "infinity"),
    "a tensor listed twice": (
        lambda d: set_weight(d, 1, name=d["weightsManifest"][0]["weights"][0]["name"]),
        None,
        "manifest is well formed",
        "listed twice",
    ),
    "two layers with one name": (
        lambda d: set_config(d, 1, name=d["modelTopology"]["config"]["layers"][0]["config"]["name"]),
        None,
        "layer class is allowed",
        "Two layers are named",
    ),
    "a Dense layer of a billion units": (
        lambda d: set_config(d, -1, units=1_000_000_000),
        None,
        "declared size",
        "this server",
    ),
    "a huge input image": (
        lambda d: set_config(d, 0, batch_input_shape=[None, 3000, 3000, 1]),
        None,
        "declared size",
        "values per sample",
    ),
    "negative units": (lambda d: set_config(d, -1, units=-5), None, "options are ones Keras accepts", "units must be"),
    "channels_first": (
        lambda d: set_config(d, 0, data_format="channels_first"),
        None,
        "declared size",
        "channels_last",
    ),
    "wrong shape": (
        lambda d: set_weight(d, 3, shape=[4]),
        None,
        "matches a topology weight",
        "dense_out/bias has shape [4] in the manifest but [5]",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_every_bad_input_is_a_failed_check_with_a_reason(case, conv_folder):
    edit_json, edit_bin, check_title, message = BAD_INPUTS[case]
    inspection = corrupted(conv_folder, edit_json, edit_bin)
    assert not inspection.ok
    check = status(inspection, check_title)
    assert check.status == inspector.FAIL
    assert message in check.detail
    assert inspection.model is None  # nothing built from a refused file is ever handed out
    json.dumps(inspection.to_json())  # the CLI can always print it


def test_refused_lambda_never_runs(tmp_path, conv_folder):
    marker = tmp_path / "ran"
    code = f"__import__('pathlib').Path({str(marker)!r}).write_text('x')"
    inspection = corrupted(
        conv_folder, lambda d: set_layer(d, 0, class_name="Lambda", config={"name": "x", "function": code})
    )
    assert status(inspection, "layer class").status == inspector.FAIL
    assert not marker.exists()


def test_a_path_with_dotdot_is_never_read(tmp_path):
    folder = store.save_model(conv_model(), tmp_path / "models" / "m")
    (tmp_path / "models" / "secret.bin").write_bytes(b"secret")
    data = json.loads((folder / store.MODEL_JSON).read_text())
    data["weightsManifest"][0]["paths"] = ["../secret.bin"]
    (folder / store.MODEL_JSON).write_text(json.dumps(data))
    files = inspector.read_folder_files(folder)
    assert files.shards == {}
    assert "plain file name" in failures(inspector.inspect_files(files))


def test_cli_prints_json_and_exit_codes(conv_folder, tmp_path, capsys):
    assert cli(["inspect", str(conv_folder)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] and [r["name"] for r in out["layers"]] == ["conv_1", "pool_1", "flatten", "dense_out"]
    assert out["manifest"][1]["offset"] == 3 * 3 * 1 * 4 * 4
    assert out["config"]["conv_1"]["strides"]["source"] == "set explicitly"
    assert out["config"]["conv_1"]["use_bias"]["source"] == "Keras default"
    assert all(c["status"] == "pass" for c in out["checks"])

    shard = conv_folder / store.SHARD_NAME
    shard.write_bytes(shard.read_bytes()[:-10])
    assert cli(["inspect", str(conv_folder)]) == 1
    out = json.loads(capsys.readouterr().out)
    assert not out["ok"] and any("truncated" in c["detail"] for c in out["checks"])

    assert cli(["inspect", str(tmp_path / "nowhere")]) == 2
    assert "no model folder" in capsys.readouterr().err


def test_uploads_are_size_capped_and_a_renamed_bin_is_matched(conv_folder, monkeypatch):
    json_bytes = (conv_folder / store.MODEL_JSON).read_bytes()
    shard = (conv_folder / store.SHARD_NAME).read_bytes()
    files = inspector.files_from_uploads(json_bytes, {"my-weights.bin": shard})
    assert list(files.shards) == [store.SHARD_NAME] and files.notes
    assert inspector.inspect_files(files).ok
    monkeypatch.setenv("MLX_MAX_UPLOAD_MB", "0.0001")
    with pytest.raises(topology.StoreError, match="upload limit"):
        inspector.files_from_uploads(json_bytes, {"w.bin": shard})


def test_uploaded_file_names_cannot_pick_a_folder(conv_folder):
    files = inspector.files_from_uploads(
        (conv_folder / store.MODEL_JSON).read_bytes(),
        {"../../x.bin": b"1", store.SHARD_NAME: (conv_folder / store.SHARD_NAME).read_bytes()},
    )
    assert set(files.shards) == {"x.bin", store.SHARD_NAME}


# ---------------------------------------------------------------- export


def test_export_reloads_with_identical_predictions(conv_folder, tmp_path):
    out = tmp_path / "exported"
    result = export.export_tfjs(conv_folder, out)
    assert result["bytes"] == (conv_folder / store.SHARD_NAME).stat().st_size
    assert (out / store.SHARD_NAME).read_bytes() == (conv_folder / store.SHARD_NAME).read_bytes()
    x = np.random.default_rng(0).random((2, 8, 8, 1)).astype("float32")
    np.testing.assert_array_equal(
        np.asarray(store.load_model(out).model(x)), np.asarray(store.load_model(conv_folder).model(x))
    )


def test_export_normalises_an_int32_first_layer_dtype(tmp_path):
    folder = store.save_model(build_text_model(7, TextConfig.tiny()), tmp_path / "text")
    data = json.loads((folder / store.MODEL_JSON).read_text())
    data["modelTopology"]["config"]["layers"][0]["config"]["dtype"] = "int32"  # what TF.js cannot load
    (folder / store.MODEL_JSON).write_text(json.dumps(data))
    export.export_tfjs(folder, tmp_path / "out")
    first = json.loads((tmp_path / "out" / store.MODEL_JSON).read_text())["modelTopology"]["config"]["layers"][0]
    assert first["config"]["dtype"] == "float32"


def test_export_refuses_destinations_it_would_wipe(conv_folder, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep me")
    with pytest.raises(topology.StoreError, match="not empty"):
        export.export_tfjs(conv_folder, busy)
    assert (busy / "notes.txt").read_text() == "keep me"
    with pytest.raises(topology.StoreError, match="differ"):
        export.export_tfjs(conv_folder, conv_folder)
    with pytest.raises(topology.StoreError, match="shipped"):
        export.export_tfjs(conv_folder, SHIPPED_MODELS_DIR / "exported")
    with pytest.raises(topology.StoreError):
        export.export_tfjs(tmp_path / "missing", tmp_path / "out")


def test_export_zip_holds_the_two_files(conv_folder):
    with zipfile.ZipFile(BytesIO(export.tfjs_zip(conv_folder))) as zf:
        assert sorted(zf.namelist()) == sorted([store.MODEL_JSON, store.SHARD_NAME])
        assert zf.read(store.SHARD_NAME) == (conv_folder / store.SHARD_NAME).read_bytes()
        assert json.loads(zf.read(store.MODEL_JSON))["format"] == "layers-model"


def test_shipped_models_pass_every_check():
    for choice in inspector.model_choices():
        if choice.shipped:
            inspection = inspector.inspect_folder(choice.path)
            assert inspection.ok, f"{choice.label}: {failures(inspection)}"


def test_a_few_hundred_bytes_declaring_gigabytes_cost_little_to_inspect():
    """Issue 13: an uploaded model.json of a few hundred bytes once made the server allocate gigabytes."""
    import resource
    import time

    layers = [
        {"class_name": "Dense", "config": {"name": "a", "units": 50_000, "batch_input_shape": [None, 50_000]}},
        {"class_name": "Dense", "config": {"name": "b", "units": 50_000}},
    ]
    model_json = {
        "format": "layers-model",
        "modelTopology": {"class_name": "Sequential", "config": {"name": "m", "layers": layers}},
        "weightsManifest": [{"paths": ["w.bin"], "weights": []}],
    }
    raw = json.dumps(model_json).encode()
    assert len(raw) < 400
    cpu, rss = time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    inspection = inspector.inspect_files(inspector.files_from_uploads(raw, {"w.bin": b""}))
    assert time.process_time() - cpu < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 100 * 1024  # KB
    assert not inspection.ok and inspection.model is None
    assert "5,000,100,000 parameters" in status(inspection, "declared size").detail


def test_an_unexpected_error_is_a_failed_check_not_a_crash(conv_folder, monkeypatch):
    def boom(_):
        raise TypeError("a bug")

    monkeypatch.setattr(inspector, "byte_map", boom)
    inspection = inspector.inspect_folder(conv_folder)
    assert not inspection.ok
    assert (
        status(inspection, "without an internal error").detail == "The inspector could not read this file (TypeError)."
    )


# ---------------------------------------------------------------- the layer graph


def graph_points(figure) -> list[dict]:
    """Every node of a layer_graph figure, top to bottom: y, text, class (its trace) and colour."""
    points = [
        {"y": y, "text": text, "class": trace.name, "color": trace.marker.color}
        for trace in figure.data
        if trace.name != "edges"
        for y, text in zip(trace.y, trace.text, strict=True)
    ]
    return sorted(points, key=lambda p: -p["y"])


@pytest.mark.parametrize("name", ["colors", "shapes", "text"])
def test_the_layer_graph_of_each_shipped_model_follows_its_topology(name):
    folder = SHIPPED_MODELS_DIR / name
    topology = json.loads((folder / store.MODEL_JSON).read_bytes())["modelTopology"]["config"]["layers"]
    keras_model = store.load_model(folder).model  # the reference: Keras's own shapes and counts
    nodes = inspect_graph.graph_nodes(inspector.inspect_folder(folder))
    assert [(n["name"], n["class"]) for n in nodes] == [(e["config"]["name"], e["class_name"]) for e in topology]
    assert sum(n["params"] for n in nodes) == keras_model.count_params()

    figure = inspect_figures.layer_graph(nodes)
    points = graph_points(figure)
    assert len(points) == len(topology)
    for point, entry in zip(points, topology, strict=True):
        layer = keras_model.get_layer(entry["config"]["name"])
        shape = "(" + ", ".join("None" if d is None else str(d) for d in layer.output.shape) + ")"
        assert point["class"] == entry["class_name"]
        assert f"<b>{layer.name}</b>" in point["text"]
        assert f"{entry['class_name']} → {shape}" in point["text"]
        assert f"{layer.count_params():,} param" in point["text"]
    colors = {p["class"]: p["color"] for p in points}
    assert all(p["color"] == colors[p["class"]] for p in points)
    assert len(set(colors.values())) == len(colors)  # one colour per layer class

    edges = next(t for t in figure.data if t.name == "edges")
    segments = [(edges.y[i], edges.y[i + 1]) for i in range(0, len(edges.y), 3)]
    ys = [p["y"] for p in points]
    assert segments == list(zip(ys, ys[1:], strict=False))  # one edge from each layer to the next
    assert len(figure.layout.annotations) == len(topology) - 1  # and an arrowhead on each


def test_an_input_layer_is_a_node_with_its_batch_shape(conv_folder):
    def add_input_layer(data):
        layers = data["modelTopology"]["config"]["layers"]
        shape = layers[0]["config"].pop("batch_input_shape")
        layers.insert(0, {"class_name": "InputLayer", "config": {"name": "pixels", "batch_input_shape": shape}})

    inspection = corrupted(conv_folder, add_input_layer)
    assert inspection.ok, failures(inspection)
    nodes = inspect_graph.graph_nodes(inspection)
    assert nodes[0] == {"name": "pixels", "class": "InputLayer", "output_shape": "(None, 8, 8, 1)", "params": 0}
    assert [n["name"] for n in nodes[1:]] == [r["name"] for r in inspection.layers]
    assert [n["output_shape"] for n in nodes[1:]] == [r["output_shape"] for r in inspection.layers]


def test_the_graph_of_a_refused_or_unbuilt_topology(conv_folder):
    refused = corrupted(conv_folder, lambda d: set_layer(d, 1, class_name="Lambda", config={"name": "evil"}))
    assert inspect_graph.graph_nodes(refused) == []
    too_big = corrupted(conv_folder, lambda d: set_config(d, 3, units=10**7))  # refused by the size check
    nodes = inspect_graph.graph_nodes(too_big)
    assert [n["name"] for n in nodes] == ["conv_1", "pool_1", "flatten", "dense_out"]
    assert all(n["output_shape"] is None and n["params"] is None for n in nodes)
    texts = [p["text"] for p in graph_points(inspect_figures.layer_graph(nodes))]
    assert all("→ ?" in t and "? params" in t for t in texts)
