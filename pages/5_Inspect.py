"""Inspect: read a saved model's layers against its binary weights, byte by byte, diff two versions, export for TF.js."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core import export, store
from core import figures as fig
from core import inspect as inspector
from core import tensor_pages as pager
from core.settings import get_settings
from ui.common import guard, guarded, page_header

page_header(
    "Inspect",
    "🔬",
    "A saved model is two files: model.json says which layers there are, and a .bin file holds the numbers training "
    "tuned. This page reads both, ties every byte of the .bin to a layer, and checks that they agree.",
)


@st.cache_resource(show_spinner="Reading the model…", max_entries=8, ttl=3600)
def inspect_folder(path: str, stamp: float) -> inspector.Inspection:
    del stamp  # cache key only: a re-saved folder is read afresh
    return inspector.inspect_folder(path)


# Each entry can hold a model of up to MLX_MAX_MODEL_PARAMS weights: few entries, and they expire.
@st.cache_resource(show_spinner="Reading the upload…", max_entries=4, ttl=600)
def inspect_upload(digest: str, _json_bytes: bytes, _shards: dict[str, bytes]) -> inspector.Inspection:
    del digest  # the cache key: a hash of the uploaded bytes (the bytes themselves are not hashed again)
    return inspector.inspect_files(inspector.files_from_uploads(_json_bytes, _shards, label="your upload"))


@st.cache_data(show_spinner="Preparing the TF.js export…", max_entries=4, ttl=600)
def tfjs_zip(path: str, stamp: float) -> bytes:
    del stamp
    return export.tfjs_zip(path)


@st.cache_resource(show_spinner="Reading the weights…", max_entries=4, ttl=600)
def read_arrays(path: str, stamp: float) -> dict:
    del stamp
    return inspector.read_arrays(path)


@st.cache_resource(show_spinner=False, max_entries=4, ttl=600)
def folder_layout(path: str, stamp: float) -> pager.WeightsLayout:
    del stamp
    return pager.weights_layout(inspector.read_folder_files(path))


@st.cache_resource(show_spinner=False, max_entries=4, ttl=600)
def upload_layout(digest: str, _json_bytes: bytes, _shards: dict[str, bytes]) -> pager.WeightsLayout:
    del digest  # the cache key, as for inspect_upload
    return pager.weights_layout(inspector.files_from_uploads(_json_bytes, _shards, label="your upload"))


def _stamp(path: Path) -> float:
    json_path = path / store.MODEL_JSON
    return json_path.stat().st_mtime if json_path.exists() else 0.0


def _show(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@st.fragment
@guarded("The tensor view")
def tensor_view(inspection: inspector.Inspection, layout: pager.WeightsLayout | None, layout_error: str = "") -> None:
    """One tensor: its values page by page (bytes beside Keras's values), stats, histogram, heatmap (a fragment:
    choosing reruns only this)."""
    names = [row["name"] for row in inspection.manifest]
    default = next((i for i, n in enumerate(names) if n.endswith("/kernel")), 0)
    name = st.selectbox("Tensor", names, index=default, key="inspect.tensor")
    if st.session_state.get("inspect.page_tensor") != name:  # another tensor: start at its first page
        st.session_state["inspect.page_tensor"] = name
        st.session_state["inspect.page"] = 1
        st.session_state.pop("inspect.goto", None)  # the last jump's message was about another tensor
    rows = inspector.hex_rows(inspection, name, count=8)
    if not rows:
        st.warning(f"The bytes of {name} are not in the weights file (it is truncated or missing).")
    else:
        first = rows[0]
        keras_text = "not loaded (see the checks)" if first["keras"] is None else f"{first['keras']:.9g}"
        st.markdown(
            f"First value of **{name}**: the bytes `{first['hex']}` at offset {first['byte_offset']:,} of the file."
        )
        hex_col, keras_col = st.columns(2)
        with hex_col.container(key="inspect-hex-first"):
            st.markdown(f"Read as a little-endian float32: **{first['decoded']:.9g}**")
        with keras_col.container(key="inspect-keras-first"):
            st.markdown(f"Read back from the loaded Keras model: **{keras_text}**")
    if layout is None:
        st.warning(f"The values cannot be paged: {layout_error}")
    else:
        value_pages(inspection, layout, name)
    array = inspection.arrays.get(name)
    if array is not None:
        stats = inspector.tensor_stats(array)
        cols = st.columns(4)
        for col, key in zip(cols, ("min", "max", "mean", "std"), strict=True):
            col.metric(key, f"{stats[key]:.4g}" if stats[key] is not None else "—")
        left, right = st.columns(2)
        counts, edges = inspector.tensor_histogram(array)
        left.plotly_chart(fig.tensor_histogram_figure(counts, edges, f"{name}: histogram"), key="inspect.hist")
        matrix, caption = inspector.tensor_matrix(array)
        right.plotly_chart(
            fig.tensor_heatmap(matrix, f"{name}: heatmap", square_cells=array.ndim == 4), key="inspect.heat"
        )
        right.caption(caption)


def _go_to_offset(layout: pager.WeightsLayout) -> None:
    """The "Go" button: select the tensor and page that hold the byte offset asked for, or say why there is none."""
    state = st.session_state
    try:
        where = pager.locate_offset(layout, int(state["inspect.offset"]), state.get("inspect.offset_file"))
    except store.StoreError as exc:
        state["inspect.goto"] = {"error": str(exc)}
        return
    state["inspect.tensor"] = state["inspect.page_tensor"] = where.tensor
    state["inspect.page"] = where.page
    state["inspect.goto"] = {
        "tensor": where.tensor,
        "position": where.position,
        "message": where.message,
        "aligned": where.aligned,
    }


def _turn_page(step: int) -> None:
    st.session_state["inspect.page"] = int(st.session_state.get("inspect.page", 1)) + step


def value_pages(inspection: inspector.Inspection, layout: pager.WeightsLayout, name: str) -> None:
    """Every value of one tensor, PER_PAGE at a time, and a byte offset of the .bin to jump to."""
    st.markdown(
        f"**Every value of {name}, {pager.PER_PAGE} to a page:** where each one sits in the .bin file, its index in "
        "the tensor, its four bytes and the number they encode."
    )
    offset_col, file_col, go_col = st.columns([3, 3, 1], vertical_alignment="bottom")
    offset_col.number_input(
        "Go to byte offset", value=0, step=4, key="inspect.offset", help="A byte offset in the .bin file"
    )
    file_names = [f.name for f in layout.files]
    if len(file_names) > 1:
        file_col.selectbox("of the file", file_names, key="inspect.offset_file")
    else:
        st.session_state.pop("inspect.offset_file", None)
        file_col.caption(f"of {file_names[0]}" if file_names else "no weights file was found")
    go_col.button("Go", key="inspect.go", on_click=_go_to_offset, args=(layout,), disabled=not file_names)
    goto = st.session_state.get("inspect.goto") or {}
    if "error" in goto:
        st.warning(goto["error"])
    elif goto.get("tensor") == name:
        (st.info if goto["aligned"] else st.warning)(goto["message"])

    entry = layout.entry(name)
    pages = pager.page_count(entry.elements)
    page_now = min(max(int(st.session_state.get("inspect.page", 1)), 1), pages)
    st.session_state["inspect.page"] = page_now
    prev_col, page_col, next_col = st.columns([1, 3, 1], vertical_alignment="bottom")
    prev_col.button("◀ Previous", key="inspect.prev", on_click=_turn_page, args=(-1,), disabled=page_now <= 1)
    page = page_col.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, step=1, key="inspect.page")
    next_col.button("Next ▶", key="inspect.next", on_click=_turn_page, args=(1,), disabled=page_now >= pages)
    result = pager.tensor_page(layout, name, int(page))
    if result.note:
        st.warning(result.note)
    if not result.rows:
        return
    keras = pager.keras_values(inspection.model, name)
    marked = goto.get("position") if goto.get("tensor") == name else None
    number = "little-endian " + result.dtype
    st.dataframe(
        pd.DataFrame(
            {
                "value #": [r["position"] for r in result.rows],
                "index": [pager.format_index(r["index"]) for r in result.rows],
                "file": [r["file"] for r in result.rows],
                "byte offset": [r["byte_offset"] for r in result.rows],
                "bytes (hex)": [r["hex"] for r in result.rows],
                number: [_number(r["value"]) for r in result.rows],
                "Keras value": ["—" if keras is None else _number(keras[r["position"]]) for r in result.rows],
                "match": [
                    "—" if keras is None else "✓" if keras[r["position"]] == r["value"] else "✗" for r in result.rows
                ],
                "offset asked for": ["◀" if r["position"] == marked else "" for r in result.rows],
            }
        ),
        hide_index=True,
        width="stretch",
        key="inspect.values",
    )
    last = result.rows[-1]
    st.caption(
        f"Page {result.page:,} of {result.pages:,}: values {result.rows[0]['position']:,}-{last['position']:,} of "
        f"{entry.elements:,}, bytes {result.rows[0]['byte_offset']:,}-{last['byte_offset'] + 3:,} of {last['file']}."
    )


def _number(value) -> str:
    return f"{value:.9g}" if isinstance(value, float | np.floating) else str(value)


@st.fragment
@guarded("The version diff")
def diff_view(choices: list[inspector.ModelChoice], chosen: inspector.ModelChoice | None) -> None:
    """Two versions of one model, tensor by tensor (a fragment: picking versions reruns only this)."""
    st.markdown("Pick two versions of one model to see what retraining changed in each tensor.")
    families = sorted({c.family for c in choices})
    family_default = families.index(chosen.family) if chosen and chosen.family in families else 0
    family = (
        st.selectbox("Model to compare", families, index=family_default, key="inspect.diff_family")
        if families
        else None
    )
    versions = [c for c in choices if c.family == family]
    if len(versions) < 2:
        st.info("This model has only one version. Retrain it on the Retrain page to get a second one to compare.")
    else:
        vlabels = [c.label for c in versions]
        left, right = st.columns(2)
        # Default: the shipped model (listed first) against the newest version, else the two newest versions.
        first, second = (0, 1) if versions[0].shipped else (1, 0)
        before_label = left.selectbox("Before", vlabels, index=first, key="inspect.diff_a")
        after_label = right.selectbox("After", vlabels, index=second, key="inspect.diff_b")
        before = versions[vlabels.index(before_label)]
        after = versions[vlabels.index(after_label)]
        try:
            before_arrays = read_arrays(str(before.path), _stamp(before.path))
            after_arrays = read_arrays(str(after.path), _stamp(after.path))
        except store.StoreError as exc:
            st.error(f"These versions cannot be compared: {exc}")
        else:
            diff = inspector.diff_arrays(before_arrays, after_arrays)
            st.dataframe(pd.DataFrame(diff), hide_index=True, width="stretch")
            st.plotly_chart(fig.diff_bars(diff), key="inspect.diff_bars")
            comparable = [r["name"] for r in diff if r["l2_change"] is not None]
            if comparable:
                tensor = st.selectbox("Difference heatmap of", comparable, key="inspect.diff_tensor")
                matrix, caption = inspector.tensor_matrix(after_arrays[tensor] - before_arrays[tensor])
                st.plotly_chart(fig.tensor_heatmap(matrix, f"{tensor}: after − before"), key="inspect.diff_heat")
                st.caption(caption)


def main() -> None:
    """The page body; any error in it becomes one plain line (see ui.common.guard)."""
    # ---------------------------------------------------------------- 1. choose a model
    choices = inspector.model_choices()
    source = st.radio("Model", ["A saved model", "Upload model.json + .bin"], horizontal=True, key="inspect.source")
    inspection, chosen = None, None
    if source == "A saved model":
        if not choices:
            st.info("No saved models were found.")
            st.stop()
        labels = [c.label for c in choices]
        label = st.selectbox("Saved model", labels, key="inspect.model")
        chosen = choices[labels.index(label)]
        try:
            inspection = inspect_folder(str(chosen.path), _stamp(chosen.path))
        except store.StoreError as exc:
            st.error(f"This model folder cannot be read: {exc}")
            st.stop()
        try:
            layout, layout_error = folder_layout(str(chosen.path), _stamp(chosen.path)), ""
        except store.StoreError as exc:  # the checks below say the same in their own words
            layout, layout_error = None, str(exc)
    else:
        limit = get_settings().max_upload_mb
        st.caption(f"Files are read as data only, never run, and each may be at most {limit:g} MB.")
        up_json = st.file_uploader("model.json", type=["json"], key="inspect.upload_json")
        up_bins = st.file_uploader("weights (.bin)", type=["bin"], accept_multiple_files=True, key="inspect.upload_bin")
        if up_json is None:
            st.info("Upload a model.json (and its .bin file) to inspect it.")
            st.stop()
        shards = {f.name: f.getvalue() for f in up_bins or []}
        json_bytes = up_json.getvalue()
        digest = hashlib.sha256(json_bytes + b"".join(k.encode() + v for k, v in sorted(shards.items()))).hexdigest()
        try:
            inspection = inspect_upload(digest, json_bytes, shards)
        except store.StoreError as exc:
            st.error(str(exc))
            st.stop()
        try:
            layout, layout_error = upload_layout(digest, json_bytes, shards), ""
        except store.StoreError as exc:
            layout, layout_error = None, str(exc)

    failed = [c for c in inspection.checks if c.status == inspector.FAIL]
    if failed:
        st.error(
            f"{len(failed)} consistency check(s) failed, so this model does not load. The checklist explains why:\n\n"
            + "\n".join(f"- **{c.title}**: {c.detail}" for c in failed)
        )
    else:
        st.success(f"All {len(inspection.checks)} consistency checks pass: the layers and the bytes agree.")
    for note in inspection.notes:
        st.caption(note)

    tab_layers, tab_weights, tab_checks, tab_diff, tab_export = st.tabs(
        ["Layers", "Weights", "Checks", "Diff", "Export to TF.js"]
    )

    # ---------------------------------------------------------------- 2. layers
    with tab_layers:
        if inspection.layers:
            table = pd.DataFrame(inspection.layers)
            st.dataframe(table, hide_index=True, width="stretch")
            st.caption(f"Total parameters: {int(table['params'].sum()):,} (the numbers model.summary() prints).")
        else:
            st.warning("The layers could not be rebuilt, so there are no output shapes or parameter counts.")
        nodes = inspector.graph_nodes(inspection)
        if nodes:
            st.plotly_chart(fig.layer_graph(nodes), key="inspect.graph")
            st.caption(
                f"{len(nodes)} layers from modelTopology, in order: each one's output is the next one's input "
                "(a Sequential model is a chain)."
            )
        else:
            st.warning("The layer graph needs a modelTopology whose layers this page accepts; see the Checks tab.")
        if inspection.configs:
            st.markdown(
                "**Every config value,** compared with a freshly built layer of the same class: what the model's author "
                "wrote is *set explicitly*; everything else is a *Keras default* nobody wrote."
            )
        for layer, values in inspection.configs.items():
            explicit = [v.key for v in values if v.explicit]
            with st.expander(f"{layer}: set explicitly → {', '.join(explicit) or 'nothing'}"):
                st.dataframe(
                    pd.DataFrame(
                        {
                            "key": [v.key for v in values],
                            "value": [_show(v.value) for v in values],
                            "source": [("✏️ " if v.explicit else "· ") + v.source for v in values],
                            "Keras default": ["" if v.default is None else _show(v.default) for v in values],
                        }
                    ),
                    hide_index=True,
                    width="stretch",
                )
        if inspection.initializers:
            st.markdown("**Initializers:** how each weight was filled before training started.")
            for row in inspection.initializers:
                st.markdown(f"- `{row['layer']}.{row['argument']}` — {row['explanation']}")

    # ---------------------------------------------------------------- 3. weights
    with tab_weights:
        if not inspection.manifest:
            st.warning("The weights manifest could not be read; see the Checks tab.")
        else:
            st.markdown("**The weightsManifest as a byte map:** each tensor's place in the .bin file.")
            st.dataframe(pd.DataFrame(inspection.manifest), hide_index=True, width="stretch")
            st.plotly_chart(fig.byte_strip(inspection.manifest), key="inspect.strip")
            per_layer = pd.DataFrame(inspection.manifest).groupby("layer", sort=False)["length"].sum()
            total_bytes = int(per_layer.sum())
            if total_bytes:
                st.caption(
                    f"{per_layer.idxmax()} holds {per_layer.max() / total_bytes:.0%} of the {total_bytes:,} bytes; "
                    "hover a thin sliver to see the smaller tensors."
                )
            tensor_view(inspection, layout, layout_error)

    # ---------------------------------------------------------------- 4. checks
    with tab_checks:
        icons = {inspector.PASS: "✅", inspector.FAIL: "❌", inspector.SKIPPED: "⏭️"}
        for check in inspection.checks:
            st.markdown(f"{icons[check.status]} **{check.title}** — {check.detail}")

    # ---------------------------------------------------------------- 5. diff
    with tab_diff:
        diff_view(choices, chosen)

    # ---------------------------------------------------------------- 6. export
    with tab_export:
        st.markdown(
            "This project saves models in the TensorFlow.js layers format, so the export is the same format, re-written "
            "from the checked model. Unzip it next to a web page and load it with "
            "`await tf.loadLayersModel('model.json')`. The command line does the same: "
            "`python -m core export tfjs SOURCE OUTDIR`."
        )
        if not inspection.ok:
            st.warning("A model that fails its checks cannot be exported.")
        else:
            try:
                if chosen is not None:
                    data = tfjs_zip(str(chosen.path), _stamp(chosen.path))
                    filename = f"{chosen.label.replace(' · ', '-')}-tfjs.zip"
                else:
                    metadata = (inspection.model_json or {}).get("userDefinedMetadata") or {}
                    data = export.tfjs_zip_from_model(inspection.model, metadata)
                    filename = "upload-tfjs.zip"
                st.download_button(
                    "Download for TensorFlow.js (.zip)", data, filename, "application/zip", key="inspect.download"
                )
            except store.StoreError as exc:
                st.error(f"The export failed: {exc}")


with guard("The Inspect page"):
    main()
