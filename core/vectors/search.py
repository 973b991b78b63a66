"""Vector search (seed 002): embed a pool with one of our models, index it in Qdrant (dot product, a `seen` payload),
and fine-tune a linear head `w` by querying with `w` itself (the unseen items it is least sure about, or its top
matches), labelling them -1...+1 (yes / no / skip on the page), and training with BCE-with-logits + SGD. The
simulated-annotator experiment (`python -m core experiment`) lives in core/vectors/experiment.py."""

from __future__ import annotations

import hashlib
import math
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.maths import binary_cross_entropy_from_logits, sigmoid
from core.settings import get_settings
from core.store import models as store

DEFAULT_SESSION = "default"  # the CLI's and the tests' single user
COLOR_POOL_SIZE = 4096  # "many thousands" of colours; on-disk Qdrant indexes ~100 points/s, once per model
DRAWINGS_PER_CLASS = 500  # 8 classes x 500 = 4000 generated drawings
TOP_K = 5  # items labelled per round: the head retrains after every 5 labels (10 needed ~1.6x the labels, 2026-12-07)
LEARNING_RATE = 2.0  # the seed's "high learning rate": the head is one linear unit on unit vectors, so 2.0 is stable
ITERATIONS = 100  # SGD steps per Train step, each over every labelled item
SEED_POSITIVES = 3  # the simulated annotator starts by clicking this many positives, as a person would
UPSERT_BATCH = 256
SERVER_TIMEOUT_S = 3
SESSION_PATTERN = re.compile(r"^[a-z0-9_]{1,32}$")

# Qdrant's embedded mode is plain Python objects with no locking of its own; every page session of the Streamlit
# server shares one client (one process may open an on-disk folder only once), so calls go through this lock.
_CLIENT_LOCK = threading.RLock()


class VectorStoreError(ValueError):
    """Qdrant cannot be opened or used (locked or unwritable folder, unreachable server), in plain words."""


class HeadError(ValueError):
    """A head-training request that cannot run (no usable labels, bad settings), in plain words."""


# ---------------------------------------------------------------- the Qdrant client


def open_client(location: str | None = None, url: str | None = None, timeout: float = SERVER_TIMEOUT_S):
    """A Qdrant client: the server at `url` if given, else embedded at `location` (a folder, or ':memory:').

    Defaults come from get_settings() (MLX_QDRANT_URL, MLX_QDRANT_PATH). Errors are VectorStoreError.
    """
    from qdrant_client import QdrantClient

    settings = get_settings()
    url = settings.qdrant_url if url is None else url
    if url:
        try:
            client = QdrantClient(url=url, timeout=timeout, check_compatibility=False)
            client.get_collections()  # the client connects lazily: ask once so a dead URL fails here, not later
        except Exception as exc:  # httpx and qdrant raise many types for "no server there"
            raise VectorStoreError(
                f"The Qdrant server at {url} cannot be reached ({type(exc).__name__}). Check MLX_QDRANT_URL, or unset "
                "it to use the embedded store."
            ) from None
        return client
    location = settings.qdrant_location if location is None else location
    if location in {"", ":memory:"}:
        return QdrantClient(location=":memory:")
    folder = Path(location)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise VectorStoreError(
            f"The Qdrant folder {folder} cannot be written ({exc.strerror or exc}). Point MLX_QDRANT_PATH to a "
            "writable folder, or set it to :memory:."
        ) from None
    try:
        return QdrantClient(path=str(folder))
    except RuntimeError as exc:
        if "already accessed" in str(exc):
            raise VectorStoreError(
                f"The Qdrant folder {folder} is locked by another process: embedded Qdrant lets one process open a "
                "folder at a time. Stop the other process, set MLX_QDRANT_PATH to another folder or :memory:, or run "
                "a Qdrant server (MLX_QDRANT_URL)."
            ) from None
        raise VectorStoreError(f"The Qdrant folder {folder} cannot be opened: {exc}") from None
    except (OSError, ValueError) as exc:
        raise VectorStoreError(f"The Qdrant folder {folder} cannot be opened: {exc}") from None


