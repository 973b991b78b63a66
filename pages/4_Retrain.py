"""Retrain studio: retrain a copy of the colour, shape or text model in the background, watch it learn, look under
the hood (accuracy per class, confusion matrix, the misclassified samples, the loss up to a divergence), keep, use
or delete versions, and compare two versions on the same held-out inputs."""

import streamlit as st

from core.engine import checks as retrain_checks
from core.engine import queues, retrain
from core.engine import registry as families
from core.families.text import model as text_core
from core.settings import get_settings
from core.store import access, identity, samples
from core.store import models as store
from ui import retrain_views as views
from ui import spread_views
from ui.common import DEMO_SEED, demo_mode, guard, page_header
from ui.identity import owner
from ui.job_panel import job_panel
from ui.models import active_label, active_path

page_header(
    "Retrain studio",
    "🛠️",
    "Retrain any model with your own settings and data. Training runs in the background on a copy of your active "
    "model, so you can leave this page and come back; every finished run is saved as a new version.",
)
# The page's boundary: any error below is one plain line on the page, its traceback in the server log.
with guard("The Retrain page"):
    SESSION = owner()  # the user's identity: their job in the training queue and their versions survive a reload
    CLASS_CODE = identity.class_code(SESSION)  # the class the user joined on the Class page ("" none)
    try:  # a class the user was removed from, or that is gone, is no class: its pool is the members' only
        CLASS_CODE = access.my_class(SESSION, CLASS_CODE).code if CLASS_CODE else ""
    except (ValueError, samples.SampleStoreError):
        CLASS_CODE = ""
    QUEUE = queues.get_queue()  # this process's, or the Redis one every process shares (MLX_REDIS_URL)
    settings = get_settings()
    demo = demo_mode()

    current = QUEUE.snapshot(SESSION)  # the session's job as this run draws the page (a frozen copy)
    running = current is not None and current.active

    # ---------------------------------------------------------------- setup

    available = {f.name: f for f in families.with_shipped_model()}  # the registry: every family alike
    if not available:
        st.error("No shipped model is installed on this server, so there is nothing to retrain.")
        st.stop()
    # After a reload (or in another tab) the form is the user's job's, rebuilt from the queue: its family and settings.
    views.restore_form(current, available)
    family = st.radio(
        "Model",
        list(available),
        format_func=lambda f: f"{available[f].icon} {available[f].label}",
        horizontal=True,
        key="retrain.family",
        disabled=running,
    )
    FAMILY = available[family]
    st.caption(f"{FAMILY.description} In use for you: {active_label(family)}.")
    views.example_line(family)
    shipped_meta = store.load_metadata(FAMILY.shipped_dir())
    defaults = retrain_checks.default_settings(family, shipped_meta)
    cap = retrain_checks.epoch_cap(family)

    def _key(name: str) -> str:
        return f"retrain.{family}.{name}"  # per family, so switching models brings back that model's defaults

    quick = retrain_checks.quick_settings(family, shipped_meta)
    if st.button(
        f"⚡ Quick preset: {quick['epochs']} epoch(s), ready in seconds",
        key=_key("quick"),
        disabled=running,
        help="For a class: everyone can train at once. The shipped model's own settings take minutes.",
    ):
        widgets = st.session_state  # set before the form's widgets exist in this run, so they show these values
        widgets[_key("epochs")], widgets[_key("batch")] = int(quick["epochs"]), int(quick["batch_size"])
        widgets[_key("lr")] = f"{quick['learning_rate']:g}"
        for setting, name in (("samples_per_class", "per_class"), ("text_chars", "chars")):
            if setting in quick:
                widgets[_key(name)] = int(quick[setting])
        st.rerun()
    with st.form(f"retrain.form.{family}"):
        st.subheader("Setup")
        data_col, settings_col = st.columns(2)
        with data_col:
            st.markdown("**Data**")
            fresh = False
            if not demo:
                start = st.radio(
                    "Start from",
                    ["copy", "fresh"],
                    format_func={"copy": "a copy of your active model", "fresh": "a fresh, untrained model"}.get,
                    key=_key("start"),
                    disabled=running,
                )
                fresh = start == "fresh"
            has_builtin = FAMILY.builtin_available is None or FAMILY.builtin_available()
            use_builtin = st.checkbox(
                f"Built-in: {FAMILY.builtin_data}",
                value=has_builtin,
                key=_key("builtin"),
                disabled=running or not has_builtin,
            )
            if not has_builtin:
                st.caption(
                    "The corpus is not on this server yet (the Text page can download it): upload a .txt instead."
                )
            use_user = use_class = False
            upload = None
            try:
                if FAMILY.user_samples:
                    counts = access.sample_counts(SESSION, FAMILY.user_samples)
                    shown = ", ".join(f"{k} {v}" for k, v in counts.items()) or "none yet"
                    use_user = st.checkbox(
                        f"My {FAMILY.samples_words} ({shown})", value=bool(counts), key=_key("user"), disabled=running
                    )
                if CLASS_CODE and FAMILY.user_samples:
                    use_class = st.checkbox(
                        f"My class's pool ({views.class_pool_size(CLASS_CODE, FAMILY.user_samples, SESSION)} shared samples; "
                        "instead of my own)",
                        key=_key("class"),
                        disabled=running,
                    )
            except samples.SampleStoreError as exc:
                st.warning(f"Your samples cannot be read right now: {exc}")
            if FAMILY.text_upload:
                upload = st.file_uploader(
                    f"My own text (.txt, UTF-8, up to {settings.max_upload_mb:g} MB)",
                    type=["txt"],
                    key=_key("upload"),
                    disabled=running,
                )
            text_chars = None
            if "text_chars" in defaults:
                text_chars = st.number_input(
                    "Characters to train on (the last ones)",
                    value=defaults["text_chars"],
                    step=10_000,
                    key=_key("chars"),
                    disabled=running,
                    help=f"{retrain_checks.MIN_TEXT_CHARS:,} to {settings.max_text_train_chars:,} on this server. Fewer "
                    "characters, a shorter epoch: about 13,000 a second on two cores.",
                )
            samples_per_class = None
            if "samples_per_class" in defaults and not demo:
                samples_per_class = st.number_input(
                    "Built-in drawings per class",
                    value=defaults["samples_per_class"],
                    step=50,
                    key=_key("per_class"),
                    disabled=running,
                    help=f"At most {settings.max_generated_per_class} on this server. More is slower to train.",
                )
            elif "samples_per_class" in defaults:
                samples_per_class = defaults["samples_per_class"]
            version_name = st.text_input(
                "Version name", value="retrain", max_chars=40, key=_key("name"), disabled=running
            )
        with settings_col:
            st.markdown("**Training**")
            epochs = st.number_input(
                "Epochs", value=defaults["epochs"], step=1, key=_key("epochs"), disabled=running, help=f"1 to {cap}."
            )
            batch_size = st.number_input(
                "Batch size", value=defaults["batch_size"], step=1, key=_key("batch"), disabled=running
            )
            lr_text = st.text_input(
                "Learning rate",
                value=f"{defaults['learning_rate']:g}",
                key=_key("lr"),
                disabled=running,
                help="How big each step is. Try 50 to see what too big does.",
            )
            optimizer, validation_fraction, seed = defaults["optimizer"], defaults["validation_fraction"], DEMO_SEED
            if not demo:
                optimizer = st.selectbox(
                    "Optimizer",
                    retrain_checks.OPTIMIZERS,
                    index=retrain_checks.OPTIMIZERS.index(defaults["optimizer"]),
                    format_func=lambda o: {"adam": "Adam", "sgd": "SGD"}[o],
                    key=_key("optimizer"),
                    disabled=running,
                )
                validation_fraction = st.number_input(
                    "Validation fraction",
                    value=defaults["validation_fraction"],
                    step=0.05,
                    format="%.2f",
                    key=_key("val"),
                    disabled=running,
                    help="The share of the data held back to check the model; strictly between 0 and 1.",
                )
                seed = st.number_input(
                    "Random seed", value=defaults["seed"], step=1, key=_key("seed"), disabled=running
                )
        # Locked while this user's training runs (the queue also refuses a second one, e.g. from another tab).
        submitted = st.form_submit_button("Start training", type="primary", disabled=running)
    # Queue place, progress and Cancel right under the button (or how the last run ended): polled while it is active.
    job_panel(QUEUE, SESSION, current, views.TRAINING_PANEL)

    if submitted:
        try:
            try:
                learning_rate = float(lr_text)
            except ValueError:
                raise ValueError(f"The learning rate must be a number such as 0.01 (got {lr_text!r}).") from None
            uploaded_text = ""
            if upload is not None:
                seq = text_core.config_from_metadata(shipped_meta).seq_length
                uploaded_text = text_core.check_corpus_upload(upload.getvalue(), settings.max_upload_mb, seq)
            request = retrain.RetrainRequest(
                family=family,
                epochs=int(epochs),
                batch_size=int(batch_size),
                learning_rate=learning_rate,
                optimizer=optimizer,
                validation_fraction=float(validation_fraction),
                seed=int(seed),
                base_path=None if fresh else str(active_path(family)),
                fresh=fresh,
                use_builtin=use_builtin,
                use_user_samples=use_user or use_class,
                text=uploaded_text,
                text_name=upload.name if upload is not None else "",
                samples_per_class=int(samples_per_class) if samples_per_class is not None else None,
                text_chars=int(text_chars) if text_chars is not None else None,
                version_name=version_name,
                owner=SESSION,
            )
            user_data = retrain.read_user_data(family, SESSION, CLASS_CODE if use_class else "")
            retrain.start_retrain(request, user_data, SESSION)
            st.rerun()
        except (ValueError, samples.SampleStoreError) as exc:
            st.error(str(exc))

    # ---------------------------------------------------------------- results, versions, comparison

    last = QUEUE.snapshot(SESSION)
    if last is not None and not last.active:
        views.results(last)
        views.send_to_class(last, CLASS_CODE, SESSION)
    rows = views.versions(family, SESSION, FAMILY.label.lower())
    views.compare_panel(family, rows)
    spread_views.spread_panel(family, FAMILY.label, SESSION, QUEUE)

    if not running:
        # A training worker with TensorFlow imported, waiting while the form is filled in: Start's first progress
        # then comes after the data preparation alone (one such worker per server; `python -m bench.quick`). Last,
        # so the page is drawn before the worker's import competes with it for the CPU.
        queues.warm_up()
