"""What a warm training process keeps from one job to the next: data read from files, loaded base models, and
compiled copies of models (so a job neither re-reads nor re-traces what the last one did), keyed by what each depends
on and bounded. Off unless core.engine.job_workers turns it on in a training process, which runs one job at a time."""

from __future__ import annotations

import json
import random
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
MAX_VALUES = 8  # data sets and base models kept (a quick colour or shapes job needs two or three)
MAX_MODELS = 4  # idle compiled model copies kept (one per architecture a job trains, typically)

_on = False
_lock = threading.Lock()
_values: OrderedDict[Hashable, Any] = OrderedDict()


def enable(on: bool = True) -> None:
    """Turn the caches on (a training process) or off and empty them."""
    global _on
    _on = bool(on)
    if not _on:
        clear()


def enabled() -> bool:
    return _on


def clear() -> None:
    with _lock:
        _values.clear()
        _of_objects.clear()
        _idle.clear()
        _taken.clear()


def file_key(*paths: str | Path | None) -> tuple:
    """What the files' contents are known by without reading them: path, modification time and size (None: absent)."""
    out = []
    for path in paths:
        if path is None:
            out.append(None)
            continue
        try:
            st = Path(path).stat()
            out.append((str(path), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(path), None))
    return tuple(out)


def memo(key: Hashable, make: Callable[[], T]) -> T:
    """`make()`, kept under `key` while the caches are on (the least recently used of MAX_VALUES goes first). The
    value is shared by the jobs that follow: a caller must never change it (numpy arrays are made read-only)."""
    return _kept(_values, key, make, MAX_VALUES) if _on else make()


_of_objects: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def memo_of(obj: Any, key: Hashable, make: Callable[[], T], limit: int = 4) -> T:
    """`make()`, kept with `obj` (while it lives) under `key` while the caches are on, at most `limit` per object:
    for what follows from an object that never changes, such as a kept base model's predictions."""
    if not _on:
        return make()
    with _lock:
        kept = _of_objects.setdefault(obj, OrderedDict())
    return _kept(kept, key, make, limit)


def _kept(kept: OrderedDict, key: Hashable, make: Callable[[], T], limit: int) -> T:
    """kept[key], else make() read-only and kept there, the least recently used going first past `limit`."""
    with _lock:
        if key in kept:
            kept.move_to_end(key)
            return kept[key]
    value = _frozen(make())
    with _lock:
        kept[key] = value
        while len(kept) > limit:
            kept.popitem(last=False)
    return value


def _frozen(value: T) -> T:
    import numpy as np

    items = (
        vars(value).values() if hasattr(value, "__dataclass_fields__") else value if isinstance(value, tuple) else ()
    )
    for item in (value, *items):
        if isinstance(item, np.ndarray):
            item.flags.writeable = False
    return value


# ---------------------------------------------------------------- compiled model copies


@dataclass
class _Copy:
    """A model copy with what a fresh copy would have had: its seed generators' states and the Python random state
    after it was built (Dropout draws its seed from it), and, once compiled, its compile key and optimizer state."""

    model: Any
    key: Hashable
    structure: str  # its layers' configs as made: a copy a job changed (a layer frozen, say) is not reused
    extra_state: list
    rng_after: tuple
    compiled: Hashable = None
    optimizer_state: list = field(default_factory=list)


_idle: OrderedDict[Hashable, list[_Copy]] = OrderedDict()
_taken: list[_Copy] = []
_by_model: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _structure(model) -> str:
    """The model's architecture and each layer's settings (trainable too) as text; no weights, no compile state."""
    return json.dumps(model.get_config(), sort_keys=True, default=str)


def _extra_variables(model) -> list:
    """The model's variables that are not its weights: the seed generators' states (Dropout's)."""
    weights = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def copy_model(model, clone: Callable[[Any], Any]):
    """A copy of `model` with its weights, as `clone(model)` makes it; while the caches are on, an idle copy of the
    same architecture made from the same random state is reused instead (its traced training steps with it), reset
    to exactly what `clone` would have given: the weights, the seed generators' states and the random state after."""
    if not _on:
        return clone(model)
    key = (_structure(model), hash(random.getstate()))
    with _lock:
        idle = _idle.get(key)
        entry = idle.pop() if idle else None
    if entry is not None and _structure(entry.model) != entry.structure:
        entry = None
    if entry is None:
        copy = clone(model)
        entry = _Copy(copy, key, _structure(copy), [v.numpy() for v in _extra_variables(copy)], random.getstate())
    else:
        entry.model.set_weights(model.get_weights())
        for variable, value in zip(_extra_variables(entry.model), entry.extra_state):
            variable.assign(value)
        random.setstate(entry.rng_after)
    with _lock:
        _taken.append(entry)
    _by_model[entry.model] = entry
    return entry.model


def compile_once(model, key: Hashable, compile_: Callable[[], None]) -> None:
    """`compile_()` the model, unless it is a reused copy compiled with the same `key` (optimizer, rate, loss,
    metrics) before: then only its optimizer's state is reset to a fresh one's, and its traced steps are kept."""
    entry = _by_model.get(model) if _on and key is not None else None
    if entry is not None and entry.compiled == key and entry.optimizer_state:
        for variable, value in zip(model.optimizer.variables, entry.optimizer_state):
            variable.assign(value)
        return
    compile_()
    if key is None and model in _by_model:
        _by_model[model].compiled, _by_model[model].optimizer_state = None, []
    elif entry is not None:
        model.optimizer.build(model.trainable_variables)  # what fit would do first; its fresh state is kept
        entry.compiled, entry.optimizer_state = key, [v.numpy() for v in model.optimizer.variables]


def release_models() -> None:
    """After a job: its model copies become idle, for the next job (at most MAX_MODELS are kept)."""
    with _lock:
        for entry in _taken:
            _idle.setdefault(entry.key, []).append(entry)
            _idle.move_to_end(entry.key)
        _taken.clear()
        while sum(len(v) for v in _idle.values()) > MAX_MODELS:
            first = next(iter(_idle))
            _idle[first].pop(0)
            if not _idle[first]:
                del _idle[first]