def backend_label(client) -> str:
    """'server', 'embedded (memory)' or 'embedded (disk)'."""
    inner = getattr(client, "_client", None)
    location = getattr(inner, "location", None)
    if location is None:
        return "server"
    return "embedded (memory)" if location == ":memory:" else f"embedded (disk: {location})"


# ---------------------------------------------------------------- pools


@dataclass
class Pool:
    """An embedded, normalised pool: vectors (N, D) unit length, one payload dict per item, the raw items."""

    name: str
    vectors: np.ndarray  # (N, D) float32, centred on the pool mean, then unit length
    items: list[dict]
    raw: np.ndarray  # colours (N, 3) 0-255, or drawings (N, 28, 28) uint8
    mean: np.ndarray  # (D,) the centre subtracted before normalising
    scale: float  # the mean length of the centred embeddings: maps a head on raw activations into this space
    embedding: str = ""
    fingerprint: str = ""

    def __len__(self) -> int:
        return len(self.vectors)

    @property
    def swatches(self) -> bool:
        """Whether its items are colours (shown as swatches) rather than pictures."""
        return bool(self.items) and "hex" in self.items[0]


def make_pool(name: str, embeddings, items: list[dict], raw, embedding: str = "") -> Pool:
    """Centre and normalise embeddings. Centring matters: sigmoid/ReLU units are all positive, so raw vectors share
    one orthant and every pair looks similar; centred, they spread over the sphere and w can point anywhere."""
    h = np.asarray(embeddings, dtype=np.float64)  # (N, D)
    if h.ndim != 2 or len(h) == 0:
        raise VectorStoreError(f"The {name} pool is empty: there is nothing to index or search.")
    mean = h.mean(axis=0)
    centred = h - mean
    norms = np.linalg.norm(centred, axis=1, keepdims=True)  # (N, 1)
    vectors = (centred / np.maximum(norms, 1e-9)).astype(np.float32)
    digest = hashlib.sha1(np.ascontiguousarray(vectors).tobytes()).hexdigest()[:12]
    return Pool(
        name, vectors, list(items), np.asarray(raw), mean.astype(np.float32), float(norms.mean()), embedding, digest
    )


# ---------------------------------------------------------------- the index


@dataclass(frozen=True)
class Hit:
    id: int
    score: float
    payload: dict


def _seen_key(session: str) -> str:
    return f"seen.{session}"


