"""The Inspect page's self-contained views: the upload handling, the layers tab (with the layer graph) and the
weights tab (the byte map and the tensor pages, value by value). Used by pages/5_Inspect.py."""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from core.inspector import figures as inspect_figures
from core.inspector import graph as inspect_graph
from core.inspector import inspect as inspector
from core.inspector import tensor_pages as pager
from core.inspector import values as tensor_values
from core.settings import get_settings
from core.store import topology as store_topology
from ui.common import guarded
from ui.state import page_state


@dataclass
class InspectState:
    """What the Inspect page remembers for a session beyond its widgets, in one object (session key "inspect")."""

    page_tensor: str = ""  # the tensor whose value pages are shown: another one starts at its page 1
    goto: dict | None = None  # the last "Go to byte offset": where it landed, or why it could not
    open_path: str = ""  # a model folder another page asked to open here (Teach's "Open it in Inspect"), once


def inspect_state() -> InspectState:
    return page_state("inspect", InspectState)


# Each entry can hold a model of up to MLX_MAX_MODEL_PARAMS weights: few entries, and they expire.
@st.cache_resource(show_spinner="Reading the upload…", max_entries=4, ttl=600)
def inspect_upload(digest: str, _json_bytes: bytes, _shards: dict[str, bytes]) -> inspector.Inspection:
    del digest  # the cache key: a hash of the uploaded bytes (the bytes themselves are not hashed again)
    return inspector.inspect_files(inspector.files_from_uploads(_json_bytes, _shards, label="your upload"))


@st.cache_resource(show_spinner=False, max_entries=4, ttl=600)
def upload_layout(digest: str, _json_bytes: bytes, _shards: dict[str, bytes]) -> pager.WeightsLayout:
    del digest  # the cache key, as for inspect_upload
    return pager.weights_layout(inspector.files_from_uploads(_json_bytes, _shards, label="your upload"))


# Built once per upload content (issue 25: a 9 M-parameter upload rebuilt its zip on every rerun, 2.7 s each), and
# only when Download is pressed. Zips are at most MLX_MAX_MODEL_MB; few entries, and they expire.
@st.cache_data(show_spinner=False, max_entries=4, ttl=600)
def upload_tfjs_zip(digest: str, _inspection: inspector.Inspection) -> bytes:
    del digest  # the cache key: the upload's content hash, as for inspect_upload
    return inspector.export_zip(_inspection)


def upload_zip_on_click(digest: str, inspection: inspector.Inspection) -> Callable[[], bytes]:
    """The download button's data for an upload: a callable Streamlit runs when Download is pressed (on a thread of
    its own), so viewing the page never builds the zip (issue 25: its copies were most of a 313 MB request)."""
    return lambda: upload_tfjs_zip(digest, inspection)


CHARTS_NEED_A_PASS = "Charts are drawn only for a model that passes every check; see the Checks tab for what failed."


