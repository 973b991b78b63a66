"""Character-level LSTM text model: vocabulary, training windows, model builder, training, evaluation and generation.

Follows TensorFlow's "Text generation with an RNN" tutorial (Embedding -> LSTM -> Dense logits over characters).
Generation runs the trained weights one character at a time in NumPy, carrying the LSTM state (see CharSampler).
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import sys
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from core.config import TextConfig
from core.maths import cross_entropy, sigmoid, softmax

PRESETS: dict[str, TextConfig] = {
    "shipped": TextConfig(),
    "tutorial": TextConfig.tutorial(),
    "tiny": TextConfig.tiny(),
}
# The canonical corpus, at the public URL TensorFlow's tutorial downloads it from.
SHAKESPEARE_URL = "https://storage.googleapis.com/download.tensorflow.org/data/shakespeare.txt"
SHAKESPEARE_FILE = "shakespeare.txt"
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


@dataclass(frozen=True)
class Vocabulary:
    """A stable character <-> id mapping: ids follow sorted code points, so the same corpus gives the same ids."""

    chars: tuple[str, ...]

    @classmethod
    def from_text(cls, text: str) -> Vocabulary:
        if not text:
            raise ValueError("The corpus is empty: there are no characters to build a vocabulary from.")
        return cls(tuple(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.chars)}

    def encode(self, text: str) -> np.ndarray:
        """Map text to ids; raises ValueError naming any characters outside the vocabulary."""
        index = self.index
        unknown = sorted({c for c in text if c not in index})
        if unknown:
            raise ValueError(f"Characters outside the vocabulary: {''.join(unknown)!r}")
        return np.fromiter((index[c] for c in text), dtype=np.int32, count=len(text))

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def to_json(self) -> str:
        return json.dumps(list(self.chars))

    @classmethod
    def from_json(cls, payload: str | list) -> Vocabulary:
        chars = json.loads(payload) if isinstance(payload, str) else payload
        if not isinstance(chars, list) or not chars or not all(isinstance(c, str) and len(c) == 1 for c in chars):
            raise ValueError("A vocabulary must be a non-empty list of single characters.")
        if len(set(chars)) != len(chars):
            raise ValueError("The vocabulary lists a character twice.")
        return cls(tuple(chars))


def show_char(c: str) -> str:
    """A visible label for one character: newline and space would be invisible in a chart or table."""
    return {"\n": "⏎", " ": "␣", "\t": "⇥"}.get(c, c)


# ---------------------------------------------------------------- corpus and windows


def split_corpus(text: str, validation_fraction: float) -> tuple[str, str]:
    """First (1 - fraction) for training, the last fraction for validation."""
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError("The validation fraction must be between 0 and 1 (exclusive).")
    cut = int(len(text) * (1.0 - validation_fraction))
    return text[:cut], text[cut:]


def make_windows(ids: np.ndarray, seq_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut ids into non-overlapping (input, next-char target) windows, as the tutorial does.

    Returns x, y of shape (N, seq_length); y is x shifted left by one character.
    """
    chunk = seq_length + 1
    n = len(ids) // chunk
    if n == 0:
        raise ValueError(
            f"The corpus is too short: it has {len(ids)} characters, and one training sequence needs {chunk}."
        )
    windows = np.asarray(ids[: n * chunk], dtype=np.int32).reshape(n, chunk)  # (N, seq_length + 1)
    return windows[:, :-1], windows[:, 1:]


def read_corpus(path: str | Path) -> str:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"There is no file at {path}.")
    return decode_text(path.read_bytes(), str(path))


def decode_text(data: bytes, name: str = "The file") -> str:
    """UTF-8 text, or a ValueError in plain words for empty, binary or non-UTF-8 bytes."""
    if not data:
        raise ValueError(f"{name} is empty.")
    if b"\x00" in data[:65536]:
        raise ValueError(f"{name} looks like a binary file (it contains NUL bytes), not text.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name} is not UTF-8 text (byte {exc.start} cannot be decoded).") from None
    text = text.removeprefix("\ufeff")  # a byte-order mark is not part of the text
    control = sum(1 for c in text[:65536] if unicodedata.category(c) == "Cc" and c not in "\n\r\t")
    if control > 0.05 * min(len(text), 65536):
        raise ValueError(f"{name} is mostly control characters: it looks binary, not like text.")
    return text


