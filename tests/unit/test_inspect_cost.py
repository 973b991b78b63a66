"""Issue 25: Inspect's cost model refuses what is over its caps before the work, charts stay bounded, every check
that can pass is followed by an inspection that cannot crash, and float weights declared int32 fail a check."""

from __future__ import annotations

import json
import zipfile
from io import BytesIO

import numpy as np
import pytest

from core.inspector import cost as inspect_cost
from core.inspector import figures as inspect_figures
from core.inspector import inspect as inspector
from core.inspector import tensor_pages as pager
from core.inspector import values as tensor_values
from core.store import models as store
from core.store import topology as store_topology

COST_TITLE = inspector.CHECK_TITLES[0]


def upload(layers: list[dict], weights: list[dict], paths: list[str] | None = None) -> bytes:
    topology = {"class_name": "Sequential", "config": {"name": "m", "layers": layers}}
    manifest = [{"paths": paths or ["w.bin"], "weights": weights}]
    return json.dumps({"format": "layers-model", "modelTopology": topology, "weightsManifest": manifest}).encode()


def dense(i: int) -> dict:
    config = {"name": f"d{i}", "units": 1} | ({"batch_input_shape": [None, 1]} if i == 0 else {})
    return {"class_name": "Dense", "config": config}


def one_value_entries(n: int) -> list[dict]:
    return [{"name": f"t{i}", "shape": [1], "dtype": "float32"} for i in range(n)]


@pytest.fixture
def nothing_is_parsed_or_built(monkeypatch):
    """Make every step after the cost check fail loudly: a refusal must come before any of them."""

    def never(*_args, **_kwargs):
        raise AssertionError("the work started before the cost check refused it")

    for module, name in [
        (store, "parse_model_json"),
        (store, "manifest_entries"),
        (store_topology, "topology_layers"),
        (store_topology, "build_model_from_topology"),
        (inspector, "byte_map"),
        (inspector, "_manifest_paths"),  # an upload's shard names: json.loads of the whole file
    ]:
        monkeypatch.setattr(module, name, never)


def refused(json_bytes: bytes, shards: dict[str, bytes] | None = None) -> inspector.Inspection:
    inspection = inspector.inspect_files(inspector.files_from_uploads(json_bytes, shards or {"w.bin": b""}))
    assert inspection.checks[0].title == COST_TITLE and inspection.checks[0].status == inspector.FAIL
    assert [c.status for c in inspection.checks[1:]] == [inspector.SKIPPED] * (len(inspector.CHECK_TITLES) - 1)
    assert inspection.model_json is None and not inspection.manifest and not inspection.group_bytes
    return inspection


def test_85000_one_value_entries_are_refused_before_parsing(nothing_is_parsed_or_built):
    """The issue's 4.9 MB model.json that held a core for 12 minutes."""
    raw = upload([dense(0)], one_value_entries(85_000))
    assert len(raw) > 4_000_000
    detail = refused(raw, {"w.bin": b"\0" * 4 * 85_000}).checks[0].detail
    objects = raw.count(b"{") + raw.count(b"[")
    assert objects > 170_000
    assert f"{objects:,} JSON objects and lists" in detail and "MLX_MAX_MODEL_JSON_OBJECTS" in detail


def test_the_weights_layout_is_refused_by_the_same_count(nothing_is_parsed_or_built):
    files = inspector.files_from_uploads(upload([dense(0)], one_value_entries(85_000)), {"w.bin": b""})
    with pytest.raises(store_topology.StoreError, match="JSON objects"):
        pager.weights_layout(files)


def test_12000_layers_are_refused_before_parsing(nothing_is_parsed_or_built):
    raw = upload([dense(i) for i in range(12_000)], [])
    assert "JSON objects and lists" in refused(raw).checks[0].detail


def test_layers_over_the_cap_are_refused_from_the_header(nothing_is_parsed_or_built):
    detail = refused(upload([dense(i) for i in range(65)], [])).checks[0].detail
    assert detail.startswith("modelTopology has 65 layers") and "at most 64" in detail


def test_tensors_over_the_cap_are_refused_before_any_entry_is_read(nothing_is_parsed_or_built, monkeypatch):
    monkeypatch.setenv("MLX_MAX_MANIFEST_ENTRIES", "10")
    assert "lists 11 tensors" in refused(upload([dense(0)], one_value_entries(11))).checks[0].detail


