"""The Text page's self-contained sections: escaping helpers, the result view, the step-through, the activations
view, the trick-it box and the model/training expanders (pages/3_Text.py calls them)."""

import html
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import streamlit as st

from core.families.text import figures as text_figures
from core.families.text import generate as text_generate
from core.families.text import model as T
from core.families.text import steps as TS
from core.figures import training as training_figures
from ui.common import guarded


def escape_markdown(chunk: str) -> str:
    """Generated text is shown as markdown while it streams: escape markdown syntax and keep line breaks."""
    out = "".join("\\" + c if c in "\\`*_[]<>#+-!|~.$" else c for c in chunk)
    return out.replace("\n", "  \n")


# Streamlit restyles <pre> and drops its style, so an inner block keeps the line breaks; <pre> itself is needed
# because a markdown HTML block would end at the first blank line of the generated text.


@dataclass
class TextState:
    """Everything the Text page remembers for a session, in one object (session key "text")."""

    result: text_generate.Generation | None = None  # the last generation, with every step's logits
    settings: dict = field(default_factory=dict)  # what produced it: seed, seed_source, temperature, ...
    argmax: text_generate.Generation | None = None  # the greedy continuation of the same start
    corpus: str = ""  # the text to score the model on (uploaded or the built-in one)
    corpus_name: str = ""
    scored: dict | None = None  # the model's loss on that corpus


PRE_OPEN = "<pre><span style='display:block;white-space:pre-wrap;font-family:ui-monospace,monospace'>"
PRE_CLOSE = "</span></pre>"


def pre(seed: str, generated: str, test_id: str) -> str:
    """The seed in grey, then the generated text, in a block that keeps its line breaks."""
    return (
        f"{PRE_OPEN}<span style='color:#999'>{html.escape(seed)}</span>"
        f"<span class='generated' data-testid='{test_id}' data-chars='{len(generated)}'>{html.escape(generated)}</span>"
        f"{PRE_CLOSE}"
    )


def show_result(state: TextState, result: text_generate.Generation) -> None:
    """The seed used, where the random seed came from, and one tab per generated sample."""
    st.markdown(
        f"**Seed used:** `{result.seed.text!r}`" + (" (cleaned)" if result.seed.text != result.seed.original else "")
    )
    run_seed, source = state.settings["seed"], state.settings.get("seed_source")
    if source == "fresh":
        left, right = st.columns([4, 1])
        left.info(f"Random seed {run_seed} — type it in to repeat this run.", icon="🎲")

        def _keep_seed(seed: int = run_seed) -> None:
            st.session_state["text.random_seed"] = seed  # a callback runs before the widget: allowed to set its value

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
            st.markdown(pre(result.seed.text, generated, f"text-generated-{i}"), unsafe_allow_html=True)