def check_corpus_upload(data: bytes, max_mb: float, seq_length: int = TextConfig().seq_length) -> str:
    """Validate an uploaded .txt for training: size cap, UTF-8, and long enough for a training sequence."""
    if len(data) > max_mb * 2**20:
        raise ValueError(f"The file is {len(data) / 2**20:.1f} MB; uploads are capped at {max_mb:g} MB.")
    text = decode_text(data, "The upload")
    if len(text) < 2 * (seq_length + 1):
        raise ValueError(
            f"The text has {len(text)} characters: it needs at least {2 * (seq_length + 1)} "
            f"(one {seq_length + 1}-character sequence for training and one for validation)."
        )
    return text


def describe_corpus(text: str, name: str = "") -> dict:
    """Size, vocabulary and fingerprint of a corpus: what the metadata records instead of the text itself."""
    return {
        "name": name,
        "chars": len(text),
        "vocab_size": len(set(text)),
        "lines": text.count("\n") + (0 if text.endswith("\n") else 1),
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
    }


def download_shakespeare(cache_dir: str | Path, url: str = SHAKESPEARE_URL) -> Path:
    """Fetch the canonical Shakespeare corpus with keras.utils.get_file (cached); offline gives a plain ValueError."""
    import keras

    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    try:
        path = keras.utils.get_file(SHAKESPEARE_FILE, origin=url, cache_dir=str(cache_dir), cache_subdir="datasets")
    except Exception as exc:  # get_file wraps every network failure in a bare Exception
        raise ValueError(
            f"Could not download the corpus from {url}: this server seems to be offline or cannot reach it "
            f"({exc}). Upload a .txt file instead."
        ) from None
    return Path(path)


def prepare_text_data(text: str, cfg: TextConfig, vocab: Vocabulary | None = None):
    """Vocabulary plus (x, y) training and validation windows from one corpus (last fraction validates)."""
    vocab = vocab or Vocabulary.from_text(text)
    train_text, val_text = split_corpus(text, cfg.validation_fraction)
    x_train, y_train = make_windows(vocab.encode(train_text), cfg.seq_length)
    if len(val_text) < cfg.seq_length + 1:
        raise ValueError(
            f"The corpus is too short: its validation part (the last {cfg.validation_fraction:.0%}) has "
            f"{len(val_text)} characters, and one sequence needs {cfg.seq_length + 1}."
        )
    x_val, y_val = make_windows(vocab.encode(val_text), cfg.seq_length)
    return vocab, (x_train, y_train), (x_val, y_val)


# ---------------------------------------------------------------- model


def build_text_model(
    vocab_size: int, cfg: TextConfig = TextConfig(), stateful: bool = False, batch_size: int | None = None
):
    """Embedding -> LSTM (all timesteps) -> Dense logits, with named layers."""
    import keras

    batch_shape = (batch_size if stateful else None, None)
    layers = [
        keras.Input(batch_shape=batch_shape, dtype="int32", name="chars"),
        keras.layers.Embedding(vocab_size, cfg.embedding_dim, name="embedding"),  # (B, T, embedding_dim)
        keras.layers.LSTM(
            cfg.lstm_units,
            return_sequences=True,
            stateful=stateful,
            recurrent_initializer="glorot_uniform",
            name="lstm",
        ),  # (B, T, lstm_units)
    ]
    if cfg.dropout > 0:  # only active in training; generation (CharSampler) reads the weights and skips it
        layers.append(keras.layers.Dropout(cfg.dropout, name="dropout"))
    layers.append(keras.layers.Dense(vocab_size, name="dense_out"))  # (B, T, vocab) logits
    return keras.Sequential(layers, name=f"text_{cfg.preset}")