class PoolIndex:
    """One Qdrant collection per pool (dot product). Each point's payload holds the item's metadata and `seen`, a map
    {session: True}: sessions that share one collection keep their own seen flags, which never leak between users."""

    def __init__(self, client, pool_name: str, dim: int, fingerprint: str = "", session: str = DEFAULT_SESSION):
        if not SESSION_PATTERN.match(session):
            raise VectorStoreError(f"The session name {session!r} must be 1-32 lowercase letters, digits or '_'.")
        self.client = client
        self.dim = int(dim)
        self.session = session
        self.collection = f"{pool_name}-{fingerprint}" if fingerprint else pool_name

    def _call(self, fn, *args, **kwargs):
        from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

        with _CLIENT_LOCK:
            try:
                return fn(*args, **kwargs)
            except (ResponseHandlingException, UnexpectedResponse) as exc:
                raise VectorStoreError(f"Qdrant failed on {self.collection}: {exc}") from None
            except RuntimeError as exc:  # a closed embedded client
                raise VectorStoreError(f"Qdrant cannot be used: {exc}") from None

    def size(self) -> int:
        if not self._call(self.client.collection_exists, self.collection):
            return 0
        return int(self._call(self.client.count, self.collection, exact=True).count)

    def create(self) -> None:
        """(Re)create the empty collection with dot-product distance."""
        from qdrant_client import models

        if self._call(self.client.collection_exists, self.collection):
            self._call(self.client.delete_collection, self.collection)
        self._call(
            self.client.create_collection,
            self.collection,
            vectors_config=models.VectorParams(size=self.dim, distance=models.Distance.DOT),
        )

    def upsert(self, ids, vectors, payloads: list[dict], on_progress: Callable[[int, int], None] | None = None) -> None:
        """Insert or replace points in batches; `seen` starts empty (no session has seen anything)."""
        from qdrant_client import models

        vectors = np.asarray(vectors, dtype=np.float32)  # (N, D)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise VectorStoreError(f"Vectors must have shape (N, {self.dim}); got {vectors.shape}.")
        ids = [int(i) for i in ids]
        for start in range(0, len(ids), UPSERT_BATCH):
            stop = start + UPSERT_BATCH
            batch = models.Batch(
                ids=ids[start:stop],
                vectors=vectors[start:stop].tolist(),
                payloads=[{**p, "seen": {}} for p in payloads[start:stop]],
            )
            self._call(self.client.upsert, self.collection, points=batch)
            if on_progress is not None:
                on_progress(min(stop, len(ids)), len(ids))

    def ensure(self, pool: Pool, on_progress: Callable[[int, int], None] | None = None) -> bool:
        """Build the collection for `pool` unless a complete one exists (a half-built one is rebuilt). True if built."""
        if len(pool) == 0:
            raise VectorStoreError(f"The {pool.name} pool is empty: there is nothing to index or search.")
        with _CLIENT_LOCK:  # two sessions arriving together build the shared collection once
            if self.size() == len(pool):
                return False
            self.create()
            self.upsert(range(len(pool)), pool.vectors, pool.items, on_progress)
        return True

    def _unseen_filter(self):
        from qdrant_client import models

        return models.Filter(
            must_not=[models.FieldCondition(key=_seen_key(self.session), match=models.MatchValue(value=True))]
        )

    def _seen_filter(self):
        from qdrant_client import models

        return models.Filter(
            must=[models.FieldCondition(key=_seen_key(self.session), match=models.MatchValue(value=True))]
        )

    def search(self, w, k: int = TOP_K, unseen_only: bool = True, offset: int = 0) -> list[Hit]:
        """k points by dot product with normalised `w`, skipping the first `offset` (0: the top-k), optionally only
        those this session has not seen."""
        w = np.asarray(w, dtype=np.float64).ravel()
        norm = np.linalg.norm(w)
        if w.shape != (self.dim,) or not np.isfinite(norm):
            raise HeadError(f"The head must be {self.dim} finite numbers.")
        if norm == 0:
            raise HeadError(
                "The head w is all zeros, so it points nowhere: start from a few positives or a class head."
            )
        result = self._call(
            self.client.query_points,
            self.collection,
            query=(w / norm).tolist(),
            limit=int(k),
            offset=int(offset),
            query_filter=self._unseen_filter() if unseen_only else None,
            with_payload=True,
        )
        return [Hit(int(p.id), float(p.score), dict(p.payload or {})) for p in result.points]

    def mark_seen(self, ids) -> None:
        """Payload update: set seen[session] = True on these points."""
        ids = [int(i) for i in ids]
        if ids:
            self._call(self.client.set_payload, self.collection, payload={self.session: True}, points=ids, key="seen")

    def seen_count(self) -> int:
        return int(self._call(self.client.count, self.collection, count_filter=self._seen_filter(), exact=True).count)

    def seen_ids(self) -> list[int]:
        ids, offset = [], None
        while True:
            points, offset = self._call(
                self.client.scroll, self.collection, scroll_filter=self._seen_filter(), limit=1024, offset=offset
            )
            ids.extend(int(p.id) for p in points)
            if offset is None:
                return sorted(ids)

    def reset_seen(self) -> int:
        """The reset loop: clear this session's seen flag on every point; returns how many were seen."""
        from qdrant_client import models

        n = self.seen_count()
        if n:
            self._call(
                self.client.delete_payload,
                self.collection,
                keys=[_seen_key(self.session)],
                points=models.FilterSelector(filter=self._seen_filter()),
            )
        return n


