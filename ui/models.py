"""Model loading for the pages: shared read-only models via st.cache_resource, and each session's active version.

A cached model is shared by every user, so nothing may train or mutate it; retraining works on a copy
(core.training.copy_model) and the result is saved as a version, which a session can make active.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import script_runner

from core.engine import fit as model_fit
from core.store import access, identity, topology
from core.store import models as store
from ui.identity import owner


def _clean_without_keras() -> None:
    """Streamlit's after-run cleanup, minus `keras.backend.clear_session()`.

    Written by hand because Streamlit has no setting for it: after EVERY script or fragment run of every session,
    Streamlit clears Keras' global state, which empties TensorFlow's kernel cache and forces a full garbage
    collection. That is meant for scripts that build models in their body; here models are cached resources and are
    never built on a rerun, so the clearing only cost each live prediction about 0.2 s of server CPU (py-spy), and it
    could reset state under a training running in another thread. Matplotlib's cleanup is kept.
    """
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


if hasattr(script_runner, "_clean_problem_modules"):  # a Streamlit upgrade that drops it needs no patch
    script_runner._clean_problem_modules = _clean_without_keras


@st.cache_resource(show_spinner="Loading the model…", max_entries=32)
def _load_cached(path: str, stamp: float) -> store.LoadedModel:
    del stamp  # part of the cache key only: a re-saved folder loads afresh
    loaded = store.load_model(path)
    # Everything alive now (TensorFlow, Keras, Streamlit and this model) lives as long as the process: move it out of
    # the garbage collector's sight. Otherwise each full collection walked TensorFlow's whole heap, ~0.2 s with every
    # session's script thread stopped, and in a class of 30 those pauses were the slowest requests (bench --only
    # class; the collection log showed 120-220 ms gen-2 pauses). gc.freeze is O(1); garbage it freezes stays.
    gc.freeze()
    return loaded


def load_model_folder(path: str | Path) -> store.LoadedModel:
    """Load (once per folder and modification time) a model folder; raises StoreError with a plain message."""
    path = Path(path)
    json_path = path / store.MODEL_JSON
    stamp = json_path.stat().st_mtime if json_path.exists() else 0.0
    return _load_cached(str(path), stamp)


def active_path(family: str) -> Path:
    """The user's active model folder for `family`: a chosen user version, or the shipped model.

    The choice belongs to the user's identity (ui.identity), so it survives a reload; the session keeps a copy."""
    key = f"active.{family}"
    if key not in st.session_state:
        st.session_state[key] = identity.active_models(owner()).get(family)
    chosen = st.session_state.get(key)
    if chosen and Path(chosen).is_dir():
        try:  # only a model the user may load: theirs, shared with their class, or shipped (core.store.access)
            return access.model_path(owner(), chosen)
        except topology.StoreError:
            st.session_state[key] = None
    return store.shipped_model_dir(family)


def set_active(family: str, path: str | Path | None) -> None:
    """Make a version active for this user only (None goes back to the shipped model), in every tab after a reload."""
    st.session_state[f"active.{family}"] = str(path) if path else None
    try:
        identity.set_active_model(owner(), family, str(path) if path else None)
    except OSError as exc:  # a read-only data folder: the choice still holds for this session
        st.warning(f"Your choice holds for this session only: it could not be saved ({exc}).")


def load_active(family: str) -> store.LoadedModel | None:
    """The session's active model, or None after showing a plain error (the page then explains what to do).

    A version that cannot be loaded, or that does not fit the family's pages (class count, input shape, family;
    core.model_fit), is dropped for the session with a warning naming the problem, and the shipped model is used.
    """
    path = active_path(family)
    shipped = path == store.shipped_model_dir(family)
    try:
        loaded = load_model_folder(path)
    except topology.StoreError as exc:
        if shipped:
            st.error(f"The {family} model could not be loaded: {exc}")
            return None
        problem = f"could not be loaded ({exc})"
    else:
        misfit = None if shipped else model_fit.fit_problem(family, loaded.model_json)
        if misfit is None:
            return loaded
        problem = f"does not fit this page: {misfit}"
    st.warning(f"Your active {family} version {path.name} {problem}. Using the shipped model instead.")
    set_active(family, None)
    return load_active(family)


def uses_shipped(family: str) -> bool:
    """True when the session's active model for `family` is the shipped one (the one with a browser copy)."""
    return active_path(family) == store.shipped_model_dir(family)


def active_label(family: str) -> str:
    path = active_path(family)
    return "the shipped model" if path == store.shipped_model_dir(family) else f"your version {path.name}"
