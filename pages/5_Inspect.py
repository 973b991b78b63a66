"""Inspect: read a saved model's layers against its binary weights, byte by byte, diff two versions, export for TF.js."""

from pathlib import Path

import pandas as pd
import streamlit as st

from core.inspector import figures as inspect_figures
from core.inspector import inspect as inspector
from core.inspector import tensor_pages as pager
from core.inspector import values as tensor_values
from core.store import export, topology
from core.store import models as store
from ui import inspect_views as views
from ui.common import guard, guarded, page_header
from ui.identity import owner
from ui.inspect_views import layers_tab, upload_source, weights_tab

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


# Built only when Download is pressed (the button's data is a callable, run off the page's thread), then cached.
@st.cache_data(show_spinner=False, max_entries=4, ttl=600)
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


def _stamp(path: Path) -> float:
    json_path = path / store.MODEL_JSON
    return json_path.stat().st_mtime if json_path.exists() else 0.0


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
        except topology.StoreError as exc:
            st.error(f"These versions cannot be compared: {exc}")
        else:
            diff = tensor_values.diff_arrays(before_arrays, after_arrays)
            st.dataframe(pd.DataFrame(diff), hide_index=True, width="stretch")
            st.plotly_chart(inspect_figures.diff_bars(diff), key="inspect.diff_bars")
            comparable = [r["name"] for r in diff if r["l2_change"] is not None]
            if comparable:
                tensor = st.selectbox("Difference heatmap of", comparable, key="inspect.diff_tensor")
                matrix, caption = tensor_values.tensor_matrix(after_arrays[tensor] - before_arrays[tensor])
                st.plotly_chart(
                    inspect_figures.tensor_heatmap(matrix, f"{tensor}: after − before"), key="inspect.diff_heat"
                )
                st.caption(caption)


def main() -> None:
    """The page body; any error in it becomes one plain line (see ui.common.guard)."""
    # ---------------------------------------------------------------- 1. choose a model
    choices = inspector.model_choices(owner=owner())  # shipped models and the user's own (or class-shared) versions
    source = st.radio("Model", ["A saved model", "Upload model.json + .bin"], horizontal=True, key="inspect.source")
    inspection, chosen, digest = None, None, ""
    if source == "A saved model":
        if not choices:
            st.info("No saved models were found.")
            st.stop()
        labels = [c.label for c in choices]
        asked = views.inspect_state().open_path  # another page's "Open it in Inspect": select that folder, once
        if asked:
            views.inspect_state().open_path = ""
            found = [c.label for c in choices if str(c.path) == asked]
            if found:
                st.session_state["inspect.model"] = found[0]
            else:
                st.warning("The model you asked to open is not among the saved models any more.")
        label = st.selectbox("Saved model", labels, key="inspect.model")
        chosen = choices[labels.index(label)]
        try:
            inspection = inspect_folder(str(chosen.path), _stamp(chosen.path))
        except topology.StoreError as exc:
            st.error(f"This model folder cannot be read: {exc}")
            st.stop()
        try:
            layout, layout_error = folder_layout(str(chosen.path), _stamp(chosen.path)), ""
        except topology.StoreError as exc:  # the checks below say the same in their own words
            layout, layout_error = None, str(exc)
    else:
        inspection, layout, layout_error, digest = upload_source()

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
        layers_tab(inspection)

    # ---------------------------------------------------------------- 3. weights
    with tab_weights:
        weights_tab(inspection, layout, layout_error)

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
            if chosen is not None:
                path, stamp = str(chosen.path), _stamp(chosen.path)
                data = lambda: tfjs_zip(path, stamp)  # noqa: E731 - built when Download is pressed, not on view
                filename = f"{chosen.label.replace(' · ', '-')}-tfjs.zip"
            else:
                data = views.upload_zip_on_click(digest, inspection)  # built on the click, once per upload content
                filename = "upload-tfjs.zip"
            st.download_button(
                "Download for TensorFlow.js (.zip)", data, filename, "application/zip", key="inspect.download"
            )


with guard("The Inspect page"):
    main()
