"""Character-level LSTM text model: vocabulary, training windows, model builder, training, evaluation and generation.

Follows TensorFlow's "Text generation with an RNN" tutorial (Embedding -> LSTM -> Dense logits over characters).
Generation (CharSampler, clean_seed, generate_text, ...) lives in core.text_generate and is re-exported here.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from core import maths
from core.engine.training import Trained, copy_model, train
from core.families.text.config import TextConfig

# One-step generation lives in core.text_generate; re-exported so `core.families.text.generate.CharSampler` etc. keep working.
from core.maths import cross_entropy
from core.settings import REPO_ROOT, get_settings
from core.store import models as store

PRESETS: dict[str, TextConfig] = {
    "shipped": TextConfig(),
    "tutorial": TextConfig.tutorial(),
    "tiny": TextConfig.tiny(),
}
# The canonical corpus, at the public URL TensorFlow's tutorial downloads it from.
SHAKESPEARE_URL = "https://storage.googleapis.com/download.tensorflow.org/data/shakespeare.txt"
SHAKESPEARE_FILE = "shakespeare.txt"


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
    """Train a new char-LSTM on `text`, or a copy of `model` (never `model` itself), through core.training.train;
    returns core.training.Trained with the vocabulary in `data["vocab"]`."""
    import keras

    vocab, (x_train, y_train), (x_val, y_val) = prepare_text_data(text, cfg, vocab)
    if model is None:
        if cfg.seed is not None:
            keras.utils.set_random_seed(cfg.seed)
        model = build_text_model(len(vocab), cfg)
    else:
        model = copy_model(model)
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
    return Trained(model, result, {"vocab": vocab, "x_val": x_val, "y_val": y_val})


def train_text_family(cfg: TextConfig, data: dict | None = None, model=None, **hooks):
    """The family contract's train: `data` is {"text": corpus} (and optionally "vocab"); None reads the built-in
    corpus. Returns core.training.Trained."""
    data = data or load_corpus_data(cfg)
    return train_text_model(data["text"], cfg, model=model, vocab=data.get("vocab"), **hooks)


def load_corpus_data(cfg: TextConfig | None = None) -> dict:
    """The family contract's built-in data: {"text": the Shakespeare corpus} when it is on this server."""
    del cfg  # every preset reads the same corpus
    found = builtin_corpus()
    if found is None:
        raise ValueError("The Shakespeare corpus is not on this server: the Text page downloads it, or upload one.")
    return {"text": found[0]}


def predict_next_proba(model, x) -> np.ndarray:
    """The family contract's predict: next-character probabilities after each window of ids, (N, vocabulary)."""

    logits = np.asarray(model(np.asarray(x, np.int32), training=False))[:, -1, :]  # (N, vocab)
    return maths.softmax(logits, axis=-1)


def example(loaded) -> dict:
    """The family contract's example: what the model expects after a line opener from the corpus."""
    vocab = vocab_from_metadata(loaded.metadata)
    prompt = "ROMEO:\nWhat light through yonder windo"
    ids = vocab.encode("".join(c for c in prompt if c in set(vocab.chars)))
    p = predict_next_proba(loaded.model, ids[None, :])[0]
    best = int(p.argmax())
    return {"input": prompt.replace("\n", " / ") + "…", "label": show_char(vocab.chars[best]), "p": float(p[best])}


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

    preset = getattr(args, "preset", "shipped") or "shipped"
    if preset not in PRESETS:
        raise ValueError(f"Unknown preset {preset!r}: choose one of {', '.join(PRESETS)}.")
    cfg = PRESETS[preset].with_(**_overrides(args))
    text = read_corpus(args.corpus)
    vocab, _, _ = prepare_text_data(text, cfg)  # fails fast, before building anything, on a too-short corpus
    keras.utils.set_random_seed(cfg.seed)

    def progress(epoch: int, logs: dict) -> None:
        print(json.dumps({"epoch": epoch + 1, **{k: round(v, 4) for k, v in logs.items()}}), file=sys.stderr)

    # The validation loss rises again once an LSTM this size starts memorising, so the model keeps its best epoch.
    model, result, _ = train_text_model(text, cfg, vocab=vocab, on_epoch_end=progress, keep_best="val_loss")
    if not result.ok:
        raise ValueError(result.message)
    corpus = describe_corpus(text, Path(args.corpus).name)
    metadata = text_metadata(vocab, cfg, result.history, result.seconds, corpus, result.best_epoch or None)
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


def builtin_corpus_path() -> Path | None:
    """Where the corpus the shipped text model learnt from is on this server, if it is (None when offline)."""

    candidates = [
        REPO_ROOT / "core" / "data" / SHAKESPEARE_FILE,
        get_settings().user_data_dir / "datasets" / SHAKESPEARE_FILE,  # where the Text page downloads it
        Path.home() / ".keras" / "datasets" / SHAKESPEARE_FILE,
    ]
    return next((p for p in candidates if p.is_file()), None)


def builtin_corpus() -> tuple[str, str] | None:
    """(text, name) of the built-in corpus, or None."""

    path = builtin_corpus_path()
    return (read_corpus(path), path.name) if path is not None else None


def builtin_corpus_available() -> bool:
    """Whether the built-in corpus is on this server (the studio offers it only then)."""
    return builtin_corpus_path() is not None
