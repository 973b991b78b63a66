"""Issue 25: an inspected upload is held once. A weight group's files are sliced without joining them (a tensor inside
one file is a view of it; only one that crosses a file boundary is joined), the weights layout shares the same bytes,
a page of values copies only its own values out of Keras, and the NaN check works a chunk at a time."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.inspector import inspect as inspector
from core.inspector import tensor_pages as pager
from core.store import models as store
from core.store.shards import ShardedBytes


@given(
    parts=st.lists(st.binary(max_size=9), max_size=5),
    start=st.integers(-12, 40),
    stop=st.integers(-12, 40) | st.none(),
)
def test_slices_equal_the_joined_bytes(parts, start, stop):
    joined = b"".join(parts)
    data = ShardedBytes(parts)
    assert len(data) == len(joined) and data.tobytes() == joined
    assert bytes(data[start:stop]) == joined[start:stop]


def test_a_slice_inside_one_file_is_a_view_and_only_a_crossing_one_is_joined():
    first, second = bytes(range(8)), bytes(range(8, 16))
    data = ShardedBytes([first, second])
    inside = data[2:6]
    assert isinstance(inside, memoryview) and inside.obj is first  # no copy
    assert data[6:10] == bytes(range(6, 10))  # across the boundary: joined, just those bytes
    with pytest.raises(TypeError):
        data[::2]


def _two_shard_upload() -> tuple[bytes, dict[str, bytes], np.ndarray]:
    """A Dense 4 -> 3 model whose kernel fills shard 1 and whose bias starts shard 2 (both float32)."""
    kernel = np.arange(12, dtype="<f4").reshape(4, 3) / 10
    bias = np.array([0.5, -0.5, 0.25], dtype="<f4")
    shards = {"group1-shard1of2.bin": kernel.tobytes(), "group1-shard2of2.bin": bias.tobytes()}
    layers = [{"class_name": "Dense", "config": {"name": "d", "units": 3, "batch_input_shape": [None, 4]}}]
    weights = [
        {"name": "d/kernel", "shape": [4, 3], "dtype": "float32"},
        {"name": "d/bias", "shape": [3], "dtype": "float32"},
    ]
    model_json = {
        "format": "layers-model",
        "modelTopology": {"class_name": "Sequential", "config": {"name": "m", "layers": layers}},
        "weightsManifest": [{"paths": list(shards), "weights": weights}],
    }
    return json.dumps(model_json).encode(), shards, kernel


def test_an_inspected_upload_shares_the_uploaded_bytes():
    json_bytes, shards, kernel = _two_shard_upload()
    files = inspector.files_from_uploads(json_bytes, shards)
    inspection = inspector.inspect_files(files)
    assert inspection.ok, [c.detail for c in inspection.checks if c.status != inspector.PASS]
    kernel_array = inspection.arrays["d/kernel"]
    assert np.shares_memory(kernel_array, np.frombuffer(shards["group1-shard1of2.bin"], "<f4"))  # a view, no copy
    np.testing.assert_array_equal(kernel_array, kernel)
    layout = pager.weights_layout(files)
    (group,) = layout.group_bytes.values()
    assert [p.obj for p in group.parts] == list(shards.values())  # the layout holds the same bytes, not a join
    page = pager.tensor_page(layout, "d/bias", 1)
    assert [r["file"] for r in page.rows] == ["group1-shard2of2.bin"] * 3
    assert [r["value"] for r in page.rows] == [0.5, -0.5, 0.25]
    hex_rows = inspector.hex_rows(inspection, "d/kernel", count=4)
    assert [r["keras"] for r in hex_rows] == pytest.approx([0.0, 0.1, 0.2, 0.3])


def test_a_tensor_across_two_files_is_joined_for_that_tensor_only():
    json_bytes, shards, kernel = _two_shard_upload()
    data = kernel.tobytes()  # split the kernel itself over the two files
    moved = {"group1-shard1of2.bin": data[:20], "group1-shard2of2.bin": data[20:] + shards["group1-shard2of2.bin"]}
    inspection = inspector.inspect_files(inspector.files_from_uploads(json_bytes, moved))
    assert inspection.ok
    np.testing.assert_array_equal(inspection.arrays["d/kernel"], kernel)
    assert np.shares_memory(inspection.arrays["d/bias"], np.frombuffer(moved["group1-shard2of2.bin"], "<f4"))


def test_a_page_reads_only_its_own_values_back_from_keras():
    json_bytes, shards, kernel = _two_shard_upload()
    model = inspector.inspect_files(inspector.files_from_uploads(json_bytes, shards)).model
    np.testing.assert_array_equal(pager.keras_values(model, "d/kernel", 5, 4), kernel.ravel()[5:9])
    np.testing.assert_array_equal(pager.keras_values(model, "d/kernel"), kernel.ravel())
    assert pager.keras_values(model, "d/kernel", 11, 64).tolist() == [kernel.ravel()[11]]  # the last page is short
    assert store.variable_values(None, "d/kernel", 0, 4) is None


def test_the_nan_check_counts_across_chunks(monkeypatch):
    monkeypatch.setattr(store, "CHECK_CHUNK", 5)
    weights = np.zeros(23, dtype=np.float32)
    weights[[0, 4, 5, 22]] = [np.nan, np.inf, -np.inf, 1e30]
    assert store.non_finite_weights({"w": weights, "i": np.arange(3, dtype=np.int32)}) == ["w (4 of 23 values)"]


def test_the_models_variables_are_created_from_the_file_without_an_assign(monkeypatch):
    import keras

    json_bytes, shards, kernel = _two_shard_upload()

    def no_assign(self, value):
        raise AssertionError("a variable was created as zeros and then assigned: one more copy of every weight")

    monkeypatch.setattr(keras.Variable, "assign", no_assign)
    inspection = inspector.inspect_files(inspector.files_from_uploads(json_bytes, shards))
    assert inspection.ok, [c.detail for c in inspection.checks if c.status != inspector.PASS]
    weights = dict(store.named_weights(inspection.model))
    np.testing.assert_array_equal(weights["d/kernel"].numpy(), kernel)
    np.testing.assert_array_equal(weights["d/bias"].numpy(), [0.5, -0.5, 0.25])
    assert weights["d/kernel"].trainable  # a variable like any other: the file's values are its initial values