def test_at_the_caps_the_cost_check_passes_and_counts(monkeypatch):
    monkeypatch.setenv("MLX_MAX_MANIFEST_ENTRIES", "10")
    monkeypatch.setenv("MLX_MAX_MODEL_LAYERS", "3")
    raw = upload([dense(0), dense(1), dense(2)], one_value_entries(10))
    inspection = inspector.inspect_files(inspector.files_from_uploads(raw, {"w.bin": b"\0" * 40}))
    assert inspection.checks[0].title == COST_TITLE and inspection.checks[0].status == inspector.PASS
    cost = inspection.cost
    assert (cost.layers, cost.entries, cost.files, cost.shard_bytes) == (3, 10, 1, 40)
    assert cost.json_objects == raw.count(b"{") + raw.count(b"[") and cost.json_bytes == len(raw)


def test_too_many_weights_files_are_refused(nothing_is_parsed_or_built):
    paths = [f"w{i}.bin" for i in range(65)]
    assert "names 65 weights files" in refused(upload([dense(0)], [], paths)).checks[0].detail


def test_one_bin_named_many_times_is_counted_each_time_and_never_joined(nothing_is_parsed_or_built, monkeypatch):
    monkeypatch.setenv("MLX_MAX_MODEL_MB", "1")
    inspection = refused(upload([dense(0)], [], ["w.bin"] * 40), {"w.bin": b"\0" * 100_000})
    assert "(a file named twice counts twice)" in inspection.checks[0].detail


def test_a_saved_folder_over_the_caps_is_refused_before_its_bins_are_read(tmp_path, monkeypatch):
    (tmp_path / store.MODEL_JSON).write_bytes(upload([dense(0)], [], ["w.bin"] * 40))
    (tmp_path / "w.bin").write_bytes(b"\0" * 100_000)
    monkeypatch.setenv("MLX_MAX_MODEL_MB", "1")
    files = inspector.read_folder_files(tmp_path)
    assert files.shards == {}
    assert inspector.inspect_files(files).checks[0].status == inspector.FAIL


def test_the_cost_of_a_shipped_model_is_counted_and_passes():
    folder = store.shipped_model_dir("colors")
    inspection = inspector.inspect_folder(folder)
    raw = json.loads((folder / store.MODEL_JSON).read_bytes())
    assert inspection.ok and inspection.cost is not None
    assert inspection.cost.layers == len(raw["modelTopology"]["config"]["layers"])
    assert inspection.cost.entries == len(raw["weightsManifest"][0]["weights"])
    assert inspection.cost.shard_bytes == (folder / store.SHARD_NAME).stat().st_size
    assert not inspection.cost.byte_map_sampled


# ---------------------------------------------------------------- charts stay bounded


