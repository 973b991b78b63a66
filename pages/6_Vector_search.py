"""Vector search: fine-tune a linear head w by querying a Qdrant index of embeddings with w itself (seed 002).

Multi-user design: the server process opens ONE Qdrant client (st.cache_resource; embedded Qdrant lets one process
open a folder once) and ONE shared collection per pool. Each browser session has its own token, and its seen flags
live in the payload under seen.<token>, so sessions never see each other's flags; w and the labels live in
st.session_state. A server URL (MLX_QDRANT_URL) uses the same code, and many app processes can share it.
"""

import uuid

import numpy as np
import streamlit as st

from core import families, store, vectors
from core import figures as fig
from core.settings import get_settings
from ui import vector_views as views
from ui.common import demo_mode, guard, page_header
from ui.models import active_label, load_active

page_header(
    "Vector search",
    "🧭",
    "A big model turns every item into an embedding; a linear head w on top decides 'is it the concept?'. "
    "Query a vector database with w itself, label the top matches from −1 to +1, train w, and repeat: each round "
    "the labels land where w is unsure.",
)

# The page's boundary: any error below is one plain line on the page, its traceback in the server log.
with guard("The Vector search page"):
    state = st.session_state
    state.setdefault("vectors.session", uuid.uuid4().hex[:16])
    settings = get_settings()

    # ---------------------------------------------------------------- the vector database (one client per process)
    client = views.open_backend(settings, state)
    if client is None:
        st.stop()

    # ---------------------------------------------------------------- the pool
    pool_name, pool_size = views.pool_picker()
    family = families.for_pool(pool_name).name
    loaded = load_active(family)
    if loaded is None:
        st.stop()
    model = loaded.model

    @st.cache_resource(show_spinner="Embedding the pool…", max_entries=8)
    def cached_pool(name: str, model_path: str, stamp: float, size: int, n_user: int) -> vectors.Pool:
        del model_path, stamp, n_user  # cache key only: one pool per model, save time and user samples
        if name == "colors":
            return vectors.color_pool(model, size)
        from core import samples

        try:
            user = [(image, label) for _, image, label, _ in samples.drawings()]
        except samples.SampleStoreError:
            user = []  # an unreadable samples database must not take the generated pool down with it
        return vectors.drawing_pool(model, size, user_drawings=user)

    def n_user_drawings() -> int:
        if pool_name != "drawings":
            return 0
        from core import samples

        try:
            return sum(samples.drawing_counts().values())
        except samples.SampleStoreError:
            return 0

    try:
        stamp = (loaded.path / store.MODEL_JSON).stat().st_mtime
        pool = cached_pool(pool_name, str(loaded.path), stamp, int(pool_size), n_user_drawings())
    except vectors.VectorStoreError as exc:
        st.error(f"{exc} Choose a pool size above 0 (or save some drawings on the Draw page).")
        st.stop()

    index = vectors.PoolIndex(
        client, pool.name, pool.vectors.shape[1], pool.fingerprint, session=state["vectors.session"]
    )

    def ensure_index() -> bool:
        """Build the shared collection on first use (after a button, since on-disk indexing takes a while)."""
        try:
            if index.size() != len(pool):
                with st.status(
                    f"Indexing {len(pool):,} {pool_name} in Qdrant (once per model and pool size)…"
                ) as status:
                    bar = st.progress(0.0)
                    index.ensure(
                        pool, on_progress=lambda done, total: bar.progress(done / total, f"{done:,} / {total:,}")
                    )
                    status.update(label=f"Indexed {len(pool):,} {pool_name}.", state="complete")
            return True
        except vectors.VectorStoreError as exc:
            st.error(str(exc))
            return False

    st.caption(
        f"{len(pool):,} {pool_name} · embedding: {pool.embedding} ({pool.vectors.shape[1]} dimensions, centred and "
        f"normalised) · {active_label(family)} · Qdrant {vectors.backend_label(client)}, collection {index.collection}"
    )

    # ---------------------------------------------------------------- per-session loop state
    loop_key = f"{pool.name}-{pool.fingerprint}"
    if state.get("vectors.loop_key") != loop_key:
        state["vectors.loop_key"] = loop_key
        for key in ("vectors.w", "vectors.b", "vectors.path", "vectors.hits", "vectors.losses", "vectors.warning"):
            state.pop(key, None)
        state["vectors.labelled"] = {}
        state["vectors.round"] = 0
    coords, components = vectors.pca_2d(pool.vectors)
    if pool.name == "colors":
        from core import colors

        class_names = list(colors.CLASS_NAMES)
        head_layer = "logits"
    else:
        from core import shapes

        class_names = shapes.class_names_for(loaded.metadata, model)
        head_layer = "dense_out"

    def query(w, b: float) -> None:
        """The next items to label: the top-k for w, or the k unseen items straddling w's decision boundary."""
        k = int(state.get("vectors.k", vectors.TOP_K))
        offset = 0
        if state.get("vectors.query_mode", views.QUERY_MODES[0]) == views.QUERY_MODES[0]:
            offset = vectors.boundary_offset(pool, w, b, index.seen_ids(), k)
        state["vectors.hits"] = [(h.id, h.score) for h in index.search(w, k, offset=offset)]

    def start(w, b: float) -> None:
        if not ensure_index():
            return
        index.reset_seen()
        state["vectors.w"], state["vectors.b"] = np.asarray(w, np.float32), float(b)
        state["vectors.path"] = [components @ state["vectors.w"]]
        state["vectors.labelled"] = {}
        state["vectors.losses"] = []
        state["vectors.warning"] = ""
        state["vectors.round"] += 1
        query(state["vectors.w"], state["vectors.b"])

    # ---------------------------------------------------------------- 1. start
    views.start_section(state, pool, model, class_names, head_layer, start)

    if "vectors.w" not in state:
        st.info("Choose a start above: the loop begins once w points somewhere.")
        st.stop()
    if not ensure_index():
        st.stop()

    # ---------------------------------------------------------------- 2. the loop
    st.subheader("2 · Label what the query returns, train, repeat")
    w, b = state["vectors.w"], state["vectors.b"]
    hits = state.get("vectors.hits") or []
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Labelled", len(state["vectors.labelled"]))
    c2.metric("Seen (excluded from the query)", index.seen_count())
    c3.metric("Train steps", len(state["vectors.path"]) - 1)
    k = c4.number_input("Items per query (k)", 4, 40, vectors.TOP_K, key="vectors.k")
    st.radio(
        "Query",
        views.QUERY_MODES,
        horizontal=True,
        key="vectors.query_mode",
        help="Both are one Qdrant query with w over the unseen items. The top matches stay all positive while the "
        "concept has more items than you label; around the boundary, Qdrant skips (offset) the items w is already "
        "sure about, so each label lands where w is unsure. Applies from the next query.",
    )
    st.caption("Each score is Qdrant's dot product of the item with w/|w|: the ranking the query uses.")
    round_id = state["vectors.round"]
    views.label_grid(pool, hits, round_id)

    with st.form("vectors.train_form", border=False):
        f1_, f2_, f3_ = st.columns([1, 1, 1])
        if demo_mode():  # expert controls hidden: the defaults are the seed's settings
            iterations, learning_rate = vectors.ITERATIONS, vectors.LEARNING_RATE
        else:
            iterations = f1_.number_input("Iterations", 1, 5000, vectors.ITERATIONS, key="vectors.iterations")
            learning_rate = f2_.number_input(
                "Learning rate", 0.0, 100.0, vectors.LEARNING_RATE, 0.5, key="vectors.lr", format="%.3f"
            )
        train_clicked = f3_.form_submit_button("Train step", type="primary")
    if train_clicked:
        batch = {item_id: float(state.get(f"vectors.label.{round_id}.{item_id}", 0.0)) for item_id, _ in hits}
        labelled = {**state["vectors.labelled"], **{i: v for i, v in batch.items() if v != 0}}
        try:
            if hits and all(v == 0 for v in batch.values()):
                vectors.check_labels(list(batch.values()))  # says plainly that all-0 is nothing to train on
            ids = list(labelled)
            step = vectors.train_head(
                w, b, pool.vectors[ids], [labelled[i] for i in ids], int(iterations), learning_rate
            )
        except vectors.HeadError as exc:
            st.error(str(exc))  # nothing changed: the sliders keep their values
        else:
            index.mark_seen([item_id for item_id, _ in hits])
            state["vectors.labelled"] = labelled
            state["vectors.w"], state["vectors.b"] = step.w, step.b
            state["vectors.path"].append(components @ step.w)
            state["vectors.losses"] = step.losses
            state["vectors.warning"] = step.warning
            state["vectors.round"] += 1
            try:
                query(step.w, step.b)
            except vectors.HeadError as exc:
                st.error(str(exc))
            st.rerun()

    if state.get("vectors.warning"):
        st.warning(state["vectors.warning"])
    b1, b2 = st.columns(2)
    if b1.button("Reset seen", key="vectors.reset", help="Clear this session's seen flags: every item can come back."):
        n = index.reset_seen()
        query(w, b)
        state["vectors.round"] += 1
        st.toast(f"Cleared {n} seen flags.")
        st.rerun()

    logits = vectors.pool_logits(pool, w, b)
    g1, g2 = st.columns(2)
    with g1:
        point_colors = [item["hex"] for item in pool.items] if pool.name == "colors" else None
        st.plotly_chart(
            fig.pool_projection(coords, point_colors, state["vectors.labelled"], state["vectors.path"]),
            key="vectors.pca",
        )
    with g2:
        st.plotly_chart(fig.score_histogram(logits), key="vectors.hist")
        if state.get("vectors.losses"):
            losses = state["vectors.losses"]
            st.plotly_chart(fig.head_loss_curve(losses), key="vectors.loss")
            st.caption(f"BCE loss {losses[0]:.4f} → {losses[-1]:.4f} over {len(losses)} iterations.")

    # ---------------------------------------------------------------- 3. finish
    views.finish_section(state, pool, w, b, logits)

    # ---------------------------------------------------------------- 4. the claim, measured
    views.experiment_section(state, pool)
