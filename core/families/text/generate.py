"""One-step generation in NumPy: the trained LSTM weights run one character at a time, carrying the state.

Seed cleaning, sampling checks, streaming generation and the analysis helpers built on them (surprisal, loops).
"""

from __future__ import annotations

import math
import secrets
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from core.maths import cross_entropy, sigmoid, softmax
from core.settings import get_settings

if TYPE_CHECKING:
    from core.families.text.model import Vocabulary

MAX_SAMPLES = 8  # parallel samples per request: each one is a row of the batch
DRAWN_SEED_LIMIT = 1_000_000  # a fresh seed has at most six digits: short enough to read off and type back in
MAX_RANDOM_SEED = 2**32 - 1  # the largest seed a user may type (NumPy takes more, but a browser number field may not)
DEFAULT_SEED_CHAR = "\n"  # an empty seed starts "at the beginning of a line", the most common context in plays
# Typographic characters people paste that a plain-ASCII corpus spells differently.
CHAR_MAP = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2026": "...",
    "\t": " ",
    "\r": "",
    "\u00a0": " ",
}


class LSTMState(NamedTuple):
    h: np.ndarray  # (B, units) hidden state: what the LSTM outputs
    c: np.ndarray  # (B, units) cell state: its memory


class _OneBlasThread:
    """A re-entrant, thread-safe "BLAS on one thread" context (Streamlit runs sessions in threads).

    A batch-1 step is a (1, U) x (U, 4U) product: one thread does it in ~0.1 ms, while OpenBLAS' thread pool costs
    ~10 ms per call when the cores are busy (for instance with a training job), a 100x slowdown. The limit is
    process-wide, so it is counted: the first user sets it and the last one restores the previous setting.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._users = 0
        self._controller = None
        self._restore = None

    def __enter__(self):
        with self._lock:
            if self._users == 0:
                from threadpoolctl import ThreadpoolController

                if self._controller is None:
                    self._controller = ThreadpoolController()  # inspecting the loaded libraries is slow: once
                self._restore = self._controller.limit(limits=1, user_api="blas")
            self._users += 1
        return self

    def __exit__(self, *exc):
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._restore is not None:
                self._restore.restore_original_limits()
                self._restore = None
        return False


_ONE_BLAS_THREAD = _OneBlasThread()


def one_blas_thread() -> _OneBlasThread:
    """A context in which NumPy's BLAS uses one thread (see _OneBlasThread for why)."""
    return _ONE_BLAS_THREAD


ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": sigmoid,
    "hard_sigmoid": lambda x: np.clip((x + 3.0) / 6.0, 0.0, 1.0),
    "relu": lambda x: np.maximum(x, 0.0),
    "linear": lambda x: x,
}


class CharSampler:
    """The trained Embedding -> LSTM -> Dense weights, run one character at a time in NumPy.

    Hand-written on purpose: at batch 1, every call into TensorFlow costs about a millisecond of dispatch, more than
    the arithmetic of one step; a NumPy step is one small matrix product, and it exposes h and c for the heatmap.
    The model itself is only read, never changed, so a shared cached model is safe.
    """

    def __init__(self, model, vocab: Vocabulary):
        embedding = np.asarray(model.get_layer("embedding").embeddings, dtype=np.float32)  # (V, E)
        lstm = model.get_layer("lstm")
        dense = model.get_layer("dense_out")
        if embedding.shape[0] != len(vocab) or dense.units != len(vocab):
            raise ValueError(
                f"The model predicts {dense.units} characters but the vocabulary has {len(vocab)}: they do not belong "
                "together."
            )
        kernel = np.asarray(lstm.cell.kernel, dtype=np.float32)  # (E, 4U), gates in Keras' order i, f, c, o
        bias = np.asarray(lstm.cell.bias, dtype=np.float32) if lstm.cell.use_bias else 0.0  # (4U,)
        # The input is always one of V characters, so embedding @ kernel + bias is a lookup table: (V, 4U).
        self.input_table = embedding @ kernel + bias
        self.recurrent_kernel = np.asarray(lstm.cell.recurrent_kernel, dtype=np.float32)  # (U, 4U)
        self.dense_kernel = np.asarray(dense.kernel, dtype=np.float32)  # (U, V)
        self.dense_bias = np.asarray(dense.bias, dtype=np.float32) if dense.use_bias else np.zeros(len(vocab), "f4")
        config = lstm.get_config()
        try:
            self.activation = ACTIVATIONS[config.get("activation", "tanh")]
            self.recurrent_activation = ACTIVATIONS[config.get("recurrent_activation", "sigmoid")]
        except KeyError as exc:
            raise ValueError(
                f"The LSTM uses the activation {exc.args[0]!r}, which the sampler does not know."
            ) from None
        self.units = int(lstm.units)
        self.vocab = vocab

    def initial_state(self, batch: int = 1) -> LSTMState:
        return LSTMState(np.zeros((batch, self.units), np.float32), np.zeros((batch, self.units), np.float32))

    def step(self, state: LSTMState, ids) -> tuple[np.ndarray, LSTMState]:
        """Read one character per row; returns (next-character logits (B, V), the new state)."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)  # (B,)
        u = self.units
        z = self.input_table[ids] + state.h @ self.recurrent_kernel  # (B, 4U)
        i = self.recurrent_activation(z[:, :u])
        f = self.recurrent_activation(z[:, u : 2 * u])
        c = f * state.c + i * self.activation(z[:, 2 * u : 3 * u])  # (B, U)
        o = self.recurrent_activation(z[:, 3 * u :])
        h = o * self.activation(c)  # (B, U)
        logits = h @ self.dense_kernel + self.dense_bias  # (B, V)
        return logits, LSTMState(h, c)

    def run(self, ids, state: LSTMState | None = None) -> tuple[np.ndarray, LSTMState, np.ndarray, np.ndarray]:
        """Read a whole sequence (T,) in one stream: (logits (T, V), final state, hidden (T, U), cell (T, U))."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        state = state or self.initial_state(1)
        logits = np.zeros((len(ids), len(self.vocab)), np.float32)
        hidden = np.zeros((len(ids), self.units), np.float32)
        cell = np.zeros((len(ids), self.units), np.float32)
        with one_blas_thread():
            for t, i in enumerate(ids):
                step_logits, state = self.step(state, [i])
                logits[t], hidden[t], cell[t] = step_logits[0], state.h[0], state.c[0]
        return logits, state, hidden, cell


