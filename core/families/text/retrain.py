"""The text family's retrain plan: the built-in corpus and/or an uploaded text, the base model's alphabet kept, trained
on a copy, scored on next characters bucketed into the most frequent ones, saved as a version; its held-out text."""

from __future__ import annotations

from collections import Counter

import numpy as np

from core.engine import retrain as engine
from core.engine.retrain_outcome import RetrainOutcome, TextSample
from core.engine.retrain_request import RetrainRequest, UserData, request_config
from core.engine.training import TrainingError, chance_loss
from core.families.text import generate as text_generate
from core.families.text import model as text
from core.settings import get_settings

TEXT_TOP_CHARS = 12  # the text confusion matrix shows the most frequent characters plus "other"
BATCH_EVERY = 2  # LSTM batches take ~1 s each, so report every other one; the others are epoch-level


def text_corpus(req: RetrainRequest) -> tuple[str, list[str], dict]:
    """The training text (built-in and/or uploaded), cut to the server's cap; returns (text, notes, description)."""

    notes, parts, names = [], [], []
    if req.use_builtin:
        found = text.builtin_corpus()
        if found is None:
            raise TrainingError(
                "The built-in corpus is not available on this server (it is downloaded when the text model is "
                "rebuilt). Upload a .txt file instead, or untick the built-in corpus."
            )
        parts.append(found[0])
        names.append(found[1])
    if req.text:
        parts.append(req.text)
        names.append(req.text_name or "upload")
    # The upload comes last so that, when the corpus is cut, the user's own text is the part that stays.
    corpus = "\n".join(parts)
    limit = get_settings().max_text_train_chars
    cap = min(int(req.text_chars), limit) if req.text_chars else limit
    if len(corpus) > cap:
        why = (
            "this server's limit keeps an LSTM epoch to about half a minute"
            if cap == limit
            else "as chosen: fewer characters, a shorter epoch"
        )
        notes.append(f"Training on the last {cap:,} of {len(corpus):,} characters ({why}).")
        corpus = corpus[-cap:]
    return corpus, notes, {**text.describe_corpus(corpus, " + ".join(names)), "split": "last part validates"}


def prepare_corpus(req: RetrainRequest, base_metadata: dict):
    """(corpus, vocabulary, notes, description) for a text run. A copy keeps the base model's vocabulary (its input
    and output size), so characters it cannot read are left out; a fresh model learns the corpus' own alphabet."""

    corpus, notes, description = text_corpus(req)
    if req.fresh:
        return corpus, text.Vocabulary.from_text(corpus), notes, description
    vocab = text.vocab_from_metadata(base_metadata)
    corpus = "".join(text_generate.CHAR_MAP.get(c, c) for c in corpus)
    known = set(vocab.chars)
    dropped = Counter(c for c in corpus if c not in known)
    if dropped:
        corpus = "".join(c for c in corpus if c in known)
        shown = "".join(sorted(dropped))[:40]
        notes.append(
            f"{sum(dropped.values()):,} characters the model cannot read were left out ({shown!r}); start from a "
            "fresh model to learn a new alphabet."
        )
    return corpus, vocab, notes, description


def check_data(req: RetrainRequest, user: UserData, base_metadata: dict) -> tuple[int, int]:
    """(training windows, validation windows) of the run, prepared now: it takes well under a second."""
    del user
    cfg = request_config(req, text.config_from_metadata(base_metadata))
    corpus, vocab, notes, _ = prepare_corpus(req, base_metadata)
    try:
        _, (x_train, _), (x_val, _) = text.prepare_text_data(corpus, cfg, vocab)
    except ValueError as exc:  # say why it is short when characters were left out
        raise TrainingError(" ".join([str(exc), *(n for n in notes if "left out" in n)])) from None
    return len(x_train), len(x_val)


def retrain(req: RetrainRequest, user: UserData, job, before) -> RetrainOutcome | None:

    del user  # the LSTM learns from text only
    cfg = request_config(req, text.config_from_metadata(before.metadata))
    corpus, vocab, notes, description = prepare_corpus(req, before.metadata)
    vocab, (x_train, _), (x_val, y_val) = text.prepare_text_data(corpus, cfg, vocab)
    if not engine.ready(job, req, len(x_train)):
        return None
    model, result, _ = text.train_text_model(
        corpus,
        cfg,
        model=None if req.fresh else before.model,  # the family contract: it trains a copy
        vocab=vocab,
        loss_ceiling=chance_loss(len(vocab)),
        **job.hooks(BATCH_EVERY),
    )
    if engine.stopped(job, result):
        return None
    names, y_true, after_pred, raw_pred = _text_buckets(model, vocab, x_val, y_val)
    before_pred = None
    if (before.metadata or {}).get("vocab") == list(vocab.chars):
        before_pred = _text_buckets(before.model, vocab, x_val, y_val, names)[2]
    else:
        notes.append("The model before used a different alphabet, so it cannot be scored on the same windows.")
    flat_x, flat_y, seq = np.asarray(x_val).reshape(-1), np.asarray(y_val).reshape(-1), x_val.shape[1]

    def snippet(i: int) -> TextSample:
        start = i - i % seq  # the window's first character: context never crosses into the previous window
        return TextSample(
            context=vocab.decode(flat_x[max(start, i - 40) : i + 1]),
            expected=vocab.chars[int(flat_y[i])],
            predicted=vocab.chars[int(raw_pred[i])],
        )

    misclassified = engine.cell_examples(y_true, after_pred, snippet)
    outcome = engine.outcome_of(req, before, names, y_true, after_pred, before_pred, result, misclassified, notes)
    metadata = text.text_metadata(vocab, cfg, result.history, result.seconds, description, None)
    return engine.save_run(req, model, outcome, result, metadata)


def _text_argmax(model, x) -> np.ndarray:
    return np.asarray(model(np.asarray(x, np.int32), training=False)).argmax(axis=-1)  # (B, T)


def _text_buckets(model, vocab, x_val, y_val, names: list[str] | None = None):
    """Next-character predictions over the validation windows, bucketed into the most frequent characters + other.

    Returns (bucket names, true buckets, predicted buckets, raw predicted ids), all flat over windows x steps.
    """

    pred = np.concatenate([_text_argmax(model, x_val[i : i + 64]) for i in range(0, len(x_val), 64)]).reshape(-1)
    true = np.asarray(y_val).reshape(-1)
    if names is None:
        top = [int(c) for c, _ in Counter(true.tolist()).most_common(TEXT_TOP_CHARS)]
        names = [text.show_char(vocab.chars[c]) for c in top] + ["other"]
    lookup = {text.show_char(c): i for i, c in enumerate(vocab.chars)}
    bucket = np.full(len(vocab), len(names) - 1)
    for j, name in enumerate(names[:-1]):
        bucket[lookup[name]] = j
    return names, bucket[true], bucket[pred], pred
