"""Vector search: fine-tune a linear head w by querying a Qdrant index of embeddings with w itself (seed 002).

Multi-user design: the server process opens ONE Qdrant client (st.cache_resource; embedded Qdrant lets one process
open a folder once) and ONE shared collection per pool. Each browser session has its own token, and its seen flags
live in the payload under seen.<token>, so sessions never see each other's flags; w and the labels live in
st.session_state. A server URL (MLX_QDRANT_URL) uses the same code, and many app processes can share it.
"""

import streamlit as st

from core.engine import registry as families
from core.settings import get_settings
from core.store import access, samples
from core.store import models as store
from core.vectors import figures as vector_figures
from core.vectors import search as vectors
from core.vectors.loop import LabellingLoop
from ui import vector_views as views
from ui.common import demo_mode, guard, page_header
from ui.identity import owner
from ui.models import active_label, load_active
from ui.state import page_state

page_header(
    "Vector search",
    "🧭",
    "A big model turns every item into an embedding; a linear head w on top decides 'is it the concept?'. "
    "Query a vector database with w itself, mark what comes back yes or no, train w, and repeat: each round "
    "the labels land where w is unsure.",
)

# The page's boundary: any error below is one plain line on the page, its traceback in the server log.
with guard("The Vector search page"):
    state = page_state("vectors", views.VectorState)  # everything this page remembers, in one typed object
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
    def cached_pool(name: str, model_path: str, stamp: float, size: int, whose: str, drawings: str) -> vectors.Pool:
        """One pool per model, save time and size; a drawings pool also per owner and their drawings (whose and
        drawings, core.store.access.drawings_key): it holds the user's own drawings, so it is never another's."""
        del model_path, stamp, drawings  # cache key only
        if families.for_pool(name).user_samples != "drawings":  # the pool holds none of the user's samples
            return families.for_pool(name).build_pool(model, size)
        try:
            user = [(d.image, d.label) for d in access.drawings(whose)]
        except samples.SampleStoreError:
            user = []  # an unreadable samples database must not take the generated pool down with it
        return families.for_pool(name).build_pool(model, size, user_drawings=user)

    def pool_owner() -> tuple[str, str]:
        """(owner, drawings key) for a drawings pool; ("", "") for the colours pool, which holds nobody's work."""
        if families.for_pool(pool_name).user_samples != "drawings":
            return "", ""
        try:
            return owner(), access.drawings_key(owner())
        except samples.SampleStoreError:
            return owner(), ""

    try:
        stamp = (loaded.path / store.MODEL_JSON).stat().st_mtime
        pool = cached_pool(pool_name, str(loaded.path), stamp, int(pool_size), *pool_owner())
    except vectors.VectorStoreError as exc:
        st.error(f"{exc} Choose a pool size above 0 (or save some drawings on the Draw page).")
        st.stop()

    index = vectors.PoolIndex(client, pool.name, pool.vectors.shape[1], pool.fingerprint, session=state.session)

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
    if state.loop.key != loop_key:  # another pool or embedding: a new loop
        state.loop = LabellingLoop(key=loop_key)
    loop = state.loop
    coords, components = vectors.pca_2d(pool.vectors)
    if pool.swatches:
        from core.families.colors import model as colors

        class_names = list(colors.CLASS_NAMES)
        head_layer = "logits"
    else:
        from core.families.shapes import model as shapes

        class_names = shapes.class_names_for(loaded.metadata, model)
        head_layer = "dense_out"

    def query_settings() -> dict:
        """k and the query mode, as the widgets below last set them (they apply from the next query)."""
        mode = st.session_state.get("vectors.query_mode", views.QUERY_MODES[0])
        return {"k": int(st.session_state.get("vectors.k", vectors.TOP_K)), "mode": views.QUERY_MODE_KEYS[mode]}

    def start(w, b: float) -> None:
        if ensure_index():
            loop.start(index, pool, components, w, b, **query_settings())

    # ---------------------------------------------------------------- 1. start
    views.start_section(state, pool, model, class_names, head_layer, start)

    if not loop.started:
        st.info("Choose a start above: the loop begins once w points somewhere.")
        st.stop()
    if not ensure_index():
        st.stop()

    # ---------------------------------------------------------------- 2. the loop
    st.subheader("2 · Label what the query returns, train, repeat")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Labelled", len(loop.labelled))
    c2.metric("Seen (excluded from the query)", index.seen_count())
    c3.metric("Train steps", loop.steps)
    c4.number_input("Items per query (k)", 4, 40, vectors.TOP_K, key="vectors.k")
    st.radio(
        "Query",
        views.QUERY_MODES,
        horizontal=True,
        key="vectors.query_mode",
        help="Both are one Qdrant query with w over the unseen items. The top matches stay all positive while the "
        "concept has more items than you label; around the boundary, Qdrant skips (offset) the items w is already "
        "sure about, so each label lands where w is unsure. Applies from the next query.",
    )
    st.caption(
        "Mark each item yes (the concept) or no, or leave it unmarked to skip it, then press Train step. Each score "
        "is Qdrant's dot product of the item with w/|w|: the ranking the query uses."
    )
    round_id = loop.round
    with st.form("vectors.train_form", border=False):  # one rerun per round: the answers go in with Train step
        views.label_grid(pool, loop.hits, round_id)
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
        batch = views.round_labels(loop.hits, round_id)
        try:
            loop.train_step(index, pool, components, batch, int(iterations), learning_rate, **query_settings())
        except vectors.HeadError as exc:
            st.error(str(exc))  # nothing changed: the answers keep their values
        else:
            st.rerun()

    if loop.warning:
        st.warning(loop.warning)
    b1, b2 = st.columns(2)
    if b1.button("Reset seen", key="vectors.reset", help="Clear this session's seen flags: every item can come back."):
        n = loop.reset_seen(index, pool, **query_settings())
        st.toast(f"Cleared {n} seen flags.")
        st.rerun()
    w, b = loop.w, loop.b

    logits = vectors.pool_logits(pool, w, b)
    g1, g2 = st.columns(2)
    with g1:
        point_colors = [item["hex"] for item in pool.items] if pool.swatches else None
        st.plotly_chart(
            vector_figures.pool_projection(coords, point_colors, loop.labelled, loop.path),
            key="vectors.pca",
        )
    with g2:
        st.plotly_chart(vector_figures.score_histogram(logits), key="vectors.hist")
        if loop.losses:
            losses = loop.losses
            st.plotly_chart(vector_figures.head_loss_curve(losses), key="vectors.loss")
            st.caption(f"BCE loss {losses[0]:.4f} → {losses[-1]:.4f} over {len(losses)} iterations.")

    # ---------------------------------------------------------------- 3. finish
    views.finish_section(state, pool, w, b, logits)

    # ---------------------------------------------------------------- 4. the claim, measured
    views.experiment_section(state, pool)
