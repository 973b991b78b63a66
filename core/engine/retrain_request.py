"""What the Retrain studio asks for (RetrainRequest), the user's own samples it may learn from (UserData), and the
family config a request turns into: plain dataclasses shared by the checks, the retrain sequence and every family."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np

from core.engine import job_codec


@dataclass(frozen=True)
class RetrainRequest:
    """Everything the studio's setup form chooses. `base_path` is the model to copy (the session's active one)."""

    family: str
    epochs: int
    batch_size: int
    learning_rate: float
    optimizer: str
    validation_fraction: float
    seed: int
    base_path: str | None = None  # None: the shipped model
    fresh: bool = False  # build a new, untrained model instead of copying the base
    use_builtin: bool = True
    use_user_samples: bool = True
    text: str = ""  # uploaded text for the LSTM, already checked by core.text.check_corpus_upload
    text_name: str = ""
    samples_per_class: int | None = None  # shapes: generated drawings per class
    text_chars: int | None = None  # text: characters to train on (the last ones); None: this server's cap
    version_name: str = "retrain"
    owner: str = ""  # the session that asked; recorded so only it may delete the version


@dataclass
class UserData:
    """The user's own samples, read once (in the page's thread) from core.samples."""

    colors: list[tuple[int, int, int, str]] = field(default_factory=list)
    drawings: list[tuple[np.ndarray, str]] = field(default_factory=list)


job_codec.allow(RetrainRequest, UserData)


def request_config(req: RetrainRequest, base, **extra):
    """The base model's config with the request's training settings (and any family-specific `extra`)."""
    return replace(
        base,
        epochs=int(req.epochs),
        batch_size=int(req.batch_size),
        learning_rate=float(req.learning_rate),
        optimizer=req.optimizer,
        validation_fraction=float(req.validation_fraction),
        seed=int(req.seed),
        **extra,
    )


def plain_request(req: RetrainRequest) -> dict:
    """The request as plain values, kept with its job (core.engine.jobs): the studio rebuilds its form from it after
    a reload. The uploaded text itself is left out (it may be megabytes); its file name stays."""
    plain = asdict(req)
    plain["text"] = ""
    return plain
