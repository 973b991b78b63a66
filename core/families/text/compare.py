"""The text family's part in comparing two versions: its classes are its characters, its held-out inputs the last
10% of the built-in corpus, and every next character of those windows is one input."""

from __future__ import annotations

import numpy as np

from core.engine.compare import CompareError, Comparison, HeldOut, compare_text_models, held_out_inputs
from core.families.text import generate as text_generate
from core.families.text import model as text
from core.store import models as store

TEXT_FRACTION = 0.1  # the text models validate on the corpus' last 10%
MAX_TEXT_CHARS = 20_000  # of that tail: two LSTMs over 20,000 characters take a few seconds on 2 cores


def class_names(loaded) -> list[str]:
    return list(text.vocab_from_metadata(loaded.metadata).chars)


def held_out(chars: list[str]) -> HeldOut:
    """The last 10% of the built-in corpus (at most MAX_TEXT_CHARS of it) as windows of the models' own length."""
    found = text.builtin_corpus()
    if found is None:
        raise CompareError(
            "Text models are not compared here: the built-in corpus is not on this server (the Text page can "
            "download it), so there is no held-out text to run them on."
        )
    corpus, name = found
    tail = text.split_corpus(corpus, TEXT_FRACTION)[1][:MAX_TEXT_CHARS]
    vocab = text.Vocabulary(tuple(chars))
    known = set(vocab.chars)
    tail = "".join(c for c in (text_generate.CHAR_MAP.get(c, c) for c in tail) if c in known)
    seq = text.config_from_metadata(store.load_metadata(store.shipped_model_dir("text"))).seq_length
    try:
        x, y = text.make_windows(vocab.encode(tail), seq)
    except ValueError as exc:
        raise CompareError(str(exc)) from None
    return HeldOut(x, y, [text.show_char(c) for c in vocab.chars], f"{y.size:,} characters: the last 10% of {name}")


def compare_models(model_a, model_b, classes: list[list[str]]) -> tuple[Comparison, HeldOut, np.ndarray]:
    """Two character models on the same held-out windows; they must read the same alphabet."""
    if classes[0] != classes[1]:
        raise CompareError(
            "The two text models read different alphabets, so they cannot be scored on the same characters."
        )
    held = held_out_inputs("text", tuple(classes[0]))
    comparison = compare_text_models(model_a, model_b, held.x, held.y, held.class_names)
    comparison.notes.append("Each character of the held-out text is one input: the model predicts the next one.")
    return comparison, held, np.asarray(held.x)
