"""Text: a character-level LSTM writes Shakespeare one character at a time; see every next-character distribution."""

import streamlit as st

from core.families.text import generate as text_generate
from core.families.text import model as T
from core.settings import get_settings
from ui import text_views as V
from ui.common import DEMO_SEED, demo_mode, guard, page_header
from ui.models import active_label, active_path, load_active
from ui.state import page_state

page_header(
    "Text",
    "📜",
    "A character-level LSTM (embedding → LSTM → one score per character) read Shakespeare and learnt to guess the "
    "next character. Give it a start and it writes, one character at a time, each drawn from its predicted "
    "distribution; the state of the LSTM is carried from one character to the next.",
)

# The page's boundary: any error below is one plain line on the page, its traceback in the server log.
with guard("The Text page"):
    settings = get_settings()
    state = page_state("text", V.TextState)  # everything this page remembers, in one typed object
    loaded = load_active("text")
    if loaded is None:
        st.info("The text model is missing: rebuild it with `python -m core train text --corpus PATH`.")
        st.stop()

    @st.cache_resource(show_spinner=False, max_entries=8)
    def _sampler(_loaded, key: str) -> text_generate.CharSampler:
        """One NumPy copy of the weights per model folder; it only reads the shared model."""
        del key  # the cache key: folder and save time
        return text_generate.CharSampler(_loaded.model, T.vocab_from_metadata(_loaded.metadata))

    @st.cache_resource(show_spinner=False)
    def _tutorial_summary() -> list[dict]:
        """The tutorial preset, built (never trained) only for its summary table."""
        return T.summary_table(T.build_text_model(65, T.PRESETS["tutorial"]))

    try:
        sampler = _sampler(loaded, f"{active_path('text')}:{loaded.metadata.get('saved_at', '')}")
    except ValueError as exc:
        st.error(f"This model cannot generate text: {exc}")
        st.stop()
    vocab = sampler.vocab
    meta = loaded.metadata
    cfg = T.config_from_metadata(meta)
    st.caption(
        f"Using {active_label('text')}: {len(vocab)} characters, {cfg.lstm_units} LSTM units. "
        + T.measured_summary(meta)
    )

    # ---------------------------------------------------------------- controls
    st.subheader("Generate")
    left, right = st.columns([2, 1])
    with left:
        seed_text = st.text_area(
            "Seed text", value="ROMEO:\n", key="text.seed", height=90, max_chars=settings.max_seed_chars
        )
    with right:
        temperature = st.number_input(
            "Temperature",
            value=0.8,
            step=0.1,
            format="%.2f",
            key="text.temperature",
            help="Divide the scores by T before the softmax. 0 = always the likeliest character (argmax); "
            "1 = the model's own distribution; above 1 = wilder.",
        )
        length = st.number_input(
            "Length (characters)",
            value=300,
            step=50,
            key="text.length",
            help=f"At most {settings.max_generate_chars:,} characters per run.",
        )
    c1, c2, c3 = st.columns(3)
    n_samples = c1.slider("Samples (generated together, as one batch)", 1, 5, 1, key="text.samples")
    if demo_mode():
        random_seed = DEMO_SEED  # fixed, so a class sees exactly the teacher's text
        c2.number_input("Random seed", value=DEMO_SEED, disabled=True, key="text.random_seed_demo")
        top_k = 0
    else:
        # Empty: every Generate draws a fresh seed (and says which); a typed seed repeats that run exactly.
        random_seed = c2.number_input(
            "Random seed (empty = a fresh one each time)",
            value=None,
            min_value=0,
            max_value=text_generate.MAX_RANDOM_SEED,
            step=1,
            placeholder="fresh each Generate",
            key="text.random_seed",
            help="Leave it empty for new text on every Generate. Type in the seed a run reports to repeat it: the "
            "same seed with the same settings (seed text, temperature, length, samples, top-k) gives the same text.",
        )
        top_k = int(
            c3.number_input(
                "Top-k (0 = off)",
                value=0,
                min_value=0,
                max_value=len(vocab),
                key="text.top_k",
                help="Draw only among the k likeliest characters.",
            )
        )

    if st.button("Generate", type="primary", key="text.generate"):
        try:
            stream = text_generate.GenerationStream(
                sampler,
                seed_text,
                length,
                temperature,
                top_k or None,
                n_samples,
                random_seed,
                settings.max_generate_chars,
            )
        except ValueError as exc:
            st.error(str(exc))
        else:
            for note in stream.notes:
                st.warning(note)
            live = st.empty()
            with live.container():
                st.caption("Sample 1, as it is generated:")
                st.write_stream(V.escape_markdown(c) for c in stream)
            live.empty()
            state.result = stream.result
            state.settings = {
                "temperature": stream.temperature,
                "top_k": top_k,
                "seed": stream.random_seed,
                "seed_source": "demo" if demo_mode() else ("fresh" if random_seed is None else "typed"),
            }
            st.session_state.pop(
                "text.step_temperature", None
            )  # the step-through's slider starts at this run's temperature
            # The same start, decoded greedily: for the sampling-versus-argmax comparison below.
            state.argmax = text_generate.generate_text(
                sampler, stream.seed.text, min(stream.length, 400), temperature=0
            )

    result: text_generate.Generation | None = state.result
    if result is None:
        st.info("Press **Generate** to let the model write.")
    else:
        V.show_result(state, result)

    V.step_through(state, vocab)

    if result is not None and state.argmax is not None:
        V.sampling_vs_argmax(state, result)

    V.activations(state)
    V.trick_it(sampler, settings)

    # ---------------------------------------------------------------- model and training
    V.model_expander(loaded.model, active_label("text"), _tutorial_summary())
    V.training_expander(meta)

    # ---------------------------------------------------------------- own text
    st.subheader("Your own text")
    st.write(
        "Bring a corpus: upload a .txt file, or fetch the canonical Shakespeare file. Training on it happens in the "
        "Retrain studio; here you can check it and see how surprised the current model is by it."
    )
    up, down = st.columns(2)
    with up:
        uploaded = st.file_uploader(
            f"A .txt file (UTF-8, up to {settings.max_upload_mb:g} MB)", type=["txt"], key="text.upload"
        )
        if uploaded is not None:
            try:
                corpus_text = T.check_corpus_upload(uploaded.getvalue(), settings.max_upload_mb, cfg.seq_length)
            except ValueError as exc:
                st.error(str(exc))
            else:
                if state.corpus_name != uploaded.name or state.corpus != corpus_text:
                    state.scored = None
                state.corpus, state.corpus_name = corpus_text, uploaded.name
    with down:
        if st.button("Download the Shakespeare corpus", key="text.download"):
            try:
                with st.spinner("Downloading…"):
                    path = T.download_shakespeare(settings.user_data_dir)
                state.corpus, state.corpus_name = T.read_corpus(path), path.name
                state.scored = None
                st.success(f"Downloaded {path.name}.")
            except (ValueError, OSError) as exc:
                st.error(str(exc))
        st.caption(f"From TensorFlow's public copy: {T.SHAKESPEARE_URL}")

    if state.corpus:
        corpus_text = state.corpus
        info = T.describe_corpus(corpus_text, state.corpus_name)
        unknown = sorted(set(corpus_text) - set(vocab.chars))
        st.markdown(
            f"**{info['name']}**: {info['chars']:,} characters, {info['vocab_size']} distinct, {info['lines']:,} lines."
            + (
                f" {len(unknown)} of its characters are unknown to this model: {''.join(unknown[:40])!r}."
                if unknown
                else ""
            )
        )
        st.text(corpus_text[:400])
        if st.button(
            f"How surprised is the model by it? (first {settings.max_score_chars:,} characters)", key="text.score"
        ):
            with st.spinner("Scoring…"):
                try:
                    scored = T.evaluate_text(
                        loaded.model, vocab, corpus_text[: settings.max_score_chars], cfg.seq_length
                    )
                    state.scored = scored
                except ValueError as exc:
                    st.error(str(exc))
        if state.scored:
            s = state.scored
            st.metric(
                "Loss on your text", f"{s['loss_nats_per_char']:.3f} nats/char", help=f"{s['bits_per_char']:.3f} bits"
            )
        try:
            st.page_link("pages/4_Retrain.py", label="Train on it in the Retrain studio", icon="🛠️")
        except st.errors.StreamlitAPIException:  # the page runs on its own (tests), without the app's page list
            st.markdown("Train on it in the **Retrain** studio (see the sidebar).")
        st.caption("The Retrain studio has its own upload box; your file is checked the same way there.")