def summary_table(model) -> list[dict]:
    """One row per layer: name, class, output shape and parameter count (what Keras' summary() prints)."""
    rows = []
    for layer in model.layers:
        shape = list(layer.output.shape)  # (batch, time, features) for every layer of this family
        names = ["batch", "time"]
        shape = [names[i] if d is None and i < 2 else d for i, d in enumerate(shape)]
        rows.append(
            {
                "layer": layer.name,
                "type": layer.__class__.__name__,
                "output shape": "(" + ", ".join(str(d) for d in shape) + ")",
                "params": int(layer.count_params()),
            }
        )
    return rows


def train_text_model(text: str, cfg: TextConfig = TextConfig(), model=None, vocab: Vocabulary | None = None, **hooks):
    """Train a char-LSTM on `text` through core.training.train; returns (model, vocab, TrainResult)."""
    import keras

    from core.training import train

    vocab, (x_train, y_train), (x_val, y_val) = prepare_text_data(text, cfg, vocab)
    if model is None:
        if cfg.seed is not None:
            keras.utils.set_random_seed(cfg.seed)
        model = build_text_model(len(vocab), cfg)
    result = train(
        model,
        x_train,
        y_train,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        optimizer=cfg.optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        validation_data=(x_val, y_val),
        seed=cfg.seed,
        final_learning_rate_fraction=cfg.final_learning_rate_fraction,
        **hooks,
    )
    return model, vocab, result


# ---------------------------------------------------------------- one-step generation (NumPy)


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
    from core.settings import get_settings

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
    from core.settings import get_settings

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


# ---------------------------------------------------------------- evaluation


