"""Streamlit sections of the Vector search page: backend, pool picker, start, labelling, finish and experiment.

Each function draws one self-contained part of pages/6_Vector_search.py and keeps that page's widget keys.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from core import maths
from core.engine import registry as families
from core.store import topology as store_topology
from core.vectors import experiment as vector_experiment
from core.vectors import figures as vector_figures
from core.vectors import search as vectors
from core.vectors.loop import QUERY_BOUNDARY, QUERY_TOP, LabellingLoop
from ui.common import DEMO_SEED, demo_mode
from ui.identity import owner

QUERY_MODES = ("around w's decision boundary", "the top matches for w")
QUERY_MODE_KEYS = {QUERY_MODES[0]: QUERY_BOUNDARY, QUERY_MODES[1]: QUERY_TOP}  # the radio's words -> the loop's


@dataclass
class VectorState:
    """Everything the Vector search page remembers for a session, in one object (session key "vectors")."""

    session: str = field(default_factory=lambda: uuid.uuid4().hex[:16])  # this session's seen flags in Qdrant
    loop: LabellingLoop = field(default_factory=LabellingLoop)
    shuffle: int = 0  # "Show other items" presses: which 15 items the pick-positives start shows
    failed_backends: dict[str, str] = field(default_factory=dict)  # Qdrant backends that failed, and why
    experiment: dict | None = None  # the last simulated-annotator comparison


@st.cache_resource(show_spinner="Opening Qdrant…")
def shared_client(location: str, url: str):
    """One Qdrant client per process and backend.

    Embedded Qdrant lets one process open a folder once, so every session shares this client."""
    return vectors.open_client(location=location, url=url)


def open_backend(settings, state: VectorState):
    """The configured Qdrant; on failure, say why and fall back (server → embedded folder → memory).

    Returns the client, or None when every backend failed."""
    attempts = []
    if settings.qdrant_url:
        attempts.append(("", settings.qdrant_url))
    attempts += [(settings.qdrant_location, ""), (":memory:", "")]
    # A failed backend is remembered for the session, so a dead server URL does not slow every rerun.
    failed = state.failed_backends
    for location, url in attempts:
        key = f"{url}|{location}"
        if key in failed:
            st.error(failed[key])
            continue
        try:
            return shared_client(location, url)
        except vectors.VectorStoreError as exc:
            failed[key] = f"{exc} Falling back to the next option, so the page stays usable."
            st.error(failed[key])
    return None


def pool_picker() -> tuple[str, int]:
    """The pool radio and its size input.

    Returns the pool name ('colors' or 'drawings') and the chosen size."""
    pools = families.pools()  # the registry: every family whose model has an embedding to search
    left, right = st.columns([2, 3])
    pool_name = left.radio("Pool", pools, horizontal=True, key="vectors.pool_name")
    size = families.for_pool(pool_name).pool_input  # the family says what its pool's size counts
    pool_size = right.number_input(size.label, 0, size.maximum, size.default, size.step, key=size.key, help=size.help)
    return pool_name, int(pool_size)


def show_item(pool, container, item_id: int, caption: str) -> None:
    """A colour swatch or a drawing thumbnail, with a caption.

    Drawn into container (a column or st itself)."""
    if pool.swatches:
        hex_code = pool.items[item_id]["hex"]
        container.markdown(
            f"<div data-testid='vs-swatch' style='height:48px;border-radius:6px;border:1px solid #999;"
            f"background:{hex_code}'></div><small>{caption} · {hex_code}</small>",
            unsafe_allow_html=True,
        )
    else:
        container.image(255 - pool.raw[item_id], width=64, caption=f"{caption} · {pool.items[item_id]['label']}")


def start_section(state: VectorState, pool, model, class_names, head_layer, start) -> None:
    """Section 1: start w from an existing class head or from a few picked positives.

    start(w, b) is the page's callback that resets the loop and runs the first query."""
    st.subheader("1 · Start")
    how = st.radio(
        "Start from", ["an existing class head", "a few positives I pick"], horizontal=True, key="vectors.start_how"
    )
    if how == "an existing class head":
        default = class_names.index("blue-ish") if "blue-ish" in class_names else 0
        chosen = st.selectbox("Class head", class_names, index=default, key="vectors.start_class")
        st.caption(
            f"The '{chosen}' row of the model's `{head_layer}` layer, mapped into the centred, normalised space."
        )
        if st.button("Start from this head", key="vectors.start_head", type="primary"):
            try:
                start(*vectors.class_head(model, pool, class_names.index(chosen), head_layer))
            except (vectors.HeadError, vectors.VectorStoreError) as exc:
                st.error(str(exc))
    else:
        if st.button("Show other items", key="vectors.shuffle", help="None of these is the concept? Draw 15 others."):
            state.shuffle += 1
        shuffle, round_id = state.shuffle, state.loop.round
        rng = np.random.default_rng([DEMO_SEED if demo_mode() else 0, round_id, shuffle])
        sample = [int(i) for i in rng.choice(len(pool), min(15, len(pool)), replace=False)]
        cols = st.columns(5)
        picked = []
        for n, item_id in enumerate(sample):
            cell = cols[n % 5]
            show_item(pool, cell, item_id, f"item {item_id}")
            if cell.checkbox("positive", key=f"vectors.pick.{round_id}.{shuffle}.{item_id}"):
                picked.append(item_id)
        if st.button("Start from these positives", key="vectors.start_picks", type="primary"):
            if not picked:
                st.error("Tick at least one item as positive first: w starts as the mean direction of your positives.")
            else:
                try:
                    start(*vectors.seed_head(pool, picked))
                except (vectors.HeadError, vectors.VectorStoreError) as exc:
                    st.error(str(exc))


