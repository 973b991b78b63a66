"""Tensor pages and byte offsets, held against np.frombuffer on the shard and against the loaded Keras weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.inspector import tensor_pages as pager
from core.inspector.inspect import ModelFiles, read_folder_files
from core.settings import SHIPPED_MODELS_DIR
from core.store import models as store
from core.store import topology as store_topology

SHIPPED = ["colors", "shapes", "text"]


@pytest.fixture(scope="module")
def layouts() -> dict[str, pager.WeightsLayout]:
    return {name: pager.weights_layout(read_folder_files(SHIPPED_MODELS_DIR / name)) for name in SHIPPED}


def shard_of(name: str) -> bytes:
    return (SHIPPED_MODELS_DIR / name / store.SHARD_NAME).read_bytes()


def colors_files(**shards: bytes) -> ModelFiles:
    """The shipped colour model's files, with the given shard files instead of its own (all of them by default)."""
    folder = SHIPPED_MODELS_DIR / "colors"
    return ModelFiles(
        "colors", (folder / store.MODEL_JSON).read_bytes(), shards or {store.SHARD_NAME: shard_of("colors")}
    )


def assert_rows_match_numpy(page: pager.TensorPage, entry: store.ManifestEntry, raw: bytes) -> None:
    reference = np.frombuffer(raw[entry.offset : entry.offset + entry.length], store_topology.DTYPES[entry.dtype])
    for row in page.rows:
        position = row["position"]
        start = entry.offset + 4 * position
        assert row["byte_offset"] == start
        assert row["hex"] == raw[start : start + 4].hex(" ")
        assert row["value"] == reference[position]
        assert row["index"] == tuple(int(i) for i in np.unravel_index(position, entry.shape))
        assert reference.reshape(entry.shape)[row["index"]] == row["value"]


@pytest.mark.parametrize("model", SHIPPED)
def test_first_and_last_page_of_every_tensor_match_numpy(model, layouts):
    layout, raw = layouts[model], shard_of(model)
    for entry in layout.entries:
        pages = pager.page_count(entry.elements)
        for number in {1, pages}:
            page = pager.tensor_page(layout, entry.name, number)
            expected = min(pager.PER_PAGE, entry.elements - (number - 1) * pager.PER_PAGE)
            assert len(page.rows) == expected and page.pages == pages and not page.note
            assert [r["position"] for r in page.rows] == list(range(page.first, page.first + expected))
            assert_rows_match_numpy(page, entry, raw)


def test_paging_through_a_whole_tensor_rebuilds_the_stored_array(layouts):
    layout = layouts["colors"]
    arrays = {e.name: a for e, a in store.read_weight_arrays(*_json_and_shards("colors"))}
    for entry in layout.entries:
        per_page = 7  # a size that leaves a partial last page on every tensor
        values = [
            row["value"]
            for number in range(1, pager.page_count(entry.elements, per_page) + 1)
            for row in pager.tensor_page(layout, entry.name, number, per_page).rows
        ]
        np.testing.assert_array_equal(np.array(values, dtype=np.float32).reshape(entry.shape), arrays[entry.name])


def _json_and_shards(model: str) -> tuple[dict, dict[str, bytes]]:
    folder = SHIPPED_MODELS_DIR / model
    return json.loads((folder / store.MODEL_JSON).read_bytes()), {store.SHARD_NAME: shard_of(model)}


def test_last_page_of_the_text_models_lstm_kernel_matches_keras(layouts):
    loaded = store.load_model(SHIPPED_MODELS_DIR / "text")
    kernel = np.asarray(loaded.model.get_layer("lstm").weights[0].numpy())  # (256, 2048): inputs × 4 gates
    entry = layouts["text"].entry("lstm/kernel")
    assert kernel.shape == entry.shape
    pages = pager.page_count(entry.elements)
    page = pager.tensor_page(layouts["text"], "lstm/kernel", pages)
    assert page.rows[-1]["position"] == kernel.size - 1
    assert page.rows[-1]["index"] == (kernel.shape[0] - 1, kernel.shape[1] - 1)
    for row in page.rows:
        assert row["value"] == kernel[row["index"]]
    np.testing.assert_array_equal(
        pager.keras_values(loaded.model, "lstm/kernel")[page.first :], [r["value"] for r in page.rows]
    )
    assert_rows_match_numpy(page, entry, shard_of("text"))
    assert pager.keras_values(loaded.model, "no/such") is None


@pytest.mark.parametrize("page", [0, -1, 10**6, True, 1.5, "2"])
def test_a_page_that_does_not_exist_is_a_plain_message(page, layouts):
    with pytest.raises(store_topology.StoreError, match="does not exist|whole number"):
        pager.tensor_page(layouts["colors"], "hidden/kernel", page)


def test_an_unknown_tensor_or_page_size_is_a_plain_message(layouts):
    with pytest.raises(store_topology.StoreError, match="no tensor 'nope'"):
        pager.tensor_page(layouts["colors"], "nope", 1)
    with pytest.raises(store_topology.StoreError, match="at least one value"):
        pager.tensor_page(layouts["colors"], "hidden/kernel", 1, per_page=0)


def test_int32_tensors_decode_as_signed_little_endian():
    values = np.array([-1, 2**31 - 1, -(2**31), 7, 0, -300], dtype="<i4")
    model_json = {
        "format": "layers-model",
        "modelTopology": {},
        "weightsManifest": [{"paths": ["w.bin"], "weights": [{"name": "t/ids", "shape": [2, 3], "dtype": "int32"}]}],
    }
    files = ModelFiles("ints", json.dumps(model_json).encode(), {"w.bin": values.tobytes()})
    page = pager.tensor_page(files, "t/ids", 1)
    assert [r["value"] for r in page.rows] == values.tolist()
    assert page.rows[0]["hex"] == "ff ff ff ff" and page.rows[-1]["index"] == (1, 2)
    assert all(isinstance(r["value"], int) for r in page.rows)