def evaluate_text(model, vocab: Vocabulary, text: str, seq_length: int, batch_size: int = 64) -> dict:
    """Mean next-character cross-entropy on `text`, scored in the training windows (state reset per window).

    Characters outside the vocabulary cannot be predicted (the model gives them probability 0), so they are
    removed first and counted. A text shorter than one window is scored as a single window.
    """
    index = vocab.index
    unknown = [c for c in text if c not in index]
    known = "".join(c for c in text if c in index)
    if len(known) < 2:
        raise ValueError(
            f"The text has {len(known)} character(s) the model knows; at least 2 are needed to score a prediction."
        )
    ids = vocab.encode(known)
    if len(ids) >= seq_length + 1:
        x, y = make_windows(ids, seq_length)  # (N, seq_length) each
    else:
        x, y = ids[None, :-1], ids[None, 1:]
    total = 0.0
    for start in range(0, len(x), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        logits = np.asarray(model(xb, training=False), dtype=np.float64)  # (b, T, V)
        total += float(cross_entropy(logits, yb, from_logits=True).sum())
    scored = int(y.size)
    nats = total / scored
    return {
        "chars": scored,
        "loss_nats_per_char": round(nats, 5),
        "bits_per_char": round(nats / math.log(2), 5),
        "unknown_chars": len(unknown),
        "unknown_char_set": "".join(sorted(set(unknown))),
        "text_chars": len(text),
    }


# ---------------------------------------------------------------- store and CLI


def vocab_from_metadata(metadata: dict) -> Vocabulary:
    if "vocab" not in metadata:
        raise ValueError("This model folder has no character vocabulary in its metadata, so it is not a text model.")
    return Vocabulary.from_json(metadata["vocab"])


def config_from_metadata(metadata: dict) -> TextConfig:
    known = TextConfig.__dataclass_fields__
    return TextConfig(**{k: v for k, v in (metadata.get("config") or {}).items() if k in known})


def load_text_model(folder: str | Path | None = None):
    """(LoadedModel, Vocabulary) for a text model folder (default: the shipped one)."""
    from core import store

    loaded = store.load_model(folder or store.shipped_model_dir("text"))
    return loaded, vocab_from_metadata(loaded.metadata)


def text_metadata(
    vocab: Vocabulary, cfg: TextConfig, history: dict, seconds: float, corpus: dict, best_epoch: int | None
) -> dict:
    """The metadata stored with a text model: vocabulary, config, curve, metrics, time, and what it read."""
    val = history.get("val_loss") or []
    best = (best_epoch or (int(np.argmin(val)) + 1 if val else 0)) - 1
    metrics = {}
    if val:
        metrics = {
            "val_loss_nats_per_char": round(float(val[best]), 5),
            "val_bits_per_char": round(float(val[best]) / math.log(2), 5),
            "val_accuracy": round(float((history.get("val_accuracy") or [math.nan] * len(val))[best]), 5),
            "best_epoch": best + 1,
            "epochs_run": len(val),
        }
    return {
        "family": "text",
        "vocab": list(vocab.chars),
        "config": asdict(cfg),
        "history": history,
        "metrics": metrics,
        "training_seconds": round(float(seconds), 1),
        "corpus": corpus,
    }


def measured_summary(metadata: dict | None) -> str:
    """One line: what the model read and how well it predicts text it never trained on."""
    meta = metadata or {}
    m, corpus = meta.get("metrics") or {}, meta.get("corpus") or {}
    if m.get("val_loss_nats_per_char") is None:
        return "This model has no figure measured on held-out text."
    cfg = config_from_metadata(meta)
    chars = corpus.get("chars")
    held_out = f"{round(chars * cfg.validation_fraction):,} characters" if chars else "text"
    return (
        f"Trained on the first {1 - cfg.validation_fraction:.0%} of {corpus.get('name') or 'its corpus'}; on the "
        f"last {cfg.validation_fraction:.0%} ({held_out} it never trained on) it scores "
        f"{m['val_loss_nats_per_char']:.3f} nats per character (best epoch {m.get('best_epoch', '?')})."
    )


def _overrides(args) -> dict:
    return {
        k: v
        for k, v in (
            ("epochs", getattr(args, "epochs", None)),
            ("batch_size", getattr(args, "batch_size", None)),
            ("learning_rate", getattr(args, "learning_rate", None)),
            ("seed", getattr(args, "seed", None)),
        )
        if v is not None
    }


def train_cli(args) -> dict:
    """`python -m core train text --corpus PATH`: rebuild saved_models/text (or --out), keeping the best epoch."""
    import keras

    from core import store

    preset = getattr(args, "preset", "shipped") or "shipped"
    if preset not in PRESETS:
        raise ValueError(f"Unknown preset {preset!r}: choose one of {', '.join(PRESETS)}.")
    cfg = PRESETS[preset].with_(**_overrides(args))
    text = read_corpus(args.corpus)
    vocab, _, _ = prepare_text_data(text, cfg)  # fails fast, before building anything, on a too-short corpus
    keras.utils.set_random_seed(cfg.seed)
    model = build_text_model(len(vocab), cfg)
    best = {"loss": math.inf, "epoch": 0, "weights": None}

    def keep_best(epoch: int, logs: dict) -> None:
        # The validation loss rises again once an LSTM this size starts memorising, so keep the best epoch.
        print(json.dumps({"epoch": epoch + 1, **{k: round(v, 4) for k, v in logs.items()}}), file=sys.stderr)
        if logs.get("val_loss", math.inf) < best["loss"]:
            best.update(loss=logs["val_loss"], epoch=epoch + 1, weights=model.get_weights())

    model, vocab, result = train_text_model(text, cfg, model=model, vocab=vocab, on_epoch_end=keep_best)
    if not result.ok:
        raise ValueError(result.message)
    if best["weights"] is not None:
        model.set_weights(best["weights"])
    corpus = describe_corpus(text, Path(args.corpus).name)
    metadata = text_metadata(vocab, cfg, result.history, result.seconds, corpus, best["epoch"])
    out = Path(args.out) if args.out else store.shipped_model_dir("text")
    store.save_model(model, out, metadata)
    return {"out": str(out), "seconds": round(result.seconds, 1), **metadata["metrics"]}


def evaluate_cli(args) -> dict:
    """`python -m core evaluate text FILE [--tail FRACTION] [--model DIR]`: loss in nats and bits per character."""
    text = read_corpus(args.file)
    tail = getattr(args, "tail", None)
    if tail is not None:
        if not 0.0 < tail <= 1.0:
            raise ValueError(f"--tail must be a fraction in (0, 1] (got {tail}).")
        text = text[int(len(text) * (1.0 - tail)) :]
    loaded, vocab = load_text_model(getattr(args, "model", None))
    cfg = config_from_metadata(loaded.metadata)
    return evaluate_text(loaded.model, vocab, text, cfg.seq_length)