def manifest_rows(layers: int, per_layer: int) -> list[dict]:
    rows, offset = [], 0
    for layer in range(layers):
        for k in range(per_layer):
            length = 4 * (1 + (layer * per_layer + k) % 7)
            rows.append(
                {"name": f"l{layer}/w{k}", "layer": f"l{layer}", "shape": [length // 4], "shard": "w.bin"}
                | {"file_offset": offset, "offset": offset, "length": length}
            )
            offset += length
    return rows


def test_the_byte_map_draws_at_most_its_cap_and_says_so():
    rows = manifest_rows(1000, 1)
    figure = inspect_figures.byte_strip(rows)
    drawn = [name for trace in figure.data for name, *_ in trace.customdata]
    assert len(drawn) == inspect_cost.BYTE_MAP_SEGMENTS
    drawn_lengths = [r["length"] for r in rows if r["name"] in drawn]
    left_out = [r["length"] for r in rows if r["name"] not in drawn]
    assert min(drawn_lengths) >= max(left_out)  # the largest are the ones drawn
    assert "the 200 largest of 1,000 tensors drawn" in figure.layout.title.text


def test_a_byte_map_under_the_cap_draws_every_tensor_one_trace_per_layer():
    rows = manifest_rows(5, 3)
    figure = inspect_figures.byte_strip(rows)
    assert [trace.name for trace in figure.data] == [f"l{i}" for i in range(5)]
    assert sum(len(trace.x) for trace in figure.data) == 15
    assert "largest" not in figure.layout.title.text


def test_a_histogram_of_values_with_nan_counts_the_finite_ones():
    counts, edges = tensor_values.tensor_histogram(np.array([np.nan, 1.0, np.inf, 2.0, 3.0]), bins=4)
    assert int(counts.sum()) == 3 and edges[0] == 1.0 and edges[-1] == 3.0
    counts, _ = tensor_values.tensor_histogram(np.array([np.nan, np.nan]))
    assert counts.sum() == 0


# ---------------------------------------------------------------- true messages


def colors_upload(edit=None) -> inspector.Inspection:
    folder = store.shipped_model_dir("colors")
    data = json.loads((folder / store.MODEL_JSON).read_bytes())
    if edit is not None:
        edit(data)
    shards = {store.SHARD_NAME: (folder / store.SHARD_NAME).read_bytes()}
    return inspector.inspect_files(inspector.files_from_uploads(json.dumps(data).encode(), shards))


@pytest.mark.parametrize("metadata", [5, "abc", [1], {"versions": "x"}, {"versions": {}}, {"saved_at": 7}, None])
def test_any_metadata_of_a_model_that_passes_exports(metadata):
    """All checks passed, then the export failed with TypeError: the metadata is not checked, so the export must not
    trust it."""

    def edit(data):
        data["userDefinedMetadata"] = metadata

    inspection = colors_upload(edit)
    assert inspection.ok
    with zipfile.ZipFile(BytesIO(inspector.export_zip(inspection))) as zf:
        written = json.loads(zf.read(store.MODEL_JSON))["userDefinedMetadata"]
        assert zf.read(store.SHARD_NAME) == (store.shipped_model_dir("colors") / store.SHARD_NAME).read_bytes()
    assert isinstance(written["versions"]["keras"], str) and isinstance(written["saved_at"], str)


def test_metadata_that_is_an_object_is_kept_by_the_export():
    def edit(data):
        data["userDefinedMetadata"] = {"family": "colors", "note": "mine"}

    with zipfile.ZipFile(BytesIO(inspector.export_zip(colors_upload(edit)))) as zf:
        written = json.loads(zf.read(store.MODEL_JSON))["userDefinedMetadata"]
    assert written["family"] == "colors" and written["note"] == "mine"


def test_a_model_that_fails_is_not_exported():
    inspection = colors_upload(lambda d: d["weightsManifest"][0]["weights"][0].update(dtype="int32"))
    with pytest.raises(store_topology.StoreError, match="cannot be exported"):
        inspector.export_zip(inspection)


def test_float_weights_declared_int32_fail_and_the_message_names_the_tensor_and_layer():
    inspection = colors_upload(lambda d: d["weightsManifest"][0]["weights"][0].update(dtype="int32"))
    first = json.loads((store.shipped_model_dir("colors") / store.MODEL_JSON).read_bytes())["weightsManifest"][0]
    name = first["weights"][0]["name"]  # e.g. hidden/kernel
    check = next(c for c in inspection.checks if "dtype" in c.title and "matches" in c.title)
    assert not inspection.ok and check.status == inspector.FAIL
    layer, weight = name.split("/")
    assert f"{name} is int32 in the manifest, but the Dense layer {layer} reads its {weight} as float32" in check.detail
    assert inspection.model is None


def test_the_store_refuses_float_weights_declared_int32_too():
    folder = store.shipped_model_dir("colors")
    data = json.loads((folder / store.MODEL_JSON).read_bytes())
    data["weightsManifest"][0]["weights"][0]["dtype"] = "int32"
    with pytest.raises(store_topology.StoreError, match="int32 in the weights manifest"):
        store.model_from_json_and_shards(data, {store.SHARD_NAME: (folder / store.SHARD_NAME).read_bytes()})


def test_stats_summed_chunk_by_chunk_match_numpy_in_float64(monkeypatch):
    monkeypatch.setattr(tensor_values, "STATS_CHUNK", 7)  # many chunks, and a last one that is short
    values = np.random.default_rng(0).normal(3.0, 2.0, (10, 13)).astype("float32")
    stats = tensor_values.tensor_stats(values)
    reference = values.astype(np.float64)
    assert stats["count"] == 130 and stats["min"] == reference.min() and stats["max"] == reference.max()
    assert stats["mean"] == pytest.approx(reference.mean(), rel=1e-12)
    assert stats["std"] == pytest.approx(reference.std(), rel=1e-12)


def test_a_large_matrix_is_thinned_before_it_is_converted():
    matrix, caption = tensor_values.tensor_matrix(np.arange(1000 * 1000, dtype="float32").reshape(1000, 1000))
    assert matrix.dtype == np.float64 and matrix.size <= 40_000
    assert matrix[0, 1] == matrix[0, 0] + 5 and "every 5th row and column" in caption