def next_char_probabilities(logits, temperature: float = 1.0, top_k: int | None = None) -> np.ndarray:
    """The distribution a sampler draws from: softmax(logits / T), optionally only over the k likeliest.

    Temperature 0 is the argmax (a one-hot row). Works on (V,) or (B, V).
    """
    check_temperature(temperature)
    z = np.asarray(logits, dtype=np.float64)
    if top_k:
        k = min(int(top_k), z.shape[-1])
        kth = np.sort(z, axis=-1)[..., -k][..., None]
        z = np.where(z >= kth, z, -np.inf)
    if temperature == 0:  # greedy decoding picks one character, the first of tied ones (softmax would share them)
        out = np.zeros_like(z)
        np.put_along_axis(out, np.argmax(z, axis=-1)[..., None], 1.0, axis=-1)
        return out
    return softmax(z, temperature)


def sample_ids(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row of (B, V) probabilities by inverting the cumulative sum (vectorised categorical)."""
    cdf = np.cumsum(probabilities, axis=-1)  # (B, V)
    u = rng.random((cdf.shape[0], 1)) * cdf[:, -1:]
    return np.minimum((cdf <= u).sum(axis=-1), cdf.shape[-1] - 1)  # (B,)


def check_temperature(temperature) -> float:
    try:
        t = float(temperature)
    except (TypeError, ValueError):
        raise ValueError(f"The temperature must be a number (got {temperature!r}).") from None
    if not math.isfinite(t) or t < 0:
        raise ValueError(f"The temperature must be 0 (argmax) or a positive number (got {temperature!r}).")
    return t


def check_length(length, max_chars: int) -> tuple[int, str]:
    """A length of at least 1; anything above `max_chars` is capped. Returns (length, note for the user)."""
    try:
        n = int(length)
    except (TypeError, ValueError):
        raise ValueError(f"The length must be a whole number (got {length!r}).") from None
    if n < 1:
        raise ValueError(f"The length must be at least 1 character (got {n}).")
    if n > max_chars:
        return max_chars, f"The length was capped at {max_chars:,} characters (asked for {n:,})."
    return n, ""


@dataclass
class SeedCheck:
    """What happened to a seed: the text actually used, and the characters mapped, dropped or defaulted."""

    text: str
    original: str
    mapped: dict[str, str] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    defaulted: bool = False

    @property
    def message(self) -> str:
        parts = []
        changes = []
        if self.mapped:
            changes.append("mapped " + ", ".join(f"{k!r} → {v!r}" for k, v in self.mapped.items()))
        if self.dropped:
            changes.append("dropped " + ", ".join(repr(c) for c in self.dropped))
        if changes:
            parts.append("Some seed characters are not in the model's vocabulary: " + "; ".join(changes) + ".")
        if self.defaulted:
            parts.append(f"The seed is empty, so generation starts from {self.text!r} (a new line).")
        return " ".join(parts)


def check_text_length(text, max_chars: int, what: str = "The seed") -> str:
    """The text itself, or a plain ValueError when it is longer than `max_chars`: checked on the server before any
    work, because a widget's max_chars is only enforced in the browser."""
    text = "" if text is None else str(text)
    if len(text) > max_chars:
        raise ValueError(f"{what} is {len(text):,} characters long; at most {max_chars:,} are allowed.")
    return text


def clean_seed(text: str, vocab: Vocabulary, max_chars: int | None = None) -> SeedCheck:
    """Map seed characters the vocabulary lacks to close ones (’ → ', é → e, Q → q if needed), drop the rest.

    Longer than `max_chars` (default: the server's MLX_MAX_SEED_CHARS) is a ValueError, before any work.
    """

    text = check_text_length(text, get_settings().max_seed_chars if max_chars is None else max_chars)
    index = vocab.index
    mapped: dict[str, str] = {}
    dropped: list[str] = []
    out = []
    for c in text or "":
        if c in index:
            out.append(c)
            continue
        candidates = [
            CHAR_MAP.get(c),
            unicodedata.normalize("NFKD", c).encode("ascii", "ignore").decode(),
            c.lower(),
            c.upper(),
        ]
        replacement = next((r for r in candidates if r is not None and r and all(ch in index for ch in r)), None)
        if replacement is None:
            if c not in dropped:
                dropped.append(c)
            continue
        mapped[c] = replacement
        out.append(replacement)
    cleaned = "".join(out)
    defaulted = not cleaned
    if defaulted:
        cleaned = DEFAULT_SEED_CHAR if DEFAULT_SEED_CHAR in index else vocab.chars[0]
    return SeedCheck(cleaned, text or "", mapped, dropped, defaulted)


class Step(NamedTuple):
    """One generated position for every sample."""

    ids: np.ndarray  # (B,) the sampled characters
    probabilities: np.ndarray  # (B, V) the distribution they were drawn from
    hidden: np.ndarray  # (B, U) LSTM hidden state after reading the sampled character
    cell: np.ndarray  # (B, U) LSTM cell state after reading it
    logits: np.ndarray  # (B, V) the raw scores before temperature and top-k: any temperature can be replayed on them


def draw_random_seed() -> int:
    """A fresh random seed for one Generate, from the OS's entropy: different every call, short enough to type."""
    return secrets.randbelow(DRAWN_SEED_LIMIT)


def check_random_seed(value) -> int:
    """A whole number from 0 to MAX_RANDOM_SEED, or a plain ValueError (negative, fractional, NaN, text, too big)."""
    message = f"The random seed must be a whole number from 0 to {MAX_RANDOM_SEED:,} (got {value!r})."
    if isinstance(value, bool):
        raise ValueError(message)
    try:
        as_float = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(message) from None
    if not math.isfinite(as_float) or as_float != int(as_float) or not 0 <= int(as_float) <= MAX_RANDOM_SEED:
        raise ValueError(message)
    return int(value) if isinstance(value, (int, np.integer)) else int(as_float)


def check_sampling(n_samples, top_k) -> None:
    """Plain errors for a sample count outside 1..MAX_SAMPLES or a negative top-k."""
    if not 1 <= int(n_samples) <= MAX_SAMPLES:
        raise ValueError(f"The number of samples must be between 1 and {MAX_SAMPLES} (got {n_samples}).")
    if top_k is not None and int(top_k) < 0:
        raise ValueError(f"top-k must be 0 (off) or a positive number (got {top_k}).")


def iter_generate(
    sampler: CharSampler,
    seed_text: str,
    length: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    n_samples: int = 1,
    random_seed: int | None = None,
) -> Iterator[Step]:
    """Yield one Step per character: prime the state on the seed once, then carry it from step to step.

    All samples share the primed state and run as the rows of one batch. `seed_text` must already be cleaned.
    """
    check_temperature(temperature)
    check_sampling(n_samples, top_k)
    rng = np.random.default_rng(random_seed)
    logits, state, _, _ = sampler.run(sampler.vocab.encode(seed_text))
    logits = np.repeat(logits[-1:], n_samples, axis=0)  # (B, V)
    state = LSTMState(np.repeat(state.h, n_samples, axis=0), np.repeat(state.c, n_samples, axis=0))
    for _ in range(int(length)):
        step_logits = np.asarray(logits, dtype=np.float32)  # (B, V) what this step's distribution comes from
        probabilities = next_char_probabilities(step_logits, temperature, top_k)  # (B, V)
        ids = np.argmax(probabilities, axis=-1) if temperature == 0 else sample_ids(probabilities, rng)
        with one_blas_thread():  # per step, not around the loop: the caller runs other code between yields
            logits, state = sampler.step(state, ids)
        yield Step(ids, probabilities.astype(np.float32), state.h, state.c, step_logits)


@dataclass
class Generation:
    seed: SeedCheck
    texts: list[str]  # the generated continuation of each sample (without the seed)
    ids: np.ndarray  # (B, L)
    probabilities: np.ndarray  # (B, L, V)
    hidden: np.ndarray  # (L, U) of sample 0
    cell: np.ndarray  # (L, U) of sample 0
    notes: list[str] = field(default_factory=list)
    logits: np.ndarray | None = None  # (B, L, V) raw scores each distribution came from (before temperature, top-k)
    random_seed: int | None = None  # the seed the draws came from: the same seed and settings give the same text
    temperature: float | None = None
    top_k: int | None = None


class GenerationStream:
    """Generate while streaming: iterating yields sample 0's characters one at a time (for st.write_stream);
    when the iteration ends, `.result` holds the full Generation. Bad arguments raise before the first character.

    Without a `random_seed` a fresh one is drawn (draw_random_seed) and kept in `.random_seed`, so any run can be
    repeated by passing it back.
    """

    def __init__(
        self,
        sampler: CharSampler,
        seed_text: str,
        length: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        n_samples: int = 1,
        random_seed: int | None = None,
        max_chars: int = 2000,
    ):
        self.length, length_note = check_length(length, max_chars)
        self.temperature = check_temperature(temperature)
        check_sampling(n_samples, top_k)
        self.random_seed = draw_random_seed() if random_seed is None else check_random_seed(random_seed)
        self.sampler, self.top_k, self.n_samples = sampler, top_k, int(n_samples)
        self.seed = clean_seed(seed_text, sampler.vocab)
        self.notes = [n for n in (self.seed.message, length_note) if n]
        self.result: Generation | None = None

    def __iter__(self) -> Iterator[str]:
        ids, probs, hidden, cell, logits = [], [], [], [], []
        chars = self.sampler.vocab.chars
        steps = iter_generate(
            self.sampler, self.seed.text, self.length, self.temperature, self.top_k, self.n_samples, self.random_seed
        )
        for step in steps:
            ids.append(step.ids)
            probs.append(step.probabilities)
            hidden.append(step.hidden[0])
            cell.append(step.cell[0])
            logits.append(step.logits)
            yield chars[int(step.ids[0])]
        id_array = np.stack(ids, axis=1)  # (B, L)
        self.result = Generation(
            seed=self.seed,
            texts=[self.sampler.vocab.decode(row) for row in id_array],
            ids=id_array,
            probabilities=np.stack(probs, axis=1),  # (B, L, V)
            hidden=np.stack(hidden),  # (L, U)
            cell=np.stack(cell),  # (L, U)
            notes=self.notes,
            logits=np.stack(logits, axis=1),  # (B, L, V)
            random_seed=self.random_seed,
            temperature=self.temperature,
            top_k=int(self.top_k) if self.top_k else None,
        )


def generate_text(
    sampler: CharSampler,
    seed_text: str,
    length: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    n_samples: int = 1,
    random_seed: int | None = None,
    max_chars: int = 2000,
) -> Generation:
    """Generate `n_samples` continuations of a seed; records every distribution, its logits and sample 0's activations.

    Without `random_seed` a fresh seed is drawn and recorded in the result's `random_seed`.
    """
    stream = GenerationStream(sampler, seed_text, length, temperature, top_k, n_samples, random_seed, max_chars)
    for _ in stream:
        pass
    return stream.result


def find_loop(text: str, max_period: int = 200, min_repeats: int = 2) -> tuple[int, int] | None:
    """Where a text ends in a repeating cycle: (start index, period), or None. Argmax decoding often ends so."""
    n = len(text)
    for period in range(1, min(max_period, n // min_repeats) + 1):
        if text[n - period * min_repeats :] != text[n - period :] * min_repeats:
            continue
        start = n - period * min_repeats
        while start > 0 and text[start - 1] == text[start - 1 + period]:
            start -= 1
        return start, period
    return None


def surprisal(sampler: CharSampler, text: str, max_chars: int | None = None) -> tuple[str, np.ndarray]:
    """-log2 p(char | everything before it) for each character after the first, in bits; text is cleaned first.

    The LSTM keeps every step's state, so the cost grows with the text: past `max_chars` (default: the server's
    MLX_MAX_TRICK_CHARS) it is a ValueError before any work.
    """

    limit = get_settings().max_trick_chars if max_chars is None else max_chars
    cleaned = clean_seed(check_text_length(text, limit, "The text"), sampler.vocab, limit).text
    ids = sampler.vocab.encode(cleaned)
    if len(ids) < 2:
        return cleaned, np.zeros(0)
    logits, _, _, _ = sampler.run(ids[:-1])  # (T-1, V)
    return cleaned, cross_entropy(logits, ids[1:], from_logits=True) / math.log(2)


def top_units(activations: np.ndarray, n: int) -> list[int]:
    """The n units whose activation varies most over the text: the ones worth looking at first."""
    order = np.argsort(-np.asarray(activations).std(axis=0))
    return [int(i) for i in order[: max(1, n)]]
