"""Job payloads as JSON, never pickle: a work spec (an allowlisted top-level function plus its arguments) and a job's
result cross to and from a worker as JSON made of plain values, NumPy arrays (dtype, shape, base64) and allowlisted
dataclasses. Only functions and types registered with `allow` are ever rebuilt from a payload."""

from __future__ import annotations

import base64
import dataclasses
import functools
import importlib
import json
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from core.settings import get_settings

_FUNCTIONS: dict[str, Callable] = {}
_TYPES: dict[str, type] = {}
_DTYPE_KINDS = "biufUS"  # booleans, integers, floats, fixed-width text and bytes: never object arrays
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
TAG = "__"  # a dict whose one key starts with this is a tagged value; plain dict keys that do are escaped


class JobPayloadError(ValueError):
    """A payload that names a function or type outside the allowlist, or is not valid JSON of this codec."""


def path_of(obj: Any) -> str:
    """'module:qualname' of a top-level function or class."""
    return f"{obj.__module__}:{obj.__qualname__}"


def allow(*objs: Any) -> Any:
    """Register top-level functions and dataclass types a payload may name; returns the first (usable as a
    decorator). Called by the modules that define job functions and result types."""
    for obj in objs:
        if "." in obj.__qualname__ or "<" in obj.__qualname__:
            raise TypeError(f"{obj!r} is not a top-level function or class, so no payload may name it.")
        if isinstance(obj, type):
            if not dataclasses.is_dataclass(obj):
                raise TypeError(f"{obj!r} is not a dataclass: only dataclasses cross as job payloads.")
            _TYPES[path_of(obj)] = obj
        elif callable(obj):
            _FUNCTIONS[path_of(obj)] = obj
        else:
            raise TypeError(f"{obj!r} is neither a function nor a dataclass.")
    return objs[0] if objs else None


def _importable(module: str) -> bool:
    """A module a payload's path may make us import: this project's `core` package, or one an operator listed in
    MLX_JOB_MODULES. Anything else is refused without importing it."""
    if not _MODULE.match(module):
        return False
    extra = {m.strip() for m in get_settings().job_modules.split(",") if m.strip()}
    return module == "core" or module.startswith("core.") or module in extra


def _lookup(path: Any, table: dict[str, Any], what: str) -> Any:
    if not isinstance(path, str) or path.count(":") != 1:
        raise JobPayloadError(f"This job payload names a {what} in an unknown form ({path!r}).")
    if path not in table:
        module = path.split(":")[0]
        if _importable(module):
            try:
                importlib.import_module(module)  # its registrations run on import
            except ImportError:
                pass
    if path not in table:
        raise JobPayloadError(f"This job payload names {path}, which is not a registered job {what}: refused.")
    return table[path]


# ---------------------------------------------------------------- values