# ---------------------------------------------------------------- a byte offset → tensor, value and page


@pytest.mark.parametrize("model", SHIPPED)
def test_every_tensors_first_and_last_byte_locate_back_to_it(model, layouts):
    layout = layouts[model]
    for entry in layout.entries:
        for offset in (entry.offset, entry.offset + entry.length - 1):
            where = pager.locate_offset(layout, offset)
            position = (offset - entry.offset) // 4
            assert (where.tensor, where.position) == (entry.name, position)
            assert where.aligned == (offset == entry.offset)
            assert where.value_start == entry.offset + 4 * position and where.value_end == where.value_start + 3
            page = pager.tensor_page(layout, where.tensor, where.page)
            row = next(r for r in page.rows if r["position"] == where.position)
            assert row["byte_offset"] == where.value_start and row["index"] == where.index


def test_an_unaligned_offset_names_the_value_it_is_inside(layouts):
    where = pager.locate_offset(layouts["shapes"], 10)
    assert not where.aligned
    assert "inside value 2 of conv_1/kernel" in where.message and "bytes 8-11" in where.message
    assert "not 4-byte aligned" in where.message
    aligned = pager.locate_offset(layouts["shapes"], 8)
    assert aligned.aligned and "first byte of value 2 of conv_1/kernel" in aligned.message


def test_offsets_outside_the_file_are_plain_messages(layouts):
    size = len(shard_of("colors"))
    assert pager.locate_offset(layouts["colors"], size - 1).tensor == layouts["colors"].entries[-1].name
    with pytest.raises(store_topology.StoreError, match=f"past the end of {store.SHARD_NAME}"):
        pager.locate_offset(layouts["colors"], size)
    with pytest.raises(store_topology.StoreError, match="negative"):
        pager.locate_offset(layouts["colors"], -4)
    with pytest.raises(store_topology.StoreError, match="whole number"):
        pager.locate_offset(layouts["colors"], 4.0)
    with pytest.raises(store_topology.StoreError, match="no weights file 'other.bin'"):
        pager.locate_offset(layouts["colors"], 0, "other.bin")


def test_extra_bytes_the_manifest_does_not_describe_belong_to_no_tensor():
    raw = shard_of("colors")
    layout = pager.weights_layout(colors_files(**{store.SHARD_NAME: raw + b"\0" * 8}))
    with pytest.raises(store_topology.StoreError, match=f"belongs to no tensor.*first {len(raw):,} bytes"):
        pager.locate_offset(layout, len(raw) + 3)


def test_a_truncated_or_missing_shard_gives_a_note_not_a_crash():
    raw = shard_of("colors")
    truncated = colors_files(**{store.SHARD_NAME: raw[:50]})  # 12 whole values and two stray bytes
    page = pager.tensor_page(truncated, "hidden/kernel", 1)
    assert len(page.rows) == 12 and "truncated" in page.note
    assert pager.tensor_page(truncated, "logits/bias", 1).rows == []
    missing = colors_files(**{"unrelated.bin": raw})
    page = pager.tensor_page(missing, "hidden/kernel", 1)
    assert page.rows == [] and "not found" in page.note
    with pytest.raises(store_topology.StoreError, match="No weights file"):
        pager.locate_offset(missing, 0)


def test_a_group_split_over_two_files_reports_offsets_in_each_file():
    raw = shard_of("colors")
    model_json = json.loads((SHIPPED_MODELS_DIR / "colors" / store.MODEL_JSON).read_bytes())
    model_json["weightsManifest"][0]["paths"] = ["part1.bin", "part2.bin"]
    cut = 1000  # inside logits/kernel, on a value boundary
    files = ModelFiles("split", json.dumps(model_json).encode(), {"part1.bin": raw[:cut], "part2.bin": raw[cut:]})
    layout = pager.weights_layout(files)
    single = pager.weights_layout(colors_files())
    where = pager.locate_offset(layout, 0, "part2.bin")
    same = pager.locate_offset(single, cut)
    assert (where.tensor, where.position, where.value_start) == (same.tensor, same.position, 0)
    page = pager.tensor_page(layout, where.tensor, where.page)
    same_page = pager.tensor_page(single, where.tensor, where.page)
    assert [r["value"] for r in page.rows] == [r["value"] for r in same_page.rows]
    for row, reference in zip(page.rows, same_page.rows, strict=True):
        in_second = reference["byte_offset"] >= cut
        assert row["file"] == ("part2.bin" if in_second else "part1.bin")
        assert row["byte_offset"] == reference["byte_offset"] - (cut if in_second else 0)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=st.integers(min_value=-50, max_value=1800))
def test_any_offset_is_located_or_refused_in_plain_words(offset, layouts):
    layout, raw = layouts["colors"], shard_of("colors")
    if not 0 <= offset < len(raw):
        with pytest.raises(store_topology.StoreError, match="negative|past the end"):
            pager.locate_offset(layout, offset)
        return
    where = pager.locate_offset(layout, offset)
    assert where.value_start <= offset <= where.value_end
    reference = np.frombuffer(raw[where.value_start : where.value_end + 1], "<f4")[0]
    page = pager.tensor_page(layout, where.tensor, where.page)
    assert next(r["value"] for r in page.rows if r["position"] == where.position) == reference
