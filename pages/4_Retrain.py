"""Retrain studio: retrain a copy of the colour, shape or text model in the background, watch it learn, look under
the hood (accuracy per class, confusion matrix, the misclassified samples), and keep, use or delete versions."""

import uuid

import streamlit as st

from core import figures as fig
from core import jobs, retrain, samples, store
from core import text as text_core
from core.settings import get_settings
from ui.common import DEMO_SEED, demo_mode, guard, guarded, page_header
from ui.models import active_label, active_path, set_active

page_header(
    "Retrain studio",
    "🛠️",
    "Retrain any model with your own settings and data. Training runs in the background on a copy of your active "
    "model, so you can leave this page and come back; every finished run is saved as a new version.",
)
# The page's boundary: any error below is one plain line on the page, its traceback in the server log.
with guard("The Retrain page"):
    state = st.session_state
    if "retrain.session" not in state:
        state["retrain.session"] = uuid.uuid4().hex  # the key of this browser session's jobs in core.jobs.QUEUE
    SESSION = state["retrain.session"]
    QUEUE = jobs.QUEUE
    settings = get_settings()
    demo = demo_mode()
    LABELS = {"colors": "🎨 Colours", "shapes": "✏️ Shapes", "text": "📜 Text"}
    DESCRIPTIONS = {
        "colors": "RGB → 32 sigmoid units → 9 colour families.",
        "shapes": "A small CNN on 28×28 drawings, white on black.",
        "text": "A character-level LSTM that predicts the next character.",
    }

    def _eta(seconds) -> str:
        if seconds is None:
            return "estimating…"
        seconds = int(round(seconds))
        return f"{seconds // 60}:{seconds % 60:02d} left"

    # ---------------------------------------------------------------- the running job (live, polled)

    def _curves(snap: dict, family_hint: str = "") -> None:
        left, right = st.columns(2)
        args = dict(
            epoch_logs=snap["epoch_logs"],
            batch_logs=snap["batch_logs"],
            steps_per_epoch=snap["steps_per_epoch"],
            epochs=snap["epochs"],
        )
        left.plotly_chart(fig.training_curves(metric="loss", title="Loss", **args), key=f"retrain.loss{family_hint}")
        right.plotly_chart(
            fig.training_curves(metric="accuracy", title="Accuracy", **args), key=f"retrain.acc{family_hint}"
        )

    @guarded("The training panel")
    def job_panel(was_active: bool) -> None:
        job = QUEUE.job_for(SESSION)
        if job is None:
            return
        snap = job.snapshot()
        if was_active and not job.active:
            st.rerun()  # finished: redraw the whole page once, with the results and without the poller
        if not job.active:
            return
        st.subheader("Training now")
        st.caption(snap["title"])
        if snap["status"] == "queued":
            over = QUEUE.overview()
            st.info(
                f"⏳ Waiting in the queue: you are number **{QUEUE.position(job)}**. This server trains at most "
                f"{over['limit']} model(s) at once ({over['running']} running, {over['waiting']} waiting)."
            )
        elif snap["epochs"] == 0:
            st.info(
                "Starting the training process and preparing the data… (a few seconds; generated drawings take longer "
                "the first time)"
            )
        else:
            epoch = min(snap["epochs"], snap["steps_done"] // max(1, snap["steps_per_epoch"]) + 1)
            done = snap["progress"] >= 1.0
            st.progress(
                snap["progress"],
                text="Trained: scoring the new and the old model on the validation data, then saving the version…"
                if done
                else f"Epoch {epoch} of {snap['epochs']} · {snap['progress']:.0%} · {_eta(snap['eta_seconds'])}",
            )
            _curves(snap, ".live")
        if snap["cancel_requested"]:
            st.warning("Cancelling… (the current batch finishes first)")
        elif st.button("Cancel training", key="retrain.cancel", type="secondary"):
            QUEUE.cancel(SESSION)
            st.rerun(scope="fragment")

    current = QUEUE.job_for(SESSION)
    running = current is not None and current.active
    st.fragment(run_every=1.0 if running else None)(job_panel)(running)

    # ---------------------------------------------------------------- setup

    available = [f for f in retrain.FAMILIES if (store.shipped_model_dir(f) / store.MODEL_JSON).is_file()]
    if not available:
        st.error("No shipped model is installed on this server, so there is nothing to retrain.")
        st.stop()
    family = st.radio(
        "Model", available, format_func=lambda f: LABELS[f], horizontal=True, key="retrain.family", disabled=running
    )
    st.caption(f"{DESCRIPTIONS[family]} In use for you: {active_label(family)}.")
    shipped_meta = store.load_metadata(store.shipped_model_dir(family))
    defaults = retrain.default_settings(family, shipped_meta)
    cap = retrain.epoch_cap(family)

    def _key(name: str) -> str:
        return f"retrain.{family}.{name}"  # per family, so switching models brings back that model's defaults

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
                )
                fresh = start == "fresh"
            builtin_label = {
                "colors": "Built-in: The Coding Train's crowd colour labels",
                "shapes": "Built-in: real Quick, Draw! drawings (and generated ones where real ones are few)",
                "text": "Built-in: the Shakespeare corpus",
            }[family]
            has_builtin = family != "text" or retrain.builtin_corpus_path() is not None
            use_builtin = st.checkbox(builtin_label, value=has_builtin, key=_key("builtin"), disabled=not has_builtin)
            if not has_builtin:
                st.caption(
                    "The corpus is not on this server yet (the Text page can download it): upload a .txt instead."
                )
            use_user = False
            upload = None
            try:
                if family == "colors":
                    n = sum(samples.color_label_counts().values())
                    use_user = st.checkbox(f"My labelled colours ({n})", value=n > 0, key=_key("user"))
                elif family == "shapes":
                    counts = samples.drawing_counts()
                    shown = ", ".join(f"{k} {v}" for k, v in counts.items()) or "none yet"
                    use_user = st.checkbox(f"My drawings ({shown})", value=bool(counts), key=_key("user"))
            except samples.SampleStoreError as exc:
                st.warning(f"Your samples cannot be read right now: {exc}")
            if family == "text":
                upload = st.file_uploader(
                    f"My own text (.txt, UTF-8, up to {settings.max_upload_mb:g} MB)", type=["txt"], key=_key("upload")
                )
                st.caption(f"At most {settings.max_text_train_chars:,} characters are used per run (the last ones).")
            samples_per_class = None
            if family == "shapes" and not demo:
                samples_per_class = st.number_input(
                    "Built-in drawings per class",
                    value=defaults["samples_per_class"],
                    step=50,
                    key=_key("per_class"),
                    help=f"At most {settings.max_generated_per_class} on this server. More is slower to train.",
                )
            elif family == "shapes":
                samples_per_class = defaults["samples_per_class"]
            version_name = st.text_input("Version name", value="retrain", max_chars=40, key=_key("name"))
        with settings_col:
            st.markdown("**Training**")
            epochs = st.number_input(
                "Epochs", value=defaults["epochs"], step=1, key=_key("epochs"), help=f"1 to {cap}."
            )
            batch_size = st.number_input("Batch size", value=defaults["batch_size"], step=1, key=_key("batch"))
            lr_text = st.text_input(
                "Learning rate",
                value=f"{defaults['learning_rate']:g}",
                key=_key("lr"),
                help="How big each step is. Try 50 to see what too big does.",
            )
            optimizer, validation_fraction, seed = defaults["optimizer"], defaults["validation_fraction"], DEMO_SEED
            if not demo:
                optimizer = st.selectbox(
                    "Optimizer",
                    retrain.OPTIMIZERS,
                    index=retrain.OPTIMIZERS.index(defaults["optimizer"]),
                    format_func=lambda o: {"adam": "Adam", "sgd": "SGD"}[o],
                    key=_key("optimizer"),
                )
                validation_fraction = st.number_input(
                    "Validation fraction",
                    value=defaults["validation_fraction"],
                    step=0.05,
                    format="%.2f",
                    key=_key("val"),
                    help="The share of the data held back to check the model; strictly between 0 and 1.",
                )
                seed = st.number_input("Random seed", value=defaults["seed"], step=1, key=_key("seed"))
        # Not disabled while a training runs: a second start gets the queue's plain refusal instead of silence.
        submitted = st.form_submit_button("Start training", type="primary")

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
                use_user_samples=use_user,
                text=uploaded_text,
                text_name=upload.name if upload is not None else "",
                samples_per_class=int(samples_per_class) if samples_per_class is not None else None,
                version_name=version_name,
                owner=SESSION,
            )
            retrain.start_retrain(request, retrain.read_user_data(family), SESSION)
            st.rerun()
        except (ValueError, samples.SampleStoreError) as exc:
            st.error(str(exc))

    # ---------------------------------------------------------------- results of the last run

    def _show_examples(outcome: dict, true_i: int, pred_i: int) -> None:
        items = outcome["examples"].get(f"{true_i},{pred_i}", [])
        names = outcome["class_names"]
        st.markdown(f"**True {names[true_i]}, predicted {names[pred_i]}** ({len(items)} shown)")
        if not items:
            st.caption("No validation sample landed in this cell.")
        elif outcome["family"] == "colors":
            swatches = "".join(
                f"<div title='{h}' style='width:44px;height:44px;border-radius:6px;border:1px solid #999;"
                f"background:{h}'></div>"
                for h in items
            )
            st.markdown(
                f"<div data-testid='misclassified' style='display:flex;flex-wrap:wrap;gap:6px'>{swatches}</div>",
                unsafe_allow_html=True,
            )
        elif outcome["family"] == "shapes":
            st.image(list(items), width=56, caption=[f"#{i + 1}" for i in range(len(items))])
        else:
            for item in items[:12]:
                shown = item["context"].replace("\n", "⏎")
                st.code(
                    f"…{shown}  → expected {text_core.show_char(item['expected'])!r}, "
                    f"predicted {text_core.show_char(item['predicted'])!r}",
                    language=None,
                )

    def _from_chart(job_id: str, labels: list[str]) -> None:
        """A click on a heatmap cell picks the same cell in the selectbox below it."""
        event = state.get(f"retrain.confusion.{job_id}")
        points = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else []
        if not points and event is not None and hasattr(event, "selection"):
            points = event.selection.get("points", [])
        if points:
            x, y = points[0].get("x"), points[0].get("y")
            if x in labels and y in labels:
                state[f"retrain.cell.{job_id}"] = (labels.index(y), labels.index(x))

    def results(job) -> None:
        snap = job.snapshot()
        outcome = job.result
        st.subheader("Last run")
        st.caption(snap["title"])
        if snap["status"] == "diverged":
            st.error(f"📉 Training diverged. {snap['message']}")
        elif snap["status"] == "cancelled":
            st.warning(snap["message"] or "Training was cancelled. Nothing was saved.")
        elif snap["status"] == "failed":
            st.error(snap["message"])
        for note in snap["notes"] + ((outcome or {}).get("notes") or []):
            st.info(note)
        if snap["epoch_logs"] or snap["batch_logs"]:
            _curves(snap)
        if outcome is None:
            return
        st.success(
            f"Saved as version **{outcome['version_id']}** ({outcome['epochs_run']} epochs, {outcome['seconds']:.0f} s). "
            f"Compared with the {outcome['base']} on the same {outcome['after']['n']:,} validation samples."
        )
        after, before = outcome["after"], outcome["before"]
        m1, m2, m3 = st.columns(3)
        m1.metric("Validation accuracy, retrained", f"{after['accuracy']:.1%}")
        if before is not None:
            m2.metric(
                "…the model before",
                f"{before['accuracy']:.1%}",
                delta=f"{(after['accuracy'] - before['accuracy']):+.1%}",
            )
        m3.metric("Balanced accuracy", f"{after['balanced_accuracy']:.1%}")
        family = outcome["family"]
        if st.button("Use this version on every page (this session only)", key=f"retrain.use.{job.id}", type="primary"):
            set_active(family, outcome["version_path"])
            st.toast(f"The {family} pages now use {outcome['version_id']}.")
            st.rerun()
        labels = outcome["class_names"]
        st.plotly_chart(
            fig.before_after_bars(after["per_class"], before["per_class"] if before else None),
            key=f"retrain.perclass.{job.id}",
        )
        left, right = st.columns([3, 2])
        with left:
            st.plotly_chart(
                fig.clickable_confusion(after["confusion"], labels, "Confusion matrix (validation): click a cell"),
                key=f"retrain.confusion.{job.id}",
                on_select=lambda: _from_chart(job.id, labels),
                selection_mode="points",
            )
        with right:
            confusion = after["confusion"]
            cells = sorted(
                ((t, p) for t in range(len(labels)) for p in range(len(labels)) if t != p and confusion[t][p]),
                key=lambda c: -confusion[c[0]][c[1]],
            )
            if not cells:
                st.success("No validation sample was misclassified.")
                return
            key = f"retrain.cell.{job.id}"
            if state.get(key) not in cells:
                state[key] = cells[0]
            cell = st.selectbox(
                "Misclassified samples",
                cells,
                key=key,
                format_func=lambda c: f"true {labels[c[0]]} → predicted {labels[c[1]]} ({confusion[c[0]][c[1]]})",
            )
            _show_examples(outcome, *cell)

    last = QUEUE.job_for(SESSION)
    if last is not None and not last.active:
        results(last)

    # ---------------------------------------------------------------- versions

    st.subheader(f"Versions of the {LABELS[family][2:].lower()} model")
    active = active_path(family)
    st.write(f"Your pages use: **{active_label(family)}**. The version you choose is for your session only.")
    if active != store.shipped_model_dir(family) and st.button("Go back to the shipped model", key="retrain.shipped"):
        set_active(family, None)
        st.rerun()
    try:
        rows = retrain.versions_table(family, SESSION)
    except store.StoreError as exc:
        rows = []
        st.error(str(exc))
    if not rows:
        st.caption("No saved versions yet: every finished training adds one.")
    else:
        st.dataframe(
            [
                {
                    "version": r["version"],
                    "active": "✅" if r["path"] == str(active) else "",
                    "validation accuracy": None if r["val_accuracy"] is None else round(r["val_accuracy"], 3),
                    "before": None if r["before_val_accuracy"] is None else round(r["before_val_accuracy"], 3),
                    "from": r["from"],
                    "yours": "yes" if r["mine"] else "another session",
                }
                for r in rows
            ],
            hide_index=True,
            width="stretch",
        )
        by_id = {r["version"]: r for r in rows}
        chosen = st.selectbox("Version", list(by_id), key=f"retrain.version.{family}")
        row = by_id[chosen]
        b1, b2, b3 = st.columns(3)
        if b1.button("Make active", key="retrain.activate", disabled=row["path"] == str(active)):
            set_active(family, row["path"])
            st.rerun()
        try:
            b2.download_button(
                "Download (.zip: model.json + weights)",
                data=store.zip_model_folder(row["path"]),
                file_name=f"{family}-{chosen}.zip",
                mime="application/zip",
                key="retrain.download",
            )
        except store.StoreError as exc:
            b2.error(str(exc))
        if b3.button(
            "Delete", key="retrain.delete", disabled=not row["mine"], help="Only versions made in this session."
        ):
            try:
                retrain.delete_own_version(family, chosen, SESSION)
                if row["path"] == str(active):
                    set_active(family, None)
                st.toast(f"Deleted {chosen}.")
                st.rerun()
            except store.StoreError as exc:
                st.error(str(exc))