@st.fragment
@guarded("The step-through")
def step_through(state: TextState, vocab) -> None:
    """Every next-character distribution of a sample, replayed at any temperature from its stored logits."""
    result = state.result
    if result is None:
        return
    st.subheader("Step through: what did it consider at each character?")
    n = len(result.texts[0])
    c1, c2, c3 = st.columns([1, 3, 1])
    sample = c1.selectbox("Sample", range(len(result.texts)), format_func=lambda i: f"{i + 1}", key="text.step_sample")
    pos = c2.slider("Position in the generated text", 1, n, min(n, 1), key="text.step_pos") - 1 if n > 1 else 0
    k = c3.slider("Top-k bars", 3, 20, 10, key="text.step_k")
    generated = result.texts[sample]
    chosen = int(result.ids[sample, pos])
    p = result.probabilities[sample, pos]
    before = (result.seed.text + generated)[max(0, len(result.seed.text) + pos - 80) : len(result.seed.text) + pos]
    st.markdown(
        f"{PRE_OPEN}{html.escape(before)}<mark data-testid='text-step-char' "
        f"style='background:{text_figures.DRAWN};color:black'>"
        f"{html.escape(T.show_char(generated[pos]))}</mark>{PRE_CLOSE}",
        unsafe_allow_html=True,
    )
    sampled_t = state.settings["temperature"]
    used = TS.StepDistribution(sampled_t, p, float(TS.entropy_nats(p)))
    if result.logits is None:  # a result kept from before logits were stored: only the sampled distribution
        st.plotly_chart(
            text_figures.next_char_bars(
                p, vocab.chars, chosen, k, f"Next-character distribution at position {pos + 1}"
            ),
            key="text.step_bars",
        )
        return

    # The temperature slider replays this step's stored logits: softmax(logits / T), nothing is regenerated.
    top = float(min(5.0, max(2.0, math.ceil(sampled_t))))
    start_t = min(sampled_t, top)
    widgets = st.session_state
    if not 0.0 <= widgets.get("text.step_temperature", start_t) <= top:
        widgets["text.step_temperature"] = start_t
    widgets.setdefault("text.step_temperature", start_t)
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
        st.session_state["text.step_temperature"] = start_t

    s2.button(f"Back to T = {start_t:g}", key="text.step_temperature_reset", on_click=_reset_temperature)
    live = TS.distribution_at(result.logits[sample, pos], live_t, result.top_k)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(
        f"p(sampled character) at T = {live_t:g}",
        f"{live.probabilities[chosen]:.3f}",
        delta=f"{live.probabilities[chosen] - p[chosen]:+.3f} vs sampling",
        delta_color="off",
    )
    scores = result.logits[sample, pos]  # (V,) the model's ranking, the same at every temperature
    m2.metric(f"its rank among {len(vocab)}", int((scores > scores[chosen]).sum()) + 1, help="By the model's score.")
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
        text_figures.temperature_bars(
            live.probabilities,
            p,
            vocab.chars,
            chosen,
            k,
            f"Next-character distribution at position {pos + 1}, T = {live_t:g}",
            live_t,
            sampled_t,
            scores,
        ),
        key="text.step_bars",
    )
    st.caption(
        "Bars: the distribution at the slider's temperature; black ticks: the one the character was drawn from. "
        + text_figures.drawn_caption(live.probabilities, vocab.chars, chosen, live_t)
        + (
            " With temperature above 0 the drawn character need not be the tallest: sampling picks each character "
            "with its probability, which is what keeps the text from repeating."
            if sampled_t > 0
            else " The text was generated at T = 0, so every character drawn was the argmax."
        )
        + (f" Top-k = {result.top_k} still applies: the other characters stay at 0." if result.top_k else "")
    )
    with st.expander("Entropy against temperature at this step", expanded=False):
        temperatures = np.linspace(0.0, top, 81)
        curve = TS.entropy_by_temperature(result.logits[sample, pos], temperatures, result.top_k)
        choices = min(result.top_k or len(vocab), len(vocab))
        st.plotly_chart(
            text_figures.entropy_curve(
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


def sampling_vs_argmax(state: TextState, result: text_generate.Generation) -> None:
    """Sample 1 beside the greedy (temperature 0) continuation of the same start, with any loop marked."""
    st.subheader("Sampling against argmax")
    greedy: text_generate.Generation = state.argmax
    loop = text_generate.find_loop(greedy.texts[0])
    a, b = st.columns(2)
    with a:
        st.markdown(f"**Sampled** (temperature {state.settings['temperature']:g})")
        st.markdown(
            pre(result.seed.text, result.texts[0][: len(greedy.texts[0])], "text-sampled"), unsafe_allow_html=True
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
            st.markdown(pre(greedy.seed.text, g, "text-argmax"), unsafe_allow_html=True)
            st.info(
                "No exact loop within these characters, but notice how greedy text favours the commonest words "
                "and phrases. Try a longer length."
            )


@st.fragment
@guarded("The activations view")
def activations(state: TextState) -> None:
    """A heatmap of LSTM cell or hidden activations over sample 1."""
    result = state.result
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
        units = text_generate.top_units(acts, c3.slider("How many", 2, 24, 8, key="text.act_n"))
    if not units:
        st.info("Choose at least one unit.")
        return
    text = result.texts[0]
    window = 80
    start = 0
    if len(text) > window:
        start = st.slider("Start position", 0, len(text) - window, 0, key="text.act_start")
    st.plotly_chart(
        text_figures.activation_heatmap(acts[start : start + window], text[start : start + window], units),
        key="text.act_heatmap",
    )


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
def trick_it(sampler: text_generate.CharSampler, settings) -> None:
    """Score a prompt unlike Shakespeare character by character, then continue it greedily."""
    vocab = sampler.vocab
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
        check = text_generate.clean_seed(prompt, vocab, settings.max_trick_chars)
        cleaned, bits = text_generate.surprisal(sampler, prompt, settings.max_trick_chars)
    except ValueError as exc:
        st.error(str(exc))
        return
    if check.message:
        st.warning(check.message)
    if len(bits):
        st.metric("Average surprise", f"{bits.mean():.2f} bits per character", help="Lower = more expected.")
        st.plotly_chart(text_figures.surprisal_bars(cleaned, bits, "Surprise per character"), key="text.trick_bars")
    continuation = text_generate.generate_text(sampler, cleaned, 160, temperature=0).texts[0]
    st.markdown(pre(cleaned, continuation, "text-trick"), unsafe_allow_html=True)


def model_expander(model, label: str, tutorial_rows: list[dict]) -> None:
    """This model's layers and parameters beside the TensorFlow tutorial's."""
    with st.expander("The model: layers and parameters", expanded=False):
        a, b = st.columns(2)
        with a:
            st.markdown(f"**This model** ({label})")
            rows = T.summary_table(model)
            st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
            total = sum(r["params"] for r in rows)
            st.caption(f"{total:,} parameters, {total * 4 / 2**20:.1f} MB of float32 weights.")
        with b:
            st.markdown("**The TensorFlow tutorial's model** (`tutorial` preset, built here but not trained)")
            rows = tutorial_rows
            st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
            total = sum(r["params"] for r in rows)
            st.caption(
                f"{total:,} parameters, {total * 4 / 2**20:.1f} MB. The tutorial trains it on a GPU; the shipped model "
                "halves the LSTM (about 3.3× fewer parameters) so it trains on a CPU and stays under 10 MB."
            )


def training_expander(meta: dict) -> None:
    """Validation loss, the loss curve, the corpus and the training time."""
    metrics = meta.get("metrics", {})
    with st.expander("How it was trained", expanded=False):
        if metrics:
            m1, m2, m3 = st.columns(3)
            m1.metric("Validation loss", f"{metrics['val_loss_nats_per_char']:.3f} nats/char")
            m2.metric("Bits per character", f"{metrics['val_bits_per_char']:.3f}")
            m3.metric("Best epoch", f"{metrics.get('best_epoch')} of {metrics.get('epochs_run')}")
        history = meta.get("history") or {}
        if history.get("loss"):
            st.plotly_chart(
                training_figures.history_curves(history, "loss", "Cross-entropy per epoch (nats/char)"),
                key="text.history",
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