# ---------------------------------------------------------------- the head w


@dataclass
class TrainStep:
    w: np.ndarray
    b: float
    losses: list[float]  # BCE per iteration (before each update)
    used: int  # labelled items that took part (label != 0)
    warning: str = ""


def label_targets(labels) -> tuple[np.ndarray, np.ndarray]:
    """-1...+1 labels -> (mask of used items, BCE targets in 0...1). 0 means skip; -0.5 becomes target 0.25."""
    labels = np.clip(np.asarray(labels, dtype=np.float64).ravel(), -1.0, 1.0)
    mask = labels != 0
    return mask, (labels[mask] + 1.0) / 2.0


def bce_with_logits(logits, targets) -> float:
    """Mean binary cross-entropy on raw scores, in the stable form max(z,0) - z*t + log(1 + e^-|z|)."""
    return float(np.mean(binary_cross_entropy_from_logits(logits, targets)))


def check_labels(labels) -> str:
    """Raise HeadError when nothing can be learnt; return a warning (or '') for labels that teach little."""
    labels = np.asarray(labels, dtype=np.float64).ravel()
    if labels.size == 0:
        raise HeadError("There are no labelled items yet: search, then mark some items yes or no.")
    if not np.all(np.isfinite(labels)):
        raise HeadError("Every label must be a number between -1 and +1.")
    if np.all(labels == 0):
        raise HeadError(
            "Every item is unmarked, which means 'skip': there is nothing to train on. Mark at least one item yes "
            "(+1, looks like the concept) or no (-1, does not)."
        )
    if np.all(labels <= 0):
        return (
            "Every label is negative. The head will move away from these items, but in no particular direction: "
            "negatives say what the concept is not, and there are many ways to be 'not it'. This is the seed's "
            "point: start from a few positives (or a class head), so w has somewhere to go."
        )
    return ""


def train_head(w, b: float, x, labels, iterations: int = ITERATIONS, learning_rate: float = LEARNING_RATE) -> TrainStep:
    """Full-batch SGD on BCE-with-logits over the labelled items, from (w, b). Hand-written in NumPy: one linear unit
    over a few dozen labels is microseconds here, where a Keras fit() call per step costs ~0.1 s of overhead."""
    warning = check_labels(labels)
    if not isinstance(iterations, (int, np.integer)) or not 1 <= iterations <= 10_000:
        raise HeadError(f"Iterations must be a whole number from 1 to 10000 (got {iterations!r}).")
    lr = float(learning_rate)
    if not math.isfinite(lr) or lr <= 0:
        raise HeadError(f"The learning rate must be a positive number (got {learning_rate!r}).")
    mask, targets = label_targets(labels)
    x = np.asarray(x, dtype=np.float64)[mask]  # (L, D) the labelled items that are not skipped
    w = np.asarray(w, dtype=np.float64).copy()  # (D,)
    b = float(b)
    losses = []
    for _ in range(int(iterations)):
        z = x @ w + b  # (L,) logits
        losses.append(bce_with_logits(z, targets))
        grad = sigmoid(z) - targets  # (L,) dBCE/dz
        w -= lr * (x.T @ grad) / len(targets)
        b -= lr * float(grad.mean())
    if not np.all(np.isfinite(w)) or not math.isfinite(b):
        raise HeadError("The head blew up (non-finite weights): the learning rate is too high. Try a smaller one.")
    return TrainStep(w.astype(np.float32), b, losses, int(mask.sum()), warning)


def seed_head(pool: Pool, positive_ids) -> tuple[np.ndarray, float]:
    """A start from clicked positives: w = their mean direction, b = 0."""
    ids = [int(i) for i in positive_ids]
    if not ids:
        raise HeadError("Pick at least one positive to start from.")
    w = pool.vectors[ids].mean(axis=0)  # (D,)
    if np.linalg.norm(w) < 1e-9:
        raise HeadError("These positives cancel out (their mean is zero): pick others.")
    return w.astype(np.float32), 0.0


