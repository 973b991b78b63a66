"""Text: a character-level LSTM writes Shakespeare one character at a time; see every next-character distribution."""

import html
import math

import numpy as np
import pandas as pd
import streamlit as st

from core import figures as fig
from core import text as T
from core import text_steps as TS
from core.settings import get_settings
from ui.common import DEMO_SEED, demo_mode, guard, guarded, page_header
from ui.models import active_label, active_path, load_active

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
    state = st.session_state
    loaded = load_active("text")
    if loaded is None:
        st.info("The text model is missing: rebuild it with `python -m core train text --corpus PATH`.")
        st.stop()

    @st.cache_resource(show_spinner=False, max_entries=8)
    def _sampler(_loaded, key: str) -> T.CharSampler:
        """One NumPy copy of the weights per model folder; it only reads the shared model."""
        del key  # the cache key: folder and save time
        return T.CharSampler(_loaded.model, T.vocab_from_metadata(_loaded.metadata))

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
    metrics = meta.get("metrics", {})
    st.caption(
        f"Using {active_label('text')}: {len(vocab)} characters, {cfg.lstm_units} LSTM units. "
        + T.measured_summary(meta)
    )

    def _escape_markdown(chunk: str) -> str:
        """Generated text is shown as markdown while it streams: escape markdown syntax and keep line breaks."""
        out = "".join("\\" + c if c in "\\`*_[]<>#+-!|~.$" else c for c in chunk)
        return out.replace("\n", "  \n")

    # Streamlit restyles <pre> and drops its style, so an inner block keeps the line breaks; <pre> itself is needed
    # because a markdown HTML block would end at the first blank line of the generated text.
    PRE_OPEN = "<pre><span style='display:block;white-space:pre-wrap;font-family:ui-monospace,monospace'>"
    PRE_CLOSE = "</span></pre>"

    def _pre(seed: str, generated: str, test_id: str) -> str:
        return (
            f"{PRE_OPEN}<span style='color:#999'>{html.escape(seed)}</span>"
            f"<span class='generated' data-testid='{test_id}' data-chars='{len(generated)}'>{html.escape(generated)}</span>"
            f"{PRE_CLOSE}"
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
            max_value=T.MAX_RANDOM_SEED,
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
            stream = T.GenerationStream(
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
                st.write_stream(_escape_markdown(c) for c in stream)
            live.empty()
            state["text.result"] = stream.result
            state["text.settings"] = {
                "temperature": stream.temperature,
                "top_k": top_k,
                "seed": stream.random_seed,
                "seed_source": "demo" if demo_mode() else ("fresh" if random_seed is None else "typed"),
            }
            state.pop("text.step_temperature", None)  # the step-through's slider starts at this run's temperature
            # The same start, decoded greedily: for the sampling-versus-argmax comparison below.
            state["text.argmax"] = T.generate_text(sampler, stream.seed.text, min(stream.length, 400), temperature=0)

    result: T.Generation | None = state.get("text.result")
    if result is None:
        st.info("Press **Generate** to let the model write.")
    else:
        st.markdown(
            f"**Seed used:** `{result.seed.text!r}`"
            + (" (cleaned)" if result.seed.text != result.seed.original else "")
        )
        run_seed, source = state["text.settings"]["seed"], state["text.settings"].get("seed_source")
        if source == "fresh":
            left, right = st.columns([4, 1])
            left.info(f"Random seed {run_seed} — type it in to repeat this run.", icon="🎲")

            def _keep_seed(seed: int = run_seed) -> None:
                state["text.random_seed"] = seed  # a callback runs before the widget: allowed to set its value

            right.button("Repeat with this seed", key="text.keep_seed", on_click=_keep_seed)
        elif source == "typed":
            st.caption(
                f"Random seed {run_seed}, typed in: the same seed and settings give the same text. "
                "Empty the box for a fresh seed on each Generate."
            )
        elif source == "demo":
            st.caption(f"Demo mode: the random seed is fixed at {run_seed}, so everyone sees the same text.")
        tabs = st.tabs([f"Sample {i + 1}" for i in range(len(result.texts))])
        for i, (tab, generated) in enumerate(zip(tabs, result.texts)):
            with tab, st.container(key=f"text-sample-{i}"):
                st.markdown(_pre(result.seed.text, generated, f"text-generated-{i}"), unsafe_allow_html=True)

    # ---------------------------------------------------------------- step-through

    @st.fragment
    @guarded("The step-through")
    def step_through() -> None:
        result = state.get("text.result")
        if result is None:
            return
        st.subheader("Step through: what did it consider at each character?")
        n = len(result.texts[0])
        c1, c2, c3 = st.columns([1, 3, 1])
        sample = c1.selectbox(
            "Sample", range(len(result.texts)), format_func=lambda i: f"{i + 1}", key="text.step_sample"
        )
        pos = c2.slider("Position in the generated text", 1, n, min(n, 1), key="text.step_pos") - 1 if n > 1 else 0
        k = c3.slider("Top-k bars", 3, 20, 10, key="text.step_k")
        generated = result.texts[sample]
        chosen = int(result.ids[sample, pos])
        p = result.probabilities[sample, pos]
        before = (result.seed.text + generated)[max(0, len(result.seed.text) + pos - 80) : len(result.seed.text) + pos]
        st.markdown(
            f"{PRE_OPEN}{html.escape(before)}<mark data-testid='text-step-char' style='background:#e4572e;color:white'>"
            f"{html.escape(T.show_char(generated[pos]))}</mark>{PRE_CLOSE}",
            unsafe_allow_html=True,
        )
        sampled_t = state["text.settings"]["temperature"]
        used = TS.StepDistribution(sampled_t, p, float(TS.entropy_nats(p)))
        if result.logits is None:  # a result kept from before logits were stored: only the sampled distribution
            st.plotly_chart(
                fig.next_char_bars(p, vocab.chars, chosen, k, f"Next-character distribution at position {pos + 1}"),
                key="text.step_bars",
            )
            return

        # The temperature slider replays this step's stored logits: softmax(logits / T), nothing is regenerated.
        top = float(min(5.0, max(2.0, math.ceil(sampled_t))))
        start_t = min(sampled_t, top)
        if not 0.0 <= state.get("text.step_temperature", start_t) <= top:
            state["text.step_temperature"] = start_t
        state.setdefault("text.step_temperature", start_t)
        s1, s2 = st.columns([4, 1])
        live_t = s1.slider(
            "Temperature for this step (replayed on its scores: nothing is generated again)",
            0.0,
            top,
            step=0.05,
            key="text.step_temperature",
            help="softmax(scores / T). Below 1 the likeliest characters take more of the probability; above 1 it "
            "spreads towards a uniform choice; 0 keeps only the likeliest.",
        )

        def _reset_temperature() -> None:
            state["text.step_temperature"] = start_t

        s2.button(f"Back to T = {start_t:g}", key="text.step_temperature_reset", on_click=_reset_temperature)
        live = TS.distribution_at(result.logits[sample, pos], live_t, result.top_k)
        m1, m2, m3, m4 = st.columns(4)
        m1.metric(
            f"p(sampled character) at T = {live_t:g}",
            f"{live.probabilities[chosen]:.3f}",
            delta=f"{live.probabilities[chosen] - p[chosen]:+.3f} vs sampling",
            delta_color="off",
        )
        m2.metric(f"its rank among {len(vocab)}", live.rank_of(chosen))
        m3.metric(
            f"entropy at T = {live_t:g}",
            f"{live.entropy_bits:.2f} bits · {live.entropy_nats:.2f} nats",
            delta=f"{live.entropy_bits - used.entropy_bits:+.2f} bits vs sampling",
            delta_color="off",
            help=f"Like a fair choice among {live.effective_choices:.1f} characters (e^entropy in nats).",
        )
        m4.metric(
            f"entropy when sampled (T = {sampled_t:g})",
            f"{used.entropy_bits:.2f} bits · {used.entropy_nats:.2f} nats",
            help=f"Like a fair choice among {used.effective_choices:.1f} characters. The character was drawn from "
            "this distribution.",
        )
        st.plotly_chart(
            fig.temperature_bars(
                live.probabilities,
                p,
                vocab.chars,
                chosen,
                k,
                f"Next-character distribution at position {pos + 1}, T = {live_t:g}",
                live_t,
                sampled_t,
            ),
            key="text.step_bars",
        )
        st.caption(
            "Bars: the distribution at the slider's temperature; black ticks: the one the character was drawn from. "
            "The orange bar is the character that was drawn. With temperature above 0 it need not be the tallest: "
            "sampling picks each character with its probability, which is what keeps the text from repeating."
            + (f" Top-k = {result.top_k} still applies: the other characters stay at 0." if result.top_k else "")
        )
        with st.expander("Entropy against temperature at this step", expanded=False):
            temperatures = np.linspace(0.0, top, 81)
            curve = TS.entropy_by_temperature(result.logits[sample, pos], temperatures, result.top_k)
            choices = min(result.top_k or len(vocab), len(vocab))
            st.plotly_chart(
                fig.entropy_curve(
                    temperatures,
                    curve,
                    [("when sampled", sampled_t, used.entropy_bits), ("slider", live_t, live.entropy_bits)],
                    max_bits=math.log2(choices),
                ),
                key="text.step_entropy_curve",
            )
            st.caption(
                f"Entropy −Σ p log₂ p in bits (× ln 2 for nats). At T = 0 it is 0 (one certain character); as T "
                f"grows it climbs towards log₂ {choices} = {math.log2(choices):.2f} bits, a uniform choice."
            )

    step_through()

    # ---------------------------------------------------------------- sampling vs argmax
    if result is not None and state.get("text.argmax") is not None:
        st.subheader("Sampling against argmax")
        greedy: T.Generation = state["text.argmax"]
        loop = T.find_loop(greedy.texts[0])
        a, b = st.columns(2)
        with a:
            st.markdown(f"**Sampled** (temperature {state['text.settings']['temperature']:g})")
            st.markdown(
                _pre(result.seed.text, result.texts[0][: len(greedy.texts[0])], "text-sampled"), unsafe_allow_html=True
            )
        with b:
            st.markdown("**Argmax** (temperature 0: always the likeliest character)")
            g = greedy.texts[0]
            if loop:
                start, period = loop
                shown = (
                    f"<span style='color:#999'>{html.escape(greedy.seed.text)}</span>{html.escape(g[:start])}"
                    f"<mark style='background:#ffd8cc'>{html.escape(g[start:])}</mark>"
                )
                st.markdown(f"{PRE_OPEN}{shown}{PRE_CLOSE}", unsafe_allow_html=True)
                st.warning(
                    f"Argmax fell into a loop: from character {start + 1} it repeats the same {period} characters "
                    f"({g[start : start + period]!r}). Greedy decoding is deterministic, so once a state recurs, "
                    "everything after it recurs too."
                )
            else:
                st.markdown(_pre(greedy.seed.text, g, "text-argmax"), unsafe_allow_html=True)
                st.info(
                    "No exact loop within these characters, but notice how greedy text favours the commonest words "
                    "and phrases. Try a longer length."
                )

    # ---------------------------------------------------------------- activations

    @st.fragment
    @guarded("The activations view")
    def activations() -> None:
        result = state.get("text.result")
        if result is None:
            return
        st.subheader("Inside the LSTM: activations over the text (LSTMVis-style)")
        st.write(
            "Each row is one LSTM unit, each column one generated character of sample 1; red is positive, blue negative. "
            "Some units track something you can name: inside a word, after a newline, inside a speaker's name."
        )
        c1, c2, c3 = st.columns(3)
        kind = c1.radio("State", ["cell (memory)", "hidden (output)"], horizontal=True, key="text.act_kind")
        acts = result.cell if kind.startswith("cell") else result.hidden
        if kind.startswith("cell"):
            acts = np.tanh(acts)  # the cell state is unbounded; tanh(c) is what the output gate sees, in [-1, 1]
        how = c2.radio("Units", ["most varied", "choose"], horizontal=True, key="text.act_how")
        if how == "choose":
            units = c3.multiselect(
                "Units", list(range(acts.shape[1])), default=[0, 1, 2, 3], key="text.act_units", max_selections=24
            )
        else:
            units = T.top_units(acts, c3.slider("How many", 2, 24, 8, key="text.act_n"))
        if not units:
            st.info("Choose at least one unit.")
            return
        text = result.texts[0]
        window = 80
        start = 0
        if len(text) > window:
            start = st.slider("Start position", 0, len(text) - window, 0, key="text.act_start")
        st.plotly_chart(
            fig.activation_heatmap(acts[start : start + window], text[start : start + window], units),
            key="text.act_heatmap",
        )

    activations()

    # ---------------------------------------------------------------- try to trick it
    TRICKS = {
        "Invented words": (
            "The flumbering zorquist of Blenthorpe wextled",
            "Every character is in its vocabulary, but these letter sequences never occurred in the plays. The model "
            "has learnt which letters follow which, so it is surprised inside the words, then shrugs and goes back "
            "to words it knows. It has no meaning to hold on to, only spelling statistics.",
        ),
        "Modern English": (
            "lol my phone died, can u text me the wifi password",
            "Shakespeare never wrote 'lol', 'phone' or 'wifi', and 'u' alone is almost never a word in the corpus. The "
            "surprise bars spike on these, while ordinary words ('my', 'the', 'me') stay cheap. Old text gives the "
            "model no way to know the modern ones.",
        ),
        "Another language": (
            "Der Hund läuft über die Straße, und ich höre ihn bellen",
            "German letters such as ä, ü and ß are not in its 65-character vocabulary at all: they are mapped to a, u "
            "or dropped before the model sees them. The rest is letters it knows in orders it has rarely seen, so "
            "the surprise stays high and the continuation drifts back into English verse.",
        ),
        "Code and numbers": (
            "for i in range(10): print(i * 2)",
            "The corpus has almost no digits and no code. Characters it never saw are dropped, and brackets or "
            "colons in the middle of a line are rare, so the model cannot carry on: it turns the text into a "
            "speaker's name or a line of verse.",
        ),
        "Shakespeare (control)": (
            "KING RICHARD III:\nNow is the winter of our discontent",
            "For comparison: text like its training data. The surprise is low almost everywhere: after 'winter of "
            "our' the next letters are nearly certain.",
        ),
    }

    @st.fragment
    @guarded("The trick-it box")
    def trick_it() -> None:
        st.subheader("Try to trick it")
        st.write(
            "A character model only knows which characters tend to follow which in its training text. Feed it text "
            "unlike Shakespeare and watch where it is surprised (the bars: −log₂ p of each character given everything "
            "before it) and what it writes next (argmax, so it is repeatable)."
        )
        choice = st.radio("Prompt", list(TRICKS), horizontal=True, key="text.trick")
        prompt = st.text_input(
            "…edit it if you like",
            value=TRICKS[choice][0],
            key=f"text.trick_text.{choice}",
            max_chars=settings.max_trick_chars,
        )
        st.caption(TRICKS[choice][1])
        try:  # the widget's max_chars is the browser's; the server checks the length again before any work
            check = T.clean_seed(prompt, vocab, settings.max_trick_chars)
            cleaned, bits = T.surprisal(sampler, prompt, settings.max_trick_chars)
        except ValueError as exc:
            st.error(str(exc))
            return
        if check.message:
            st.warning(check.message)
        if len(bits):
            st.metric("Average surprise", f"{bits.mean():.2f} bits per character", help="Lower = more expected.")
            st.plotly_chart(fig.surprisal_bars(cleaned, bits, "Surprise per character"), key="text.trick_bars")
        continuation = T.generate_text(sampler, cleaned, 160, temperature=0).texts[0]
        st.markdown(_pre(cleaned, continuation, "text-trick"), unsafe_allow_html=True)

    trick_it()

    # ---------------------------------------------------------------- model and training
    with st.expander("The model: layers and parameters", expanded=False):
        a, b = st.columns(2)
        with a:
            st.markdown(f"**This model** ({active_label('text')})")
            rows = T.summary_table(loaded.model)
            st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
            total = sum(r["params"] for r in rows)
            st.caption(f"{total:,} parameters, {total * 4 / 2**20:.1f} MB of float32 weights.")
        with b:
            st.markdown("**The TensorFlow tutorial's model** (`tutorial` preset, built here but not trained)")
            rows = _tutorial_summary()
            st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
            total = sum(r["params"] for r in rows)
            st.caption(
                f"{total:,} parameters, {total * 4 / 2**20:.1f} MB. The tutorial trains it on a GPU; the shipped model "
                "halves the LSTM (about 3.3× fewer parameters) so it trains on a CPU and stays under 10 MB."
            )

    with st.expander("How it was trained", expanded=False):
        if metrics:
            m1, m2, m3 = st.columns(3)
            m1.metric("Validation loss", f"{metrics['val_loss_nats_per_char']:.3f} nats/char")
            m2.metric("Bits per character", f"{metrics['val_bits_per_char']:.3f}")
            m3.metric("Best epoch", f"{metrics.get('best_epoch')} of {metrics.get('epochs_run')}")
        history = meta.get("history") or {}
        if history.get("loss"):
            st.plotly_chart(
                fig.history_curves(history, "loss", "Cross-entropy per epoch (nats/char)"), key="text.history"
            )
        corpus = meta.get("corpus") or {}
        if corpus:
            st.caption(
                f"Corpus: {corpus.get('name', '?')}, {corpus.get('chars', 0):,} characters, "
                f"{corpus.get('vocab_size', '?')} distinct; {corpus.get('split', '')}. "
                f"{corpus.get('source', '')} {corpus.get('licence', '')}"
            )
        if meta.get("training_seconds"):
            st.caption(f"Training time: {meta['training_seconds'] / 60:.0f} minutes. {meta.get('training_note', '')}")
        st.caption(
            "The loss is the average −log p of the true next character: 1.5 nats ≈ 2.2 bits, as if the model were "
            "choosing among about 4.5 equally likely characters instead of 65."
        )

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
                if state.get("text.corpus_name") != uploaded.name or state.get("text.corpus") != corpus_text:
                    state["text.scored"] = None
                state["text.corpus"], state["text.corpus_name"] = corpus_text, uploaded.name
    with down:
        if st.button("Download the Shakespeare corpus", key="text.download"):
            try:
                with st.spinner("Downloading…"):
                    path = T.download_shakespeare(settings.user_data_dir)
                state["text.corpus"], state["text.corpus_name"] = T.read_corpus(path), path.name
                state["text.scored"] = None
                st.success(f"Downloaded {path.name}.")
            except (ValueError, OSError) as exc:
                st.error(str(exc))
        st.caption(f"From TensorFlow's public copy: {T.SHAKESPEARE_URL}")

    if state.get("text.corpus"):
        corpus_text = state["text.corpus"]
        info = T.describe_corpus(corpus_text, state.get("text.corpus_name", ""))
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
                    state["text.scored"] = scored
                except ValueError as exc:
                    st.error(str(exc))
        if state.get("text.scored"):
            s = state["text.scored"]
            st.metric(
                "Loss on your text", f"{s['loss_nats_per_char']:.3f} nats/char", help=f"{s['bits_per_char']:.3f} bits"
            )
        try:
            st.page_link("pages/4_Retrain.py", label="Train on it in the Retrain studio", icon="🛠️")
        except st.errors.StreamlitAPIException:  # the page runs on its own (tests), without the app's page list
            st.markdown("Train on it in the **Retrain** studio (see the sidebar).")
        st.caption("The Retrain studio has its own upload box; your file is checked the same way there.")