def encode(value: Any) -> Any:
    """`value` as a JSON-ready tree; TypeError for anything the codec cannot carry (a lambda, an object, ...)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, (list, tuple)):
        items = [encode(v) for v in value]
        return items if isinstance(value, list) else {"__tuple__": items}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {("__" + k if k.startswith(TAG) else k): encode(v) for k, v in value.items()}
        return {"__dict__": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, (np.ndarray, np.generic)):
        return _encode_array(value)
    if isinstance(value, bytes):
        return {"__bytes__": base64.b64encode(value).decode("ascii")}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        path = path_of(type(value))
        if _TYPES.get(path) is not type(value):
            raise TypeError(f"{path} is not a registered job type (core.engine.job_codec.allow), so it cannot cross.")
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"__dataclass__": path, "fields": fields}
    raise TypeError(f"A job payload cannot carry {type(value).__name__} values ({value!r:.80}).")


def _encode_array(value: np.ndarray | np.generic) -> dict:
    array = np.require(np.asarray(value), requirements="C")  # ascontiguousarray would make a scalar 1-d
    if array.dtype.kind not in _DTYPE_KINDS:
        raise TypeError(f"A job payload cannot carry arrays of dtype {array.dtype}.")
    return {
        "__ndarray__": base64.b64encode(array.tobytes()).decode("ascii"),
        "dtype": array.dtype.str,
        "shape": list(array.shape),
        "scalar": isinstance(value, np.generic),
    }


def decode(tree: Any) -> Any:
    """The value `encode` made `tree` from; JobPayloadError for a type outside the allowlist or a malformed tree."""
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree
    if isinstance(tree, list):
        return [decode(v) for v in tree]
    if not isinstance(tree, dict):
        raise JobPayloadError(f"A job payload holds an unexpected {type(tree).__name__}.")
    tags = [k for k in tree if k.startswith(TAG) and not k.startswith(TAG + TAG)]
    if not tags:
        return {(k[2:] if k.startswith(TAG + TAG) else k): decode(v) for k, v in tree.items()}
    try:
        return _decode_tagged(tags[0], tree)
    except JobPayloadError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise JobPayloadError(f"A job payload's {tags[0]} value is malformed ({exc}).") from None


def _decode_tagged(tag: str, tree: dict) -> Any:
    if tag == "__float__":
        if tree[tag] not in ("nan", "inf", "-inf"):
            raise ValueError(tree[tag])
        return float(tree[tag])
    if tag == "__tuple__":
        return tuple(decode(v) for v in tree[tag])
    if tag == "__dict__":
        return {_hashable(decode(k)): decode(v) for k, v in tree[tag]}
    if tag == "__bytes__":
        return base64.b64decode(tree[tag], validate=True)
    if tag == "__ndarray__":
        dtype = np.dtype(str(tree["dtype"]))
        if dtype.kind not in _DTYPE_KINDS:
            raise JobPayloadError(f"A job payload's array has a refused dtype {dtype}.")
        shape = tuple(int(n) for n in tree["shape"])
        data = base64.b64decode(tree[tag], validate=True)
        array = np.frombuffer(data, dtype=dtype).reshape(shape).copy()
        return array[()] if tree.get("scalar") else array
    if tag == "__dataclass__":
        cls = _lookup(tree[tag], _TYPES, "type")
        values = {name: decode(v) for name, v in dict(tree["fields"]).items()}
        known = {f.name: f for f in dataclasses.fields(cls)}
        if set(values) - set(known):
            raise JobPayloadError(
                f"A job payload gives {cls.__name__} unknown fields {sorted(set(values) - set(known))}."
            )
        obj = cls(**{k: v for k, v in values.items() if known[k].init})
        for k, v in values.items():
            if not known[k].init:
                object.__setattr__(obj, k, v)
        return obj
    raise JobPayloadError(f"A job payload holds an unknown tag {tag!r}.")


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, (list, tuple)) else key


def dumps(value: Any) -> str:
    """`value` as JSON text (strict JSON: no NaN literals)."""
    return json.dumps(encode(value), allow_nan=False, separators=(",", ":"))


def loads(text: str | bytes) -> Any:
    try:
        tree = json.loads(text)
    except ValueError as exc:
        raise JobPayloadError(f"A job payload is not valid JSON ({exc}).") from None
    return decode(tree)


# ---------------------------------------------------------------- work specs


def work_spec(work: Callable) -> dict:
    """A work function as JSON-ready data: a registered top-level function, or a functools.partial of one over
    values the codec carries. TypeError otherwise (a lambda, a closure, an unregistered function)."""
    args: tuple = ()
    kwargs: dict = {}
    fn = work
    if isinstance(work, functools.partial):
        fn, args, kwargs = work.func, work.args, dict(work.keywords)
    path = path_of(fn) if hasattr(fn, "__qualname__") and hasattr(fn, "__module__") else repr(fn)
    if _FUNCTIONS.get(path) is not fn:
        raise TypeError(
            f"{path} is not a registered job function (core.engine.job_codec.allow): a job's work must be one, or a "
            "functools.partial of one."
        )
    return {"fn": path, "args": encode(list(args)), "kwargs": encode(kwargs)}


def work_from(spec: Any) -> Callable:
    """The work function a `work_spec` describes; JobPayloadError for an unregistered function or a bad spec."""
    if not isinstance(spec, dict) or set(spec) != {"fn", "args", "kwargs"}:
        raise JobPayloadError("A job payload's work spec is malformed.")
    fn = _lookup(spec["fn"], _FUNCTIONS, "function")
    args, kwargs = decode(spec["args"]), decode(spec["kwargs"])
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise JobPayloadError("A job payload's work spec is malformed.")
    return functools.partial(fn, *args, **kwargs)
