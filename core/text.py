"""Character-level LSTM text model: vocabulary, training windows, model builder and training entry point.

Follows TensorFlow's "Text generation with an RNN" tutorial (Embedding -> LSTM -> Dense logits over characters).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.config import TextConfig

PRESETS: dict[str, TextConfig] = {
    "shipped": TextConfig(),
    "tutorial": TextConfig.tutorial(),
    "tiny": TextConfig.tiny(),
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
        return cls(tuple(chars))


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
    windows = np.asarray(ids[: n * chunk], dtype=np.int32).reshape(n, chunk)
    return windows[:, :-1], windows[:, 1:]


def build_text_model(
    vocab_size: int, cfg: TextConfig = TextConfig(), stateful: bool = False, batch_size: int | None = None
):
    """Embedding -> LSTM (all timesteps) -> Dense logits, with named layers."""
    import keras

    batch_shape = (batch_size if stateful else None, None)
    return keras.Sequential(
        [
            keras.Input(batch_shape=batch_shape, dtype="int32", name="chars"),
            keras.layers.Embedding(vocab_size, cfg.embedding_dim, name="embedding"),
            keras.layers.LSTM(
                cfg.lstm_units,
                return_sequences=True,
                stateful=stateful,
                recurrent_initializer="glorot_uniform",
                name="lstm",
            ),
            keras.layers.Dense(vocab_size, name="dense_out"),  # (B, T, vocab) logits
        ],
        name=f"text_{cfg.preset}",
    )


def read_corpus(path: str | Path) -> str:
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text (byte {exc.start} cannot be decoded).") from exc


def prepare_text_data(text: str, cfg: TextConfig, vocab: Vocabulary | None = None):
    """Vocabulary plus (x, y) training and validation windows from one corpus (last fraction validates)."""
    vocab = vocab or Vocabulary.from_text(text)
    train_text, val_text = split_corpus(text, cfg.validation_fraction)
    x_train, y_train = make_windows(vocab.encode(train_text), cfg.seq_length)
    x_val, y_val = make_windows(vocab.encode(val_text), cfg.seq_length)
    return vocab, (x_train, y_train), (x_val, y_val)


def train_text_model(text: str, cfg: TextConfig = TextConfig(), model=None, vocab: Vocabulary | None = None, **hooks):
    """Train a char-LSTM on `text` through core.training.train; returns (model, vocab, TrainResult)."""
    import keras

    from core.training import train

    vocab, (x_train, y_train), (x_val, y_val) = prepare_text_data(text, cfg, vocab)
    if cfg.seed is not None:
        keras.utils.set_random_seed(cfg.seed)
    model = model or build_text_model(len(vocab), cfg)
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
        **hooks,
    )
    return model, vocab, result