def _show(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def upload_source() -> tuple[inspector.Inspection, pager.WeightsLayout | None, str, str]:
    """The upload branch: the file uploaders, and the uploaded model read and laid out (stops the page until a
    model.json is uploaded, or when it cannot be read). Returns the inspection, its layout (or why there is none)
    and the upload's content hash."""
    limit = get_settings().max_upload_mb
    st.caption(f"Files are read as data only, never run, and each may be at most {limit:g} MB.")
    up_json = st.file_uploader("model.json", type=["json"], key="inspect.upload_json")
    up_bins = st.file_uploader("weights (.bin)", type=["bin"], accept_multiple_files=True, key="inspect.upload_bin")
    if up_json is None:
        st.info("Upload a model.json (and its .bin file) to inspect it.")
        st.stop()
    shards = {f.name: f.getvalue() for f in up_bins or []}
    json_bytes = up_json.getvalue()
    hasher = hashlib.sha256(json_bytes)  # fed piece by piece: joining the uploads first would copy them all
    for name, data in sorted(shards.items()):
        hasher.update(name.encode())
        hasher.update(data)
    digest = hasher.hexdigest()
    try:
        inspection = inspect_upload(digest, json_bytes, shards)
    except store_topology.StoreError as exc:
        st.error(str(exc))
        st.stop()
    try:
        layout, layout_error = upload_layout(digest, json_bytes, shards), ""
    except store_topology.StoreError as exc:
        layout, layout_error = None, str(exc)
    return inspection, layout, layout_error, digest


def layers_tab(inspection: inspector.Inspection) -> None:
    """The Layers tab: the layer table, the layer graph, every config value and the initializers."""
    if inspection.layers:
        table = pd.DataFrame(inspection.layers)
        st.dataframe(table, hide_index=True, width="stretch")
        st.caption(f"Total parameters: {int(table['params'].sum()):,} (the numbers model.summary() prints).")
    else:
        st.warning("The layers could not be rebuilt, so there are no output shapes or parameter counts.")
    nodes = inspect_graph.graph_nodes(inspection) if inspection.ok else []
    if not inspection.ok:
        st.caption(CHARTS_NEED_A_PASS)
    elif nodes:
        st.plotly_chart(inspect_figures.layer_graph(nodes), key="inspect.graph")
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


def weights_tab(inspection: inspector.Inspection, layout: pager.WeightsLayout | None, layout_error: str) -> None:
    """The Weights tab: the weightsManifest as a byte map, then one tensor's values (see tensor_view)."""
    if not inspection.manifest:
        st.warning("The weights manifest could not be read; see the Checks tab.")
    else:
        st.markdown("**The weightsManifest as a byte map:** each tensor's place in the .bin file.")
        st.dataframe(pd.DataFrame(inspection.manifest), hide_index=True, width="stretch")
        per_layer = pd.DataFrame(inspection.manifest).groupby("layer", sort=False)["length"].sum()
        total_bytes = int(per_layer.sum())
        if not inspection.ok:
            st.caption(CHARTS_NEED_A_PASS)
        else:
            st.plotly_chart(inspect_figures.byte_strip(inspection.manifest), key="inspect.strip")
        if inspection.ok and total_bytes:
            st.caption(
                f"{per_layer.idxmax()} holds {per_layer.max() / total_bytes:.0%} of the {total_bytes:,} bytes; "
                "hover a thin sliver to see the smaller tensors."
            )
        tensor_view(inspection, layout, layout_error)


@st.fragment
@guarded("The tensor view")
def tensor_view(inspection: inspector.Inspection, layout: pager.WeightsLayout | None, layout_error: str = "") -> None:
    """One tensor: its values page by page (bytes beside Keras's values), stats, histogram, heatmap (a fragment:
    choosing reruns only this)."""
    names = [row["name"] for row in inspection.manifest]
    default = next((i for i, n in enumerate(names) if n.endswith("/kernel")), 0)
    name = st.selectbox("Tensor", names, index=default, key="inspect.tensor")
    state = inspect_state()
    if state.page_tensor != name:  # another tensor: start at its first page
        state.page_tensor = name
        st.session_state["inspect.page"] = 1
        state.goto = None  # the last jump's message was about another tensor
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
    if array is not None and not inspection.ok:
        st.caption("Statistics, the histogram and the heatmap are drawn only for a model that passes every check.")
    elif array is not None:
        stats = tensor_values.tensor_stats(array)
        cols = st.columns(4)
        for col, key in zip(cols, ("min", "max", "mean", "std"), strict=True):
            col.metric(key, f"{stats[key]:.4g}" if stats[key] is not None else "—")
        left, right = st.columns(2)
        counts, edges = tensor_values.tensor_histogram(array)
        left.plotly_chart(
            inspect_figures.tensor_histogram_figure(counts, edges, f"{name}: histogram"), key="inspect.hist"
        )
        matrix, caption = tensor_values.tensor_matrix(array)
        right.plotly_chart(
            inspect_figures.tensor_heatmap(matrix, f"{name}: heatmap", square_cells=array.ndim == 4), key="inspect.heat"
        )
        right.caption(caption)


def _go_to_offset(layout: pager.WeightsLayout) -> None:
    """The "Go" button: select the tensor and page that hold the byte offset asked for, or say why there is none."""
    widgets, state = st.session_state, inspect_state()
    try:
        where = pager.locate_offset(layout, int(widgets["inspect.offset"]), widgets.get("inspect.offset_file"))
    except store_topology.StoreError as exc:
        state.goto = {"error": str(exc)}
        return
    widgets["inspect.tensor"] = state.page_tensor = where.tensor
    widgets["inspect.page"] = where.page
    state.goto = {
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
    goto = inspect_state().goto or {}
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
    first = result.rows[0]["position"]
    keras = pager.keras_values(inspection.model, name, first, len(result.rows))  # this page's values only
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
                "Keras value": ["—" if keras is None else _number(keras[r["position"] - first]) for r in result.rows],
                "match": [
                    "—" if keras is None else "✓" if keras[r["position"] - first] == r["value"] else "✗"
                    for r in result.rows
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
