"""AppTest for the Inspect page: a shipped model, a conv kernel's first value in both views, the diff, a corrupt version,
every value page by page, a jump to a byte offset, and the layer graph (of a saved model and of an upload)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.store import models as store
from tests.helpers.apptest import TEST_OWNER, app_test, app_test_as


def conv_version():
    """The shipped shapes model, or (before it ships) a small conv model saved as a user version."""
    import keras

    if (store.shipped_model_dir("shapes") / store.MODEL_JSON).is_file():
        return "shapes · shipped", store.shipped_model_dir("shapes")
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, name="conv_1"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(3, name="dense_out"),
        ]
    )
    version = store.save_version(model, "shapes", "conv")
    return f"shapes · {version.version_id}", version.path


def test_default_model_passes_every_check():
    at = app_test("pages/5_Inspect.py").run()
    assert not at.exception
    assert at.selectbox(key="inspect.model").value == "colors · shipped"
    assert any("All 12 consistency checks pass" in s.value for s in at.success)
    ticks = [m.value for m in at.markdown if m.value.startswith("✅")]
    assert len(ticks) == 12  # issue 13 added the size and finite-weights checks; issue 25, the cost check
    assert any("set explicitly" in e.label for e in at.expander)
    assert at.selectbox(key="inspect.tensor").value == "hidden/kernel"
    assert at.get("download_button")


def test_conv_kernel_first_value_in_both_views():
    label, folder = conv_version()
    at = app_test("pages/5_Inspect.py").run()
    at.selectbox(key="inspect.model").set_value(label).run()
    at.selectbox(key="inspect.tensor").set_value("conv_1/kernel").run()
    assert not at.exception
    raw = (folder / store.SHARD_NAME).read_bytes()
    first = float(np.frombuffer(raw[:4], "<f4")[0])  # conv_1/kernel is the first tensor of the file
    texts = [m.value for m in at.markdown]
    hex_text = next(t for t in texts if t.startswith("Read as a little-endian float32"))
    keras_text = next(t for t in texts if t.startswith("Read back from the loaded Keras model"))
    assert f"**{first:.9g}**" in hex_text and f"**{first:.9g}**" in keras_text
    assert any(f"`{raw[:4].hex(' ')}`" in t for t in texts)


def test_diff_of_two_versions():
    loaded = store.load_model(store.shipped_model_dir("colors"))
    bias = loaded.model.get_layer("logits").bias
    bias.assign(bias.numpy() + 1.0)
    store.save_version(loaded.model, "colors", "shifted", {**loaded.metadata, "owner": TEST_OWNER})
    at = app_test_as("pages/5_Inspect.py").run()  # the version's maker: nobody else sees it
    assert at.selectbox(key="inspect.diff_family").value == "colors"
    assert not at.exception
    diff = next(df.value for df in at.dataframe if "relative_change" in df.value.columns)
    rows = diff.set_index("name")
    assert rows.loc["logits/bias", "l2_change"] == pytest.approx(3.0, rel=1e-5)  # sqrt(9 × 1²)
    assert rows.loc["hidden/kernel", "l2_change"] == 0.0


def test_a_truncated_version_is_explained_not_crashed():
    loaded = store.load_model(store.shipped_model_dir("colors"))
    version = store.save_version(loaded.model, "colors", "broken", {**loaded.metadata, "owner": TEST_OWNER})
    shard = version.path / store.SHARD_NAME
    shard.write_bytes(shard.read_bytes()[:100])
    at = app_test_as("pages/5_Inspect.py").run()
    at.selectbox(key="inspect.model").set_value(f"colors · {version.version_id}").run()
    assert not at.exception
    assert any("truncated" in e.value for e in at.error)
    assert any(m.value.startswith("❌") and "truncated" in m.value for m in at.markdown)
    assert any("cannot be exported" in w.value for w in at.warning)


# ---------------------------------------------------------------- issue 17: every value, page by page; the graph


def values_table(at):
    return next(df.value for df in at.dataframe if "bytes (hex)" in df.value.columns)


def manifest_entry(folder, name: str) -> store.ManifestEntry:
    model_json = json.loads((folder / store.MODEL_JSON).read_bytes())
    return next(e for e in store.manifest_entries(model_json) if e.name == name)


def graph_texts(at) -> list[str]:
    spec = next(
        json.loads(c.proto.spec)
        for c in at.get("plotly_chart")
        if "layers as a graph" in json.dumps(json.loads(c.proto.spec)["layout"].get("title"))
    )
    points = [
        (y, t) for trace in spec["data"] if trace.get("name") != "edges" for y, t in zip(trace["y"], trace["text"])
    ]
    return [t for _, t in sorted(points, key=lambda p: -p[0])]


def test_the_last_page_of_the_text_models_lstm_kernel():
    folder = store.shipped_model_dir("text")
    entry = manifest_entry(folder, "lstm/kernel")
    raw = (folder / store.SHARD_NAME).read_bytes()
    reference = np.frombuffer(raw[entry.offset : entry.offset + entry.length], "<f4")
    last_page = -(-reference.size // 64)
    at = app_test("pages/5_Inspect.py").run()
    at.selectbox(key="inspect.model").set_value("text · shipped").run()
    at.selectbox(key="inspect.tensor").set_value("lstm/kernel").run()
    assert at.number_input(key="inspect.page").value == 1
    at.number_input(key="inspect.page").set_value(last_page).run()
    assert not at.exception
    table = values_table(at)
    assert table["value #"].tolist() == list(range(reference.size - 64, reference.size))
    assert table["index"].iloc[-1] == f"({entry.shape[0] - 1}, {entry.shape[1] - 1})"
    starts = [entry.offset + 4 * i for i in table["value #"]]
    assert table["byte offset"].tolist() == starts
    assert table["bytes (hex)"].tolist() == [raw[s : s + 4].hex(" ") for s in starts]
    assert table["little-endian float32"].tolist() == [f"{v:.9g}" for v in reference[-64:]]
    assert table["Keras value"].tolist() == table["little-endian float32"].tolist()
    assert set(table["match"]) == {"✓"}
    assert at.button(key="inspect.next").disabled
    at.button(key="inspect.prev").click().run()
    assert at.number_input(key="inspect.page").value == last_page - 1
    assert values_table(at)["value #"].iloc[0] == reference.size - 128


def test_go_to_a_byte_offset_jumps_to_its_tensor_and_page():
    label, folder = conv_version()
    kernel = manifest_entry(folder, "dense_hidden/kernel" if "shipped" in label else "dense_out/kernel")
    position = min(1000, kernel.elements - 1)
    at = app_test("pages/5_Inspect.py").run()
    at.selectbox(key="inspect.model").set_value(label).run()
    at.number_input(key="inspect.offset").set_value(kernel.offset + 4 * position + 2).run()
    at.button(key="inspect.go").click().run()
    assert not at.exception
    assert at.selectbox(key="inspect.tensor").value == kernel.name
    assert at.number_input(key="inspect.page").value == position // 64 + 1
    start = kernel.offset + 4 * position
    assert any(
        f"inside value {position:,} of {kernel.name}" in w.value and f"bytes {start:,}-{start + 3:,}" in w.value
        for w in at.warning
    )
    table = values_table(at)
    assert table.loc[table["offset asked for"] == "◀", "byte offset"].tolist() == [start]

    size = (folder / store.SHARD_NAME).stat().st_size
    for offset, words in [(size, "past the end"), (-8, "negative")]:
        at.number_input(key="inspect.offset").set_value(offset).run()
        at.button(key="inspect.go").click().run()
        assert not at.exception
        assert any(words in w.value for w in at.warning), offset
        assert at.selectbox(key="inspect.tensor").value == kernel.name  # a refused offset moves nothing


def test_the_layer_graph_of_the_default_model():
    folder = store.shipped_model_dir("colors")
    topology = json.loads((folder / store.MODEL_JSON).read_bytes())["modelTopology"]["config"]["layers"]
    at = app_test("pages/5_Inspect.py").run()
    assert not at.exception
    texts = graph_texts(at)
    assert [t.split("</b>")[0].removeprefix("<b>") for t in texts] == [e["config"]["name"] for e in topology]
    assert all(e["class_name"] in t for t, e in zip(texts, topology, strict=True))


def test_an_uploaded_model_gets_its_graph_and_value_pages():
    folder = store.shipped_model_dir("colors")
    json_bytes, raw = (folder / store.MODEL_JSON).read_bytes(), (folder / store.SHARD_NAME).read_bytes()
    at = app_test("pages/5_Inspect.py").run()
    at.radio(key="inspect.source").set_value("Upload model.json + .bin").run()
    at.file_uploader(key="inspect.upload_json").upload("model.json", json_bytes, "application/json")
    at.file_uploader(key="inspect.upload_bin").upload("weights.bin", raw)
    at.run()
    assert not at.exception
    assert any("consistency checks pass" in s.value for s in at.success)
    assert len(graph_texts(at)) == len(json.loads(json_bytes)["modelTopology"]["config"]["layers"])
    table = values_table(at)
    assert table["bytes (hex)"].iloc[0] == raw[:4].hex(" ")
    assert set(table["match"]) == {"✓"}
    at.number_input(key="inspect.offset").set_value(len(raw) - 4).run()
    at.button(key="inspect.go").click().run()
    assert any("first byte of value" in i.value for i in at.info)
    assert values_table(at)["byte offset"].iloc[-1] == len(raw) - 4


# ---------------------------------------------------------------- issue 25: true messages, charts, the export cache


def upload_colors(at, edit=None, shard_edit=None):
    """Upload the shipped colour model (model.json changed by `edit`, the .bin by `shard_edit`) and run the page."""
    folder = store.shipped_model_dir("colors")
    data = json.loads((folder / store.MODEL_JSON).read_bytes())
    if edit is not None:
        edit(data)
    raw = (folder / store.SHARD_NAME).read_bytes()
    at.run()
    at.radio(key="inspect.source").set_value("Upload model.json + .bin").run()
    at.file_uploader(key="inspect.upload_json").upload("model.json", json.dumps(data).encode(), "application/json")
    at.file_uploader(key="inspect.upload_bin").upload("weights.bin", shard_edit(raw) if shard_edit else raw)
    return at.run()


def shown(at) -> str:
    return " ".join(e.value for kind in (at.error, at.warning, at.markdown, at.caption) for e in kind)


def test_the_weights_tab_of_a_nan_model_is_plain_and_draws_no_chart():
    at = upload_colors(
        app_test("pages/5_Inspect.py"), shard_edit=lambda raw: np.full(1, np.nan, "<f4").tobytes() + raw[4:]
    )
    assert not at.exception
    text = shown(at)
    assert "finite" in text and "NaN" in text  # the failed check says what is wrong
    assert "autodetected range" not in text and "failed unexpectedly" not in text  # numpy's words, the page guard's
    assert not at.get("plotly_chart")  # charts only for a model that passes
    assert any("passes every check" in c.value for c in at.caption)
    assert values_table(at)["bytes (hex)"].iloc[0] == "00 00 c0 7f"  # the bytes are still shown, value by value


@pytest.mark.parametrize("metadata", [5, {"versions": "x"}])
def test_a_model_whose_checks_all_pass_exports_whatever_its_metadata(metadata):
    at = upload_colors(app_test("pages/5_Inspect.py"), edit=lambda d: d.update(userDefinedMetadata=metadata))
    assert not at.exception
    assert any("consistency checks pass" in s.value for s in at.success)
    assert "failed unexpectedly" not in " ".join(e.value for e in at.error)
    assert at.get("download_button")


def test_an_uploads_tfjs_zip_is_built_only_on_download_and_once_per_content(monkeypatch):
    import zipfile
    from io import BytesIO

    from core.inspector import inspect as inspector
    from core.store import export
    from core.store import models as store
    from ui import inspect_views

    calls = []
    real = export.tfjs_zip_from_model

    def counted(model, metadata=None):
        calls.append(1)
        return real(model, metadata)

    monkeypatch.setattr(export, "tfjs_zip_from_model", counted)
    marker = {"note": "issue 25 cache test"}  # content no other test uploads, so the cache starts empty for it
    at = upload_colors(app_test("pages/5_Inspect.py"), edit=lambda d: d.update(userDefinedMetadata=marker))
    assert at.get("download_button") and not calls  # viewing the page builds no zip (issue 25: most of 313 MB)
    at.run()
    at.selectbox(key="inspect.tensor").set_value("logits/bias").run()
    assert not at.exception and not calls  # two more reruns, still none

    # What the button runs when Download is pressed (on a thread of Streamlit's): built then, once per content.
    folder = store.shipped_model_dir("colors")
    inspection = inspector.inspect_folder(folder)
    on_click = inspect_views.upload_zip_on_click("issue-25-digest", inspection)
    assert not calls
    first, second = on_click(), on_click()
    assert len(calls) == 1 and first == second
    with zipfile.ZipFile(BytesIO(first)) as zf:
        assert sorted(zf.namelist()) == sorted([store.MODEL_JSON, store.SHARD_NAME])
