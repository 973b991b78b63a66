"""Teach: your own classes from webcam photos, microphone recordings or drawings (Teachable Machine's projects):
gather samples, train in the background, look under the hood, try the model live, experiment, export."""

import streamlit as st

from core.engine import queues
from core.families.teach import job as teach
from core.families.teach import projects as teach_store
from core.families.teach import saved as teach_saved
from core.families.teach.data import BACKGROUND, KINDS, TeachError
from core.families.teach.model import TeachConfig
from ui import teach_hood
from ui import teach_views as views
from ui.common import guard, page_header
from ui.identity import owner
from ui.job_panel import job_panel
from ui.state import page_state

page_header(
    "Teach",
    "🧑‍🏫",
    "Teach a model your own classes, as in Google's Teachable Machine: photos from your webcam, sounds from your "
    "microphone, or drawings. Name the classes, give each some samples, train, and try it on new ones.",
)
with guard("The Teach page"):
    state = page_state("teach", views.TeachState)
    state.owner = owner()  # the user's identity (ui.identity): projects and trainings survive a reload
    QUEUE = queues.get_queue()
    KIND_LABELS = {"image": "📷 Images", "sound": "🎙️ Sounds", "drawing": "✏️ Drawings"}

    # ---------------------------------------------------------------- 1. the project
    st.subheader("1 · Project")
    projects = teach_store.list_projects(state.owner)
    NEW = "➕ A new project"
    choice = st.selectbox(
        "Project",
        [NEW, *projects],
        index=1 + projects.index(state.project) if state.project in projects else 0,
        key=f"teach.project.{len(projects)}",  # a new key when a project is added, so the new one is selected
    )
    state.project = None if choice == NEW else choice
    if state.project is None:
        with st.form("teach.new"):
            kind = st.radio("What will it learn from?", KINDS, format_func=KIND_LABELS.get, horizontal=True)
            name = st.text_input("Project name", placeholder="e.g. my-gestures", max_chars=64, key="teach.new.name")
            classes = st.text_area(
                "Class names, one per line (2 to 10)",
                value="Class 1\nClass 2",
                key="teach.new.classes",
                help=f"A sound project also gets the class “{BACKGROUND}” (the room with no sound of yours).",
            )
            if st.form_submit_button("Create the project", type="primary"):
                try:
                    teach_store.create_project(state.owner, name.strip(), kind, classes.splitlines())
                    state.project = name.strip()
                    st.rerun()
                except ValueError as exc:
                    st.error(str(exc))
        st.stop()
    project = teach_store.load_project(state.owner, state.project)
    st.caption(f"{KIND_LABELS[project.kind]} · {len(project.classes)} classes · created {project.created[:10]}")
    with st.expander("Edit the classes"):
        c1, c2, c3 = st.columns(3)
        old = c1.selectbox("Class", project.classes, key="teach.edit.class")
        new = c2.text_input("New name", key="teach.edit.name", max_chars=teach_store.MAX_CLASS_CHARS)
        try:
            if c2.button("Rename", key="teach.edit.rename"):
                teach_store.rename_class(state.owner, project.name, old, new)
                st.rerun()
            if c3.button("Remove with its samples", key="teach.edit.remove"):
                teach_store.remove_class(state.owner, project.name, old)
                st.rerun()
            if c3.button("Add a class named as typed", key="teach.edit.add"):
                teach_store.add_class(state.owner, project.name, new)
                st.rerun()
        except ValueError as exc:
            st.error(str(exc))
    with st.expander("Share with your class"):
        views.share_project_control(state, project)
    with st.expander("Delete this project"):
        views.delete_project_control(state, project)

    # ---------------------------------------------------------------- 2. samples
    st.subheader("2 · Samples")
    views.show_messages(state)
    with guard("Adding samples"):
        views.gather(state, project)
    views.samples_browser(state, project)

    # ---------------------------------------------------------------- 3. training
    st.subheader("3 · Train")
    job = QUEUE.snapshot(state.queue_id)  # the session's training as this run draws the page (a frozen copy)
    running = job is not None and job.active
    defaults = TeachConfig()
    method = st.radio(
        "How to train", teach.METHODS, format_func=teach.METHOD_LABELS.get, key="teach.method", disabled=running
    )
    with st.form("teach.train"):
        held = defaults.validation_fraction
        split_text = (
            f"{1 - held:.0%} of each class's samples train the model; {held:.0%} are held out to test it "
            "(Teachable Machine's split)."
        )
        if method == "scratch":
            c1, c2, c3 = st.columns(3)
            epochs = c1.number_input("Epochs", value=defaults.epochs, step=1, key="teach.epochs", disabled=running)
            batch = c2.number_input(
                "Batch size", value=defaults.batch_size, step=1, key="teach.batch", disabled=running
            )
            lr_text = c3.text_input(
                "Learning rate", value=f"{defaults.learning_rate:g}", key="teach.lr", disabled=running
            )
            st.caption(f"{split_text} The defaults are Teachable Machine's: 50 epochs, batch 16, Adam at 0.001.")
        else:
            epochs, batch, lr_text = defaults.epochs, defaults.batch_size, f"{defaults.learning_rate:g}"
            st.caption(
                f"{split_text} A frozen feature extractor turns each sample into numbers and a small head learns "
                "your classes from them: a few seconds, and a few samples per class are enough."
            )
        submitted = st.form_submit_button("Train the model", type="primary", disabled=running)
    if submitted:
        try:
            try:
                learning_rate = float(lr_text)
            except ValueError:
                raise TeachError(f"The learning rate must be a number such as 0.001 (got {lr_text!r}).") from None
            request = teach.TeachRequest(
                kind=project.kind,
                samples_dir=str(project.path),
                epochs=int(epochs),
                batch_size=int(batch),
                learning_rate=learning_rate,
                version_name=project.name,
                owner=state.owner,
                project=project.name,
                method=method,
            )
            teach.start_teach(request, state.queue_id, QUEUE)
            state.job_project = project.name
            st.rerun()
        except ValueError as exc:
            st.error(str(exc))
    # Queue place, progress, live curves and Cancel right under the button; polled while the training is active.
    # How a failed or cancelled training ended is said once, under the project that started it.
    this_project = state.job_project == project.name
    job_panel(QUEUE, state.queue_id, job, views.TRAINING_PANEL, show_ended=this_project)
    if job is not None and not job.active and this_project:
        state.job_project = None
    # The project's newest model, rebuilt from the store on every run: its result, "Try it" and "Export" come back
    # after a reload, in a new tab and after a restart.
    outcome = teach_saved.last_model(state.owner, project)
    if outcome is not None:
        views.results(outcome, outcome["version_id"])
        if outcome.get("method") == "transfer":
            teach_hood.transfer_explainer(state.owner, project, outcome)
        views.delete_model_control(state, project, outcome)

        # ------------------------------------------------------------ 4. preview
        st.subheader("4 · Try it")
        views.preview(state, outcome)

    # ---------------------------------------------------------------- 5. experiments
    st.subheader("5 · Experiments")
    st.caption(
        f"Each one trains several new models on this project's samples, {views.METHOD_SHORT[method]} as chosen "
        "under “How to train”, and measures them on the same held-out ones, next to the simplest rule on the same "
        "samples: nearest neighbour. They run in the background, one training after another."
    )
    exp_job = QUEUE.snapshot(state.experiment_queue_id)
    exp_running = exp_job is not None and exp_job.active
    c1, c2, c3 = st.columns(3)
    if method == "scratch":
        exp_epochs = c1.number_input("Epochs per training", 1, 200, 20, key="teach.exp.epochs", disabled=exp_running)
    else:
        exp_epochs = defaults.epochs  # not used by a head (it trains TransferConfig's steps)
        c1.caption("A head trains in a tenth of a second, so each point can average many seeds.")
    runs = c2.number_input(
        "Seeds (trainings per point)",
        1,
        30,
        views.EXPERIMENT_SEEDS[method],
        key=f"teach.exp.runs.{method}",
        disabled=exp_running,
    )
    for which, label in views.EXPERIMENT_TEXT.items():
        if c3.button(label, key=f"teach.exp.{which}", disabled=exp_running):
            try:
                views.start_experiment(state, project, which, int(exp_epochs), int(batch), 0.001, int(runs), method)
                st.rerun()
            except ValueError as exc:
                st.error(str(exc))
    views.experiment_panel(state, project, QUEUE, exp_job)
    for which in views.EXPERIMENT_TEXT:
        result = state.experiments.get(f"{project.name}.{which}")
        if result is not None:
            views.show_experiment(result, key=f"teach.exp.plot.{which}")

    # ---------------------------------------------------------------- 6. export
    if outcome is not None:
        st.subheader("6 · Export")
        views.export_buttons(outcome, project.name)
