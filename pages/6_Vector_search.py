"""Vector search: fine-tune a linear head w by querying a Qdrant index of embeddings with w itself (seed 002).

Multi-user design: the server process opens ONE Qdrant client (st.cache_resource; embedded Qdrant lets one process
open a folder once) and ONE shared collection per pool. Each browser session has its own token, and its seen flags
live in the payload under seen.<token>, so sessions never see each other's flags; w and the labels live in
st.session_state. A server URL (MLX_QDRANT_URL) uses the same code, and many app processes can share it.
"""

import uuid

import numpy as np
import streamlit as st

from core import figures as fig
from core import maths, store, vectors
from core.settings import get_settings
from ui.common import DEMO_SEED, demo_mode, guard, page_header
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
    @st.cache_resource(show_spinner="Opening Qdrant…")
    def shared_client(location: str, url: str):
        return vectors.open_client(location=location, url=url)

    def open_backend():
        """The configured Qdrant; on failure, say why and fall back (server → embedded folder → memory)."""
        attempts = []
        if settings.qdrant_url:
            attempts.append(("", settings.qdrant_url))
        attempts += [(settings.qdrant_location, ""), (":memory:", "")]
        # A failed backend is remembered for the session, so a dead server URL does not slow every rerun.
        failed = state.setdefault("vectors.failed_backends", {})
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

    client = open_backend()
    if client is None:
        st.stop()

    # ---------------------------------------------------------------- the pool
    pools = ["colors"] + (["drawings"] if (store.shipped_model_dir("shapes") / store.MODEL_JSON).is_file() else [])
    left, right = st.columns([2, 3])
    pool_name = left.radio("Pool", pools, horizontal=True, key="vectors.pool_name")
    if pool_name == "colors":
        pool_size = right.number_input(
            "Colours in the pool",
            0,
            20_000,
            vectors.COLOR_POOL_SIZE,
            256,
            key="vectors.pool_size",
            help="Random RGB colours (fixed seed), embedded by the colour model's 32-unit hidden layer.",
        )
    else:
        pool_size = right.number_input(
            "Generated drawings per shape",
            0,
            1000,
            vectors.DRAWINGS_PER_CLASS,
            50,
            key="vectors.pool_size_d",
            help="Generated drawings of each of the 8 shapes, plus every drawing saved on the Draw page.",
        )
    family = "colors" if pool_name == "colors" else "shapes"
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

    def show_item(container, item_id: int, caption: str) -> None:
        """A colour swatch or a drawing thumbnail, with a caption."""
        if pool.name == "colors":
            hex_code = pool.items[item_id]["hex"]
            container.markdown(
                f"<div data-testid='vs-swatch' style='height:48px;border-radius:6px;border:1px solid #999;"
                f"background:{hex_code}'></div><small>{caption} · {hex_code}</small>",
                unsafe_allow_html=True,
            )
        else:
            container.image(255 - pool.raw[item_id], width=64, caption=f"{caption} · {pool.items[item_id]['label']}")

    def query(w, b: float) -> None:
        """The next items to label: the top-k for w, or the k unseen items straddling w's decision boundary."""
        k = int(state.get("vectors.k", vectors.TOP_K))
        offset = 0
        if state.get("vectors.query_mode", QUERY_MODES[0]) == QUERY_MODES[0]:
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

    QUERY_MODES = ("around w's decision boundary", "the top matches for w")

    # ---------------------------------------------------------------- 1. start
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
            state["vectors.shuffle"] = state.get("vectors.shuffle", 0) + 1
        shuffle = state.get("vectors.shuffle", 0)
        rng = np.random.default_rng([DEMO_SEED if demo_mode() else 0, state["vectors.round"], shuffle])
        sample = [int(i) for i in rng.choice(len(pool), min(15, len(pool)), replace=False)]
        cols = st.columns(5)
        picked = []
        for n, item_id in enumerate(sample):
            cell = cols[n % 5]
            show_item(cell, item_id, f"item {item_id}")
            if cell.checkbox("positive", key=f"vectors.pick.{state['vectors.round']}.{shuffle}.{item_id}"):
                picked.append(item_id)
        if st.button("Start from these positives", key="vectors.start_picks", type="primary"):
            if not picked:
                st.error("Tick at least one item as positive first: w starts as the mean direction of your positives.")
            else:
                try:
                    start(*vectors.seed_head(pool, picked))
                except (vectors.HeadError, vectors.VectorStoreError) as exc:
                    st.error(str(exc))

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
        QUERY_MODES,
        horizontal=True,
        key="vectors.query_mode",
        help="Both are one Qdrant query with w over the unseen items. The top matches stay all positive while the "
        "concept has more items than you label; around the boundary, Qdrant skips (offset) the items w is already "
        "sure about, so each label lands where w is unsure. Applies from the next query.",
    )
    st.caption("Each score is Qdrant's dot product of the item with w/|w|: the ranking the query uses.")
    if not hits:
        st.warning("No unseen items are left for this query: press Reset seen to search the whole pool again.")
    round_id = state["vectors.round"]
    cols = st.columns(5)
    for n, (item_id, score) in enumerate(hits):
        cell = cols[n % 5]
        show_item(cell, item_id, f"score {score:+.3f}")
        cell.slider(
            f"Label for item {item_id}",
            -1.0,
            1.0,
            0.0,
            0.25,
            key=f"vectors.label.{round_id}.{item_id}",
            help="+1 is the concept, −1 is not, 0 skips; in between for near-misses.",
            label_visibility="collapsed",
        )

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
    st.subheader("3 · Finish: the whole pool's top positives")
    top = np.argsort(-logits)[:20]
    cols = st.columns(10)
    for n, item_id in enumerate(top):
        show_item(cols[n % 10], int(item_id), f"{maths.sigmoid(logits[item_id]):.2f}")
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
                {"labels": len(state["vectors.labelled"]), "session_steps": len(state["vectors.path"]) - 1},
            )
            st.success(f"Saved as heads/{version.version_id}: open it in the Inspector.")
        except (store.StoreError, OSError) as exc:
            st.error(f"The head could not be saved: {exc}")

    # ---------------------------------------------------------------- 4. the claim, measured
    st.subheader("4 · Does it need fewer labels than random?")
    st.write(
        "A simulated annotator labels by a fixed rule. Every strategy starts from the same 3 positives and trains the "
        "same way; vector search labels the unseen items at w's boundary, 'vector search top' the top unseen items for "
        "w (the literal top-k), random sampling random unseen items."
    )
    concepts = vectors.CONCEPTS[pool.name]
    e1, e2, e3 = st.columns(3)
    concept = e1.selectbox("Concept", list(concepts), key="vectors.concept")
    budget = e2.number_input("Label budget", 10, 400, 200, 10, key="vectors.budget")
    target = e3.number_input("Target F1", 0.1, 1.0, 0.9, 0.05, key="vectors.target")
    st.caption(f"{concept}: {concepts[concept].description}.")
    if st.button("Run the comparison", key="vectors.run_experiment"):
        with st.spinner("Simulating both annotators…"):
            state["vectors.experiment"] = vectors.run_experiment(
                pool, concept, int(budget), DEMO_SEED if demo_mode() else 0, float(target)
            )
    result = state.get("vectors.experiment")
    if result and result["pool"] == pool.name:
        st.plotly_chart(fig.strategy_f1_curves(result), key="vectors.experiment_chart")
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
