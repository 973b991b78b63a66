"""The Vector search labelling loop as one object: start w somewhere, query the vector database with it, take the
user's labels, train the linear head a step, query again. The page keeps one `LabellingLoop` per session and only
calls its methods; the loop holds w, b, the labels so far, w's path in the pool's 2-D projection and the last query."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.vectors import search as vectors

QUERY_TOP = "top"  # the k best-scoring unseen items
QUERY_BOUNDARY = "boundary"  # the k unseen items nearest w's decision boundary (where a label teaches the most)


@dataclass
class LabellingLoop:
    """One session's loop over one pool (`key` names the pool and its embedding; a new key is a new loop)."""

    key: str = ""
    w: np.ndarray | None = None  # (dim,) the head's weights; None until a start
    b: float = 0.0
    labelled: dict[int, float] = field(default_factory=dict)  # item id -> label in [-1, 1], every round's
    path: list[np.ndarray] = field(default_factory=list)  # w after each step, projected onto the pool's 2 PCs
    hits: list[tuple[int, float]] = field(default_factory=list)  # the last query: (item id, score)
    losses: list[float] = field(default_factory=list)  # the last train step's BCE per iteration
    warning: str = ""  # what the last train step's labels lacked (e.g. no negatives), "" if nothing
    round: int = 0  # one per query: label widgets of an old round never carry over

    @property
    def started(self) -> bool:
        return self.w is not None

    @property
    def steps(self) -> int:
        return max(0, len(self.path) - 1)

    def query(self, index, pool, k: int = vectors.TOP_K, mode: str = QUERY_BOUNDARY) -> None:
        """The next items to label: one Qdrant query with w over the unseen items (top-k, or around the boundary)."""
        if mode == QUERY_BOUNDARY:
            hits = vectors.least_sure(index, pool, self.w, self.b, index.seen_ids(), k)
        else:
            hits = index.search(self.w, k)
        self.hits = [(h.id, h.score) for h in hits]

    def start(self, index, pool, components: np.ndarray, w, b: float, k: int = vectors.TOP_K, mode=QUERY_BOUNDARY):
        """Begin again from (w, b): the seen flags, labels and path are cleared, and the first query runs."""
        index.reset_seen()
        self.w, self.b = np.asarray(w, np.float32), float(b)
        self.path = [components @ self.w]  # (2,)
        self.labelled, self.losses, self.warning = {}, [], ""
        self.round += 1
        self.query(index, pool, k, mode)

    def train_step(
        self,
        index,
        pool,
        components: np.ndarray,
        batch: dict[int, float],
        iterations: int = vectors.ITERATIONS,
        learning_rate: float = vectors.LEARNING_RATE,
        k: int = vectors.TOP_K,
        mode: str = QUERY_BOUNDARY,
    ) -> None:
        """Add this round's labels (0 skips an item), train the head on every label so far, mark the round's items
        seen and query again. A HeadError (e.g. every label 0, a bad setting) changes nothing."""
        if self.hits and all(v == 0 for v in batch.values()):
            vectors.check_labels(list(batch.values()))  # says plainly that all-0 is nothing to train on
        labelled = {**self.labelled, **{int(i): float(v) for i, v in batch.items() if v != 0}}
        ids = list(labelled)
        step = vectors.train_head(
            self.w, self.b, pool.vectors[ids], [labelled[i] for i in ids], int(iterations), learning_rate
        )
        index.mark_seen([item_id for item_id, _ in self.hits])
        self.labelled = labelled
        self.w, self.b = step.w, step.b
        self.path.append(components @ step.w)
        self.losses, self.warning = step.losses, step.warning
        self.round += 1
        self.query(index, pool, k, mode)

    def reset_seen(self, index, pool, k: int = vectors.TOP_K, mode: str = QUERY_BOUNDARY) -> int:
        """Clear this session's seen flags (every item can come back) and query again; returns how many were set."""
        n = index.reset_seen()
        self.query(index, pool, k, mode)
        self.round += 1
        return n