LABELS = {"yes": 1.0, "no": -1.0}  # a round's answers -> the head's targets; an item left unmarked is skipped (0)


def label_grid(pool, hits, round_id: int) -> None:
    """The query's hits, each with a yes / no toggle pair; drawn inside the Train step form, so marking a whole
    round is one rerun (on Train step). Keys are vectors.label.<round>.<item id>, read back by round_labels."""
    if not hits:
        st.warning("No unseen items are left for this query: press Reset seen to search the whole pool again.")
    cols = st.columns(5)
    for n, (item_id, score) in enumerate(hits):
        cell = cols[n % 5]
        show_item(pool, cell, item_id, f"score {score:+.3f}")
        cell.segmented_control(
            f"Label for item {item_id}",
            list(LABELS),
            key=f"vectors.label.{round_id}.{item_id}",
            label_visibility="collapsed",  # the caption above says what yes, no and unmarked mean
        )


def round_labels(hits, round_id: int) -> dict[int, float]:
    """This round's answers as the loop's labels: +1 yes, −1 no, 0 for an item left unmarked."""
    answers = {item_id: st.session_state.get(f"vectors.label.{round_id}.{item_id}") for item_id, _ in hits}
    return {item_id: LABELS.get(answer, 0.0) for item_id, answer in answers.items()}


def finish_section(state: VectorState, pool, w, b: float, logits) -> None:
    """Section 3: the whole pool's top positives under w, and saving the head.

    The saved head lands in heads/ for the Inspector."""
    st.subheader("3 · Finish: the whole pool's top positives")
    top = np.argsort(-logits)[:20]
    cols = st.columns(10)
    for n, item_id in enumerate(top):
        show_item(pool, cols[n % 10], int(item_id), f"{maths.sigmoid(logits[item_id]):.2f}")
    st.caption(f"{int((logits > 0).sum())} of {len(pool):,} items score above the boundary (p > 0.5).")
    s1, s2 = st.columns([2, 1])
    head_name = s1.text_input("Head name", value="my-concept", max_chars=40, key="vectors.head_name")
    if s2.button("Save the head", key="vectors.save"):
        try:
            version = vectors.save_head(
                w,
                b,
                pool,
                head_name,
                {"labels": len(state.loop.labelled), "session_steps": state.loop.steps, "owner": owner()},
            )
            st.success(f"Saved as heads/{version.version_id}: open it in the Inspector.")
        except (store_topology.StoreError, OSError) as exc:
            st.error(f"The head could not be saved: {exc}")


def experiment_section(state: VectorState, pool) -> None:
    """Section 4: simulated annotators compare vector search with random sampling.

    The result is kept in state.experiment across reruns."""
    st.subheader("4 · Does it need fewer labels than random?")
    st.write(
        "A simulated annotator labels by a fixed rule. Every strategy starts from the same 3 positives and trains the "
        "same way; vector search labels the unseen items at w's boundary, 'vector search top' the top unseen items for "
        "w (the literal top-k), random sampling random unseen items."
    )
    concepts = vector_experiment.concepts_of(pool.name)
    e1, e2, e3 = st.columns(3)
    concept = e1.selectbox("Concept", list(concepts), key="vectors.concept")
    budget = e2.number_input("Label budget", 10, 400, 200, 10, key="vectors.budget")
    target = e3.number_input("Target F1", 0.1, 1.0, 0.9, 0.05, key="vectors.target")
    st.caption(f"{concept}: {concepts[concept].description}.")
    if st.button("Run the comparison", key="vectors.run_experiment"):
        with st.spinner("Simulating both annotators…"):
            state.experiment = vector_experiment.run_experiment(
                pool, concept, int(budget), DEMO_SEED if demo_mode() else 0, float(target)
            )
    result = state.experiment
    if result and result["pool"] == pool.name:
        st.plotly_chart(vector_figures.strategy_f1_curves(result), key="vectors.experiment_chart")
        needed = {s: v["labels_to_target"] for s, v in result["strategies"].items()}
        st.write(
            f"Labels to reach F1 {result['target_f1']:g}: vector search **{needed['vector_search'] or 'not reached'}**, "
            f"vector search top **{needed['vector_search_top'] or 'not reached'}**, "
            f"random **{needed['random'] or 'not reached'}** (budget {result['budget']})."
        )
        share = {s: v["positive_labels"] / max(1, v["curve"]["labels"][-1]) for s, v in result["strategies"].items()}
        st.caption(
            f"Share of labels that were positives: vector search {share['vector_search']:.0%}, top "
            f"{share['vector_search_top']:.0%}, random {share['random']:.0%}; the pool holds "
            f"{result['positives_in_pool']} positives in {result['pool_size']:,}. When the concept has more positives "
            "than the budget, the literal top-k stays all positive: w's direction improves, but with no negatives the "
            "bias drifts towards 'everything is it'. The boundary window gets both kinds, where they are hardest to tell."
        )