def class_head(model, pool: Pool, class_index: int, layer: str = "logits") -> tuple[np.ndarray, float]:
    """An existing class head (a row of `layer`'s kernel), mapped into the pool's centred, normalised space.

    The layer computes h @ k + c on raw activations h. With h = mean + s * x (x our unit vector, s its length),
    that is s * (x @ k) + (mean @ k + c); s varies per item, so we use the pool's mean length."""
    kernel, bias = (np.asarray(v) for v in model.get_layer(layer).get_weights())  # (D, classes), (classes,)
    if kernel.shape[0] != pool.vectors.shape[1]:
        raise HeadError(f"The layer {layer} takes {kernel.shape[0]} inputs but the pool has {pool.vectors.shape[1]}.")
    k = kernel[:, class_index]  # (D,)
    return (pool.scale * k).astype(np.float32), float(pool.mean @ k + bias[class_index])


def pool_logits(pool: Pool, w, b: float) -> np.ndarray:
    return pool.vectors @ np.asarray(w, dtype=np.float32) + np.float32(b)  # (N,)


def boundary_offset(pool: Pool, w, b: float, seen_ids, k: int) -> int:
    """Where a query window of k starts so that it straddles w's decision boundary among the unseen items.

    Qdrant ranks by w·x; the bias does not change that order, so the unseen items scoring w·x + b > 0 are exactly
    the first n of the ranking, and the window [n - k/2, n + k/2) holds the items the head is least sure about."""
    unseen = np.ones(len(pool), bool)
    unseen[np.asarray(list(seen_ids), dtype=int)] = False
    n_positive = int((pool_logits(pool, w, b)[unseen] > 0).sum())
    return int(max(0, min(int(unseen.sum()) - k, n_positive - k // 2)))


def least_sure(index: PoolIndex, pool: Pool, w, b: float, seen_ids, k: int) -> list[Hit]:
    """Uncertainty sampling: the k unseen items w is least sure about (smallest |w·x + b|), in score order.

    The k nearest the boundary are at most k either side of where the ranking crosses it, so one Qdrant query over
    the window of 2k that straddles the crossing (boundary_offset) holds them all; each hit's margin is its score
    (w·x / |w|) times |w|, plus b."""
    hits = index.search(w, 2 * k, offset=boundary_offset(pool, w, b, seen_ids, 2 * k))
    norm = float(np.linalg.norm(np.asarray(w, dtype=np.float64)))
    nearest = sorted(hits, key=lambda hit: abs(hit.score * norm + b))[:k]
    return sorted(nearest, key=lambda hit: -hit.score)


def pca_2d(vectors) -> tuple[np.ndarray, np.ndarray]:
    """(coords (N, 2), components (2, D)) of the pool's first two principal axes; project w with components @ w."""
    v = np.asarray(vectors, dtype=np.float64)
    centred = v - v.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)  # rows of vt: principal axes
    components = vt[:2]  # (2, D)
    return centred @ components.T, components


def head_model(w, b: float):
    """The head as a tiny store-format model: Dense(1, sigmoid) on the pool's normalised embedding."""
    import keras

    w = np.asarray(w, dtype=np.float32).ravel()
    model = keras.Sequential(
        [
            keras.Input(shape=(len(w),), name="embedding"),
            keras.layers.Dense(1, activation="sigmoid", name="dense_head"),
        ],
        name="vector_search_head",
    )
    model.get_layer("dense_head").set_weights([w.reshape(-1, 1), np.array([b], dtype=np.float32)])
    return model


def save_head(w, b: float, pool: Pool, name: str, metadata: dict | None = None):
    """Save the head under family 'heads' (store.save_version), with what it needs to be used again."""

    meta = {
        "kind": "vector-search head",
        "pool": pool.name,
        "embedding": pool.embedding,
        "input": "embedding minus embedding_mean, then scaled to unit length",
        "embedding_mean": [float(v) for v in pool.mean],
        **(metadata or {}),
    }
    return store.save_version(head_model(w, b), "heads", store.slugify(name), meta)
