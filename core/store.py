"""Model store: a folder with `model.json` + `group1-shard1of1.bin` in the TensorFlow.js layers format.

The topology is written Keras-2 style, so the same folder loads in `tf.loadLayersModel`. Loading rebuilds the
Keras model from an allowlist of layer classes and never executes code. Writes are atomic (temp folder, fsync,
rename). Shipped models are read-only; retrained versions live under the user-models folder.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import json
import math
import os
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.settings import SHIPPED_MODELS_DIR, get_settings

MODEL_JSON = "model.json"
SHARD_NAME = "group1-shard1of1.bin"
FORMAT_VERSION = "ml-explainer store 1"
REQUIRED_KEYS = ("format", "modelTopology", "weightsManifest")
DTYPES = {"float32": np.dtype("<f4"), "int32": np.dtype("<i4")}  # the dtypes TF.js layers weights use
ALLOWED_LAYERS = {
    "InputLayer",
    "Rescaling",
    "Dense",
    "Conv2D",
    "MaxPooling2D",
    "AveragePooling2D",
    "GlobalAveragePooling2D",
    "Flatten",
    "Dropout",
    "Embedding",
    "LSTM",
    "Activation",
    "Reshape",
}
ALLOWED_INITIALIZERS = {
    "GlorotUniform",
    "GlorotNormal",
    "HeUniform",
    "HeNormal",
    "LecunUniform",
    "LecunNormal",
    "Zeros",
    "Ones",
    "Constant",
    "RandomUniform",
    "RandomNormal",
    "TruncatedNormal",
    "VarianceScaling",
    "Orthogonal",
    "Identity",
}
ALLOWED_ACTIVATIONS = {"linear", "relu", "sigmoid", "softmax", "tanh", "hard_sigmoid", "elu", "selu", "gelu", "swish"}
MAX_ELEMENTS = 2**31 - 1
MAX_NAME_CHARS = 200  # layer and tensor names; the shipped models use at most 30
INITIALIZER_ATTRIBUTES = ("kernel_initializer", "recurrent_initializer", "bias_initializer", "embeddings_initializer")
VERSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class StoreError(ValueError):
    """A model folder that cannot be read or written, with a message meant for the user."""


@dataclass
class LoadedModel:
    model: object  # keras.Model
    metadata: dict
    path: Path
    model_json: dict = field(repr=False, default_factory=dict)


# ---------------------------------------------------------------- Keras 3 <-> Keras-2-style topology


def _to_keras2(value):
    """Strip Keras 3 serialization extras (module, registered_name, dtype policies) that TF.js does not know."""
    if isinstance(value, dict):
        if value.get("class_name") == "DTypePolicy" or value.get("class_name") == "FloatDTypePolicy":
            return value.get("config", {}).get("name", "float32")
        out = {}
        for key, item in value.items():
            if key in {"module", "registered_name", "build_config", "compile_config", "shared_object_id"}:
                continue
            out[key] = _to_keras2(item)
        return out
    if isinstance(value, (list, tuple)):
        return [_to_keras2(v) for v in value]
    return value


def to_tfjs_topology(model) -> dict:
    """The Keras-2-style Sequential topology that TF.js `loadLayersModel` reads."""
    import keras

    if not isinstance(model, keras.Sequential):
        raise StoreError("Only Sequential models can be stored.")
    batch_shape = [None if d is None else int(d) for d in model.inputs[0].shape]
    layers = []
    for i, layer in enumerate(model.layers):
        config = _to_keras2(layer.get_config())
        if i == 0:
            config["batch_input_shape"] = batch_shape
            # The first layer's dtype is also its weights' dtype in TF.js, so it stays float32 even when the input is
            # int32 token ids (an int32 Embedding table fails to load there); Embedding casts its input to int32, and
            # build_model_from_topology gives an Embedding-first model an int32 input on the Python side.
            config["dtype"] = "float32"
        layers.append({"class_name": layer.__class__.__name__, "config": config})
    return {
        "class_name": "Sequential",
        "config": {"name": model.name, "layers": layers},
        "keras_version": "tfjs-layers 4.22.0",  # the Keras-2 dialect TF.js expects
        "backend": "tensorflow",
    }


def _check_safe(value, where: str) -> None:
    """Refuse any nested object that is not a plain built-in: this is what keeps loading from executing code."""
    if isinstance(value, dict):
        name = value.get("class_name")
        if name is not None and (not isinstance(name, str) or name not in ALLOWED_INITIALIZERS | ALLOWED_LAYERS):
            raise StoreError(f"{where}: the object class {name!r} is not allowed in a model file.")
        for key, item in value.items():
            if key in {"function", "function_type", "module", "fn"}:
                raise StoreError(f"{where}: the key {key!r} could run code, so this model file is refused.")
            _check_safe(item, where)
    elif isinstance(value, list):
        for item in value:
            _check_safe(item, where)


def topology_layers(topology: dict) -> list[dict]:
    """The layer entries of a Sequential topology, validated against the allowlist."""
    if not isinstance(topology, dict):
        raise StoreError("modelTopology must be a JSON object.")
    if "model_config" in topology and "class_name" not in topology:  # TF.js also accepts this wrapping
        topology = topology["model_config"]
    if topology.get("class_name") != "Sequential":
        raise StoreError(f"Only Sequential models are supported (this one is {topology.get('class_name')!r}).")
    layers = topology.get("config", {}).get("layers") if isinstance(topology.get("config"), dict) else None
    if not isinstance(layers, list) or not layers:
        raise StoreError("modelTopology has no layers.")
    max_layers = get_settings().max_model_layers
    if len(layers) > max_layers:
        raise StoreError(f"modelTopology has {len(layers):,} layers; this server reads models of at most {max_layers}.")
    try:
        _check_layers(layers)
    except RecursionError:  # a config nested thousands deep: no layer config needs that
        raise StoreError("modelTopology is nested too deeply to be a model file.") from None
    return layers


def _check_layers(layers: list) -> None:
    names: set[str] = set()
    for i, entry in enumerate(layers):
        if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
            raise StoreError(f"Layer {i} in modelTopology is not a {{class_name, config}} object.")
        cls = entry.get("class_name")
        if cls == "Lambda":
            raise StoreError(f"Layer {i} is a Lambda layer, which holds Python code; it is refused and never run.")
        if not isinstance(cls, str) or cls not in ALLOWED_LAYERS:
            raise StoreError(
                f"Layer {i} has the unknown layer class {cls!r}; allowed: {', '.join(sorted(ALLOWED_LAYERS))}."
            )
        config = entry["config"]
        _check_safe(config, f"Layer {i} ({config.get('name', cls)})")
        activation = config.get("activation")
        if activation is not None and (not isinstance(activation, str) or activation not in ALLOWED_ACTIVATIONS):
            raise StoreError(f"Layer {i} uses the unknown activation {_short(activation)}.")
        name = config.get("name")
        if name is not None and (not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_CHARS):
            raise StoreError(
                f"Layer {i} has the name {_short(name)}: a name must be text of 1-{MAX_NAME_CHARS} characters."
            )
        if name in names:
            raise StoreError(f"Two layers are named {name!r}: every layer needs its own name.")
        names.add(name)


def _short(value, limit: int = 60) -> str:
    """repr() of a value from a file, cut short: a message must stay one readable line whatever the file holds."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def build_model_from_topology(topology: dict, max_params: int | None = None):
    """Rebuild a Keras 3 Sequential model from a Keras-2-style topology, using allowlisted classes only.

    Its cost (parameters, layer outputs) is computed from the configs and checked against the caps first, and the
    weights are created as zeros (the file's weights replace them): an Orthogonal initializer on a large layer would
    cost seconds of CPU for values that are thrown away. The layers keep their own initializers for retraining.
    """
    import keras

    layers = topology_layers(topology)
    first = dict(layers[0]["config"])
    batch_shape = first.get("batch_input_shape") or first.get("batch_shape")
    if not isinstance(batch_shape, list) or not all(d is None or (isinstance(d, int) and d > 0) for d in batch_shape):
        raise StoreError("The first layer needs a valid batch_input_shape, such as [null, 3].")
    check_cost(estimate_cost(layers, batch_shape), max_params)
    input_dtype = first.get("dtype") if isinstance(first.get("dtype"), str) and first["dtype"] in DTYPES else "float32"
    if layers[0]["class_name"] == "Embedding":
        input_dtype = "int32"
    built = [keras.Input(batch_shape=tuple(batch_shape), dtype=input_dtype)]
    for entry in layers:
        config = {k: v for k, v in entry["config"].items() if k not in {"batch_input_shape", "batch_shape"}}
        if entry["class_name"] == "InputLayer":
            continue
        config["dtype"] = "float32"
        cls = getattr(keras.layers, entry["class_name"])
        try:
            built.append(cls.from_config(config))
        except Exception as exc:  # only allowlisted classes get here; any failure of theirs is a bad config
            raise StoreError(
                f"Layer {config.get('name', '?')!s} ({entry['class_name']}) has an invalid config: {_plain(exc)}"
            ) from None
    name = topology.get("config", {}).get("name")
    swapped = _zero_initializers(built[1:])
    try:
        model = keras.Sequential(
            built, name=name if isinstance(name, str) and 0 < len(name) <= MAX_NAME_CHARS else "model"
        )
    except Exception as exc:  # e.g. strides of 0 fail inside Keras with a ZeroDivisionError while building
        raise StoreError(f"The layers do not fit together: {_plain(exc)}") from None
    finally:
        for target, attribute, initializer in swapped:
            setattr(target, attribute, initializer)
    return model


def _zero_initializers(layers: list) -> list[tuple[object, str, object]]:
    """Give every layer (and an LSTM's cell) Zeros initializers; returns what to put back after building."""
    import keras

    swapped = []
    for layer in layers:
        for target in (layer, getattr(layer, "cell", None)):
            for attribute in INITIALIZER_ATTRIBUTES:
                if (
                    target is not None
                    and not isinstance(getattr(type(target), attribute, None), property)  # LSTM's point to its cell
                    and getattr(target, attribute, None) is not None
                ):
                    swapped.append((target, attribute, getattr(target, attribute)))
                    setattr(target, attribute, keras.initializers.Zeros())
    return swapped


# ---------------------------------------------------------------- what a topology will cost, before building it


@dataclass(frozen=True)
class Cost:
    """What building a topology allocates: weights (parameters) and the largest layer output for one sample."""

    layers: int
    params: int
    largest_output: int  # elements of the largest per-sample layer output (unknown dims counted as 1)
    largest_output_layer: str


def _whole(config: dict, key: str, where: str, default=None, low: int = 1) -> int:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low or value > MAX_ELEMENTS:
        raise StoreError(f"{where}: {key} must be a whole number from {low} to {MAX_ELEMENTS:,} (got {_short(value)}).")
    return value


def _pair(config: dict, key: str, where: str, default) -> tuple[int, int]:
    value = config.get(key, default)
    if value is None:
        value = default
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value, value]
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise StoreError(f"{where}: {key} must be a whole number or a pair of them (got {_short(value)}).")
    a, b = (_whole({key: v}, key, where) for v in value)
    return a, b


def _padding(config: dict, where: str) -> str:
    padding = config.get("padding", "valid")
    if not isinstance(padding, str) or padding not in {"valid", "same"}:
        raise StoreError(f"{where}: padding must be 'valid' or 'same' (got {_short(padding)}).")
    if config.get("data_format") is not None and config.get("data_format") != "channels_last":
        raise StoreError(
            f"{where}: only data_format 'channels_last' runs on a CPU (got {_short(config['data_format'])})."
        )
    return padding


def _spatial(size, kernel: int, stride: int, padding: str, dilation: int = 1) -> int | None:
    if size is None:
        return None
    span = (kernel - 1) * dilation + 1
    out = math.ceil(size / stride) if padding == "same" else (size - span) // stride + 1
    return out if out > 0 else 0


def _elements(shape: list) -> int:
    return math.prod(1 if d is None else d for d in shape)


def estimate_cost(layers: list[dict], batch_shape: list) -> Cost:
    """Parameters and per-sample output sizes from the configs alone (no Keras): what building will allocate.

    A config option Keras would reject (a negative unit count, a kernel larger than its input) is a StoreError here.
    """
    try:
        return _estimate_cost(layers, batch_shape)
    except TypeError as exc:  # an option of a type no check expected, e.g. {} where a name goes (found by fuzzing)
        raise StoreError(f"A layer option has a type Keras does not accept ({exc}).") from None


def _estimate_cost(layers: list[dict], batch_shape: list) -> Cost:
    shape = list(batch_shape[1:])  # per sample; None = any length
    params, largest, largest_name = 0, _elements(shape), "the input"
    for i, entry in enumerate(layers):
        cls, config = entry["class_name"], entry["config"]
        where = f"Layer {i} ({_short(config.get('name', cls), 40)})"
        count = 0
        if cls == "Dense":
            units = _whole(config, "units", where)
            if not shape or shape[-1] is None:
                raise StoreError(f"{where}: a Dense layer needs a known input size.")
            count = shape[-1] * units + (units if config.get("use_bias", True) else 0)
            shape = shape[:-1] + [units]
        elif cls == "Conv2D":
            if len(shape) != 3 or shape[-1] is None:
                raise StoreError(f"{where}: Conv2D needs an input of height × width × channels (got {shape}).")
            filters = _whole(config, "filters", where)
            kh, kw = _pair(config, "kernel_size", where, None)
            sh, sw = _pair(config, "strides", where, 1)
            dh, dw = _pair(config, "dilation_rate", where, 1)
            groups = _whole(config, "groups", where, 1)
            padding = _padding(config, where)
            if shape[-1] % groups or filters % groups:
                raise StoreError(f"{where}: groups ({groups}) must divide the channels and the filters.")
            count = kh * kw * (shape[-1] // groups) * filters + (filters if config.get("use_bias", True) else 0)
            shape = [_spatial(shape[0], kh, sh, padding, dh), _spatial(shape[1], kw, sw, padding, dw), filters]
        elif cls in {"MaxPooling2D", "AveragePooling2D"}:
            if len(shape) != 3:
                raise StoreError(f"{where}: pooling needs an input of height × width × channels (got {shape}).")
            ph, pw = _pair(config, "pool_size", where, 2)
            sh, sw = _pair(config, "strides", where, (ph, pw))
            padding = _padding(config, where)
            shape = [_spatial(shape[0], ph, sh, padding), _spatial(shape[1], pw, sw, padding), shape[2]]
        elif cls == "GlobalAveragePooling2D":
            if len(shape) != 3:
                raise StoreError(f"{where}: pooling needs an input of height × width × channels (got {shape}).")
            _padding({"data_format": config.get("data_format")}, where)
            shape = [1, 1, shape[2]] if config.get("keepdims") else [shape[2]]
        elif cls == "Flatten":
            shape = [None if any(d is None for d in shape) else _elements(shape)]
        elif cls == "Reshape":
            target = config.get("target_shape")
            if not isinstance(target, (list, tuple)) or not target:
                raise StoreError(f"{where}: target_shape must be a list of sizes (got {_short(target)}).")
            dims = [_whole({"target_shape": d}, "target_shape", where, low=-1) for d in target]
            if 0 in dims or dims.count(-1) > 1:
                raise StoreError(f"{where}: target_shape may hold one -1 and no 0 (got {dims}).")
            known = math.prod(d for d in dims if d != -1)
            total = None if any(d is None for d in shape) else _elements(shape)
            if total is not None and (total % known if -1 in dims else total != known):
                raise StoreError(f"{where}: {total:,} values cannot be reshaped to {dims}.")
            shape = [None if d == -1 and total is None else total // known if d == -1 else d for d in dims]
        elif cls == "Embedding":
            input_dim, output_dim = _whole(config, "input_dim", where), _whole(config, "output_dim", where)
            count = input_dim * output_dim
            shape = shape + [output_dim]
        elif cls == "LSTM":
            units = _whole(config, "units", where)
            if len(shape) != 2 or shape[-1] is None:
                raise StoreError(f"{where}: an LSTM needs an input of time steps × features (got {shape}).")
            count = 4 * units * (shape[-1] + units) + (4 * units if config.get("use_bias", True) else 0)
            shape = [shape[0], units] if config.get("return_sequences") else [units]
        # InputLayer, Rescaling, Dropout and Activation keep the shape and have no weights.
        params += count
        if any(d == 0 for d in shape):
            raise StoreError(
                f"{where}: its output would be empty ({shape}): the kernel or pool is larger than its input."
            )
        if _elements(shape) > largest:
            largest, largest_name = _elements(shape), str(config.get("name", cls))
    return Cost(len(layers), params, largest, largest_name)


def check_cost(cost: Cost, max_params: int | None = None) -> Cost:
    """Refuse, in plain words, a topology whose weights or layer outputs exceed this server's caps."""
    settings = get_settings()
    limit = settings.max_model_params if max_params is None else min(max_params, settings.max_model_params)
    if cost.largest_output > settings.max_activation_elements:
        raise StoreError(
            f"Layer {cost.largest_output_layer} would output {cost.largest_output:,} values per sample; this server "
            f"allows at most {settings.max_activation_elements:,}."
        )
    if cost.params > limit:
        raise StoreError(
            f"The layers declare {cost.params:,} parameters; this server builds models of at most {limit:,}."
        )
    return cost


def _plain(exc: Exception) -> str:
    """An exception message without the terminal colour codes Keras adds, cut to a readable length."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).split("Arguments received")[0]
    text = " ".join(text.split())
    return (text[:300] + "…") if len(text) > 300 else text


# ---------------------------------------------------------------- manifest and weights


@dataclass(frozen=True)
class ManifestEntry:
    name: str
    shape: tuple[int, ...]
    dtype: str
    shard: str
    offset: int  # byte offset inside the concatenated shards of its group
    length: int  # bytes

    @property
    def elements(self) -> int:
        return self.length // DTYPES[self.dtype].itemsize


def group_key(paths: list[str]) -> str:
    """How a weight group is named in ManifestEntry.shard: its one file, or its files joined by commas."""
    return paths[0] if len(paths) == 1 else ",".join(paths)


def named_weights(model) -> list[tuple[str, object]]:
    """(manifest name, variable) in model order, named '<layer>/<weight>' as TF.js does, e.g. 'lstm/kernel'."""
    return [(f"{layer.name}/{v.name}", v) for layer in model.layers for v in layer.weights]


def manifest_entries(model_json: dict) -> list[ManifestEntry]:
    """Validate weightsManifest and compute every tensor's byte offset and length (Python ints: no overflow)."""
    manifest = model_json.get("weightsManifest")
    if not isinstance(manifest, list) or not manifest:
        raise StoreError("weightsManifest must be a non-empty list of weight groups.")
    entries = []
    seen: set[str] = set()
    for g, group in enumerate(manifest):
        if (
            not isinstance(group, dict)
            or not isinstance(group.get("paths"), list)
            or not isinstance(group.get("weights"), list)
        ):
            raise StoreError(f"Weight group {g} needs 'paths' and 'weights' lists.")
        for path in group["paths"]:
            check_plain_filename(path)
        offset = 0
        for w in group["weights"]:
            if not isinstance(w, dict) or not isinstance(w.get("name"), str):
                raise StoreError(f"A weight entry in group {g} has no name.")
            if not 0 < len(w["name"]) <= MAX_NAME_CHARS:
                raise StoreError(f"A weight name in group {g} is empty or longer than {MAX_NAME_CHARS} characters.")
            if w["name"] in seen:
                raise StoreError(f"The tensor {w['name']!r} is listed twice in the weights manifest.")
            seen.add(w["name"])
            dtype = w.get("dtype", "float32")
            if not isinstance(dtype, str) or dtype not in DTYPES:
                raise StoreError(
                    f"Weight {w['name']!r} has the unsupported dtype {_short(dtype)} (supported: float32, int32)."
                )
            shape = w.get("shape")
            if not isinstance(shape, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
            ):
                raise StoreError(f"Weight {w['name']!r} has an invalid shape {_short(shape)}.")
            count = math.prod(shape) if len(shape) <= 64 else MAX_ELEMENTS + 1  # 64 dims: more than any tensor
            if count > MAX_ELEMENTS:
                raise StoreError(f"Weight {w['name']!r} claims {count:,} elements, more than any model here can hold.")
            length = count * DTYPES[dtype].itemsize
            shard = group_key(group["paths"])
            entries.append(ManifestEntry(w["name"], tuple(shape), dtype, shard, offset, length))
            offset += length
    return entries


def check_plain_filename(name: str) -> str:
    """A file name inside the model folder: no directories, no '..', no absolute paths."""
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name in {".", ".."} or "\x00" in name:
        raise StoreError(f"The weights path {name!r} must be a plain file name inside the model folder.")
    return name


def read_model_json(folder: str | Path) -> dict:
    """Parse and minimally validate model.json, with plain messages for missing or broken files."""
    folder = Path(folder)
    recover_folder(folder)
    if not folder.is_dir():
        raise StoreError(f"There is no model folder at {folder}.")
    path = folder / MODEL_JSON
    if not path.is_file():
        raise StoreError(f"{folder.name} has no {MODEL_JSON}.")
    return parse_model_json(path.read_bytes())


def parse_model_json(raw: bytes | str) -> dict:
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StoreError(f"model.json is not valid JSON ({exc}); it may be truncated.") from None
    except RecursionError:  # e.g. 100,000 nested brackets: valid-looking JSON no model file needs
        raise StoreError("model.json is nested too deeply to be a model file.") from None
    except ValueError as exc:  # e.g. an integer of 5,000 digits, which Python refuses to convert
        raise StoreError(f"model.json holds a value no model file needs ({_plain(exc)}).") from None
    if not isinstance(data, dict):
        raise StoreError("model.json must hold a JSON object.")
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise StoreError(f"model.json lacks the key(s) {', '.join(missing)}.")
    if data["format"] != "layers-model":
        raise StoreError(f"model.json has format {data['format']!r}; expected 'layers-model'.")
    return data


def read_weight_arrays(model_json: dict, shard_bytes: dict[str, bytes]) -> list[tuple[ManifestEntry, np.ndarray]]:
    """Decode every tensor from the shards; the sizes must match the manifest exactly."""
    entries = manifest_entries(model_json)
    groups: dict[str, bytes] = {}
    for group in model_json["weightsManifest"]:
        key = group_key(group["paths"])
        parts = []
        for p in group["paths"]:
            if p not in shard_bytes:
                raise StoreError(f"The weights file {p} is missing.")
            parts.append(shard_bytes[p])
        groups[key] = b"".join(parts)
        expected = sum(e.length for e in entries if e.shard == key)
        if len(groups[key]) != expected:
            word = "shorter" if len(groups[key]) < expected else "longer"
            raise StoreError(
                f"The weights file {key} is {len(groups[key]):,} bytes, {word} than the {expected:,} bytes the "
                "manifest describes: it is truncated or does not belong to this model.json."
            )
    out = []
    for e in entries:
        buf = groups[e.shard][e.offset : e.offset + e.length]
        out.append((e, np.frombuffer(buf, dtype=DTYPES[e.dtype]).reshape(e.shape)))
    return out


def _read_shards(folder: Path, model_json: dict, max_bytes: int) -> dict[str, bytes]:
    shards = {}
    for group in model_json.get("weightsManifest", []):
        for p in group.get("paths", []):
            check_plain_filename(p)
            path = folder / p
            if not path.is_file():
                raise StoreError(f"The weights file {p} is missing from {folder.name}.")
            if path.stat().st_size > max_bytes:
                raise StoreError(f"The weights file {p} is over the {max_bytes // 2**20} MB limit.")
            shards[p] = path.read_bytes()
    return shards


MAX_ABS_WEIGHT = 1e15  # no trained network has weights near this; ones past it overflow float32 sums into NaN


def non_finite_weights(arrays: dict[str, np.ndarray]) -> list[str]:
    """'name (N of M values)' for every tensor holding NaN, ±inf or a value beyond ±MAX_ABS_WEIGHT: such a model
    predicts NaN (3.4e38 is finite, yet two of them overflow a float32 sum), so it is broken."""
    out = []
    for name, array in arrays.items():
        if array.dtype.kind == "f":
            with np.errstate(invalid="ignore"):
                ok = np.isfinite(array) & (np.abs(array) <= MAX_ABS_WEIGHT)
            bad = int(array.size - np.count_nonzero(ok))
            if bad:
                out.append(f"{name} ({bad:,} of {array.size:,} values)")
    return out


def model_from_json_and_shards(model_json: dict, shard_bytes: dict[str, bytes]):
    """Rebuild the model and set every weight by name; any mismatch or a NaN/inf weight is a StoreError."""
    arrays = {e.name: a for e, a in read_weight_arrays(model_json, shard_bytes)}  # cheap checks before building
    broken = non_finite_weights(arrays)
    if broken:
        raise StoreError(
            f"Weights hold NaN, infinity or values beyond ±{MAX_ABS_WEIGHT:.0e}, so the model would predict nonsense: "
            f"{', '.join(broken[:5])}."
        )
    model = build_model_from_topology(model_json["modelTopology"])
    named = named_weights(model)
    for name, variable in named:
        if name not in arrays:
            raise StoreError(f"The weights file has no tensor for {name}.")
        if tuple(arrays[name].shape) != tuple(variable.shape):
            raise StoreError(
                f"{name} has shape {arrays[name].shape} in the weights but {tuple(variable.shape)} in the model."
            )
        variable.assign(arrays[name].astype(variable.dtype))
    extra = set(arrays) - {name for name, _ in named}
    if extra:
        raise StoreError(f"The weights file has tensors the model does not use: {', '.join(sorted(extra))}.")
    return model


def load_model(folder: str | Path) -> LoadedModel:
    """Load a model folder; every problem becomes a StoreError with a plain explanation."""
    folder = Path(folder)
    model_json = read_model_json(folder)
    shards = _read_shards(folder, model_json, int(get_settings().max_model_mb * 2**20))
    model = model_from_json_and_shards(model_json, shards)
    return LoadedModel(model, model_json.get("userDefinedMetadata") or {}, folder, model_json)


def load_family_model(family: str, folder: str | Path | None = None) -> LoadedModel:
    """The shipped model of `family`, or the model in `folder` once its metadata says it is of that family."""
    loaded = load_model(folder or shipped_model_dir(family))
    found = loaded.metadata.get("family", family)
    if found != family:  # else Keras fails later with only "No such layer: ..."
        raise StoreError(f"{folder} holds a {found} model, not a {family} model.")
    return loaded


def load_metadata(folder: str | Path) -> dict:
    return read_model_json(folder).get("userDefinedMetadata") or {}


# ---------------------------------------------------------------- writing


def library_versions() -> dict:
    import keras
    import tensorflow as tf

    return {"keras": keras.__version__, "tensorflow": tf.__version__, "numpy": np.__version__}


def model_to_files(model, metadata: dict | None = None) -> tuple[dict, bytes]:
    """The model.json object and the shard bytes for `model` (little-endian, in manifest order)."""
    weights, chunks = [], []
    for name, variable in named_weights(model):
        array = np.asarray(variable.numpy())
        dtype = "int32" if array.dtype.kind in "iu" else "float32"
        weights.append({"name": name, "shape": list(array.shape), "dtype": dtype})
        chunks.append(array.astype(DTYPES[dtype]).tobytes())
    meta = {"saved_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "versions": library_versions()}
    meta.update(metadata or {})
    model_json = {
        "format": "layers-model",
        "generatedBy": f"keras v{meta['versions']['keras']}",
        "convertedBy": FORMAT_VERSION,
        "modelTopology": to_tfjs_topology(model),
        "weightsManifest": [{"paths": [SHARD_NAME], "weights": weights}],
        "userDefinedMetadata": _jsonable(meta),
    }
    return model_json, b"".join(chunks)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _fsync_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_replaceable(folder: Path) -> None:
    """Replacing removes the old folder whole, so only a model folder (model.json + .bin shards) may be replaced:
    `--out ~/Documents` must be refused, not wiped."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise StoreError(f"{folder} exists and is not a folder.")
    contents = list(folder.iterdir())
    others = sorted(p.name for p in contents if not p.is_file() or (p.name != MODEL_JSON and p.suffix != ".bin"))
    if others or (contents and not (folder / MODEL_JSON).is_file()):
        shown = ", ".join(others[:3]) + (" ..." if len(others) > 3 else "")
        raise StoreError(
            f"{folder} is not empty and is not a model folder (it holds {shown or 'files but no model.json'}); "
            "choose an empty or new folder, so nothing in it is deleted."
        )


# Tests set this to a function called with the name of each step of a replace ("exchanged", "moved-aside", ...), to
# inject a failure or a SIGKILL between the steps.
_STEP_HOOK: Callable[[str], None] | None = None
RENAME_EXCHANGE = 2  # linux/fs.h: swap two paths atomically
AT_FDCWD = -100


def _step(name: str) -> None:
    if _STEP_HOOK is not None:
        _STEP_HOOK(name)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one atomic step (Linux renameat2 RENAME_EXCHANGE); False where that is not available."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):  # not glibc/Linux
        return False
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    errno = ctypes.get_errno()
    if errno in {22, 38, 95}:  # EINVAL, ENOSYS, EOPNOTSUPP: this kernel or file system cannot exchange
        return False
    raise OSError(errno, os.strerror(errno), str(b))


def _aside_name(folder: Path) -> str:
    return f".old-{folder.name}-"


def recover_folder(folder: str | Path) -> bool:
    """Finish a replace that was killed between its two renames: the old folder is back. True if one was restored.

    Only the two-rename fallback (no RENAME_EXCHANGE) can leave `folder` missing, with the old one moved aside.
    """
    folder = Path(folder)
    if folder.exists() or not folder.parent.is_dir():
        return False
    aside = sorted(
        (p for p in folder.parent.glob(_aside_name(folder) + "*") if (p / MODEL_JSON).is_file()),
        key=lambda p: p.stat().st_mtime,
    )
    if not aside:
        return False
    try:
        os.rename(aside[-1], folder)
    except OSError:  # another process restored it first
        return folder.exists()
    return True


def write_model_folder(folder: Path, model_json: dict, shard: bytes) -> Path:
    """Atomically create or replace `folder`: write a hidden temp folder, fsync, then swap it into place.

    After any failure, or a SIGKILL at any point, `folder` is the old model or the new one, never missing or half
    written: a replace is one renameat2(RENAME_EXCHANGE); where the system lacks it, two renames with a rollback,
    and `recover_folder` (run by every read) puts the old folder back if a kill came between them.
    """
    if not str(folder).strip():  # Path("") is the current folder: an empty destination must not mean "here"
        raise StoreError("The destination folder is empty: give the folder to write the model to.")
    folder = Path(folder)
    recover_folder(folder)
    check_replaceable(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".tmp-{folder.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        _fsync_write(tmp / SHARD_NAME, shard)
        _fsync_write(tmp / MODEL_JSON, json.dumps(model_json, indent=1).encode())
        _fsync_dir(tmp)
        _step("written")
        if not folder.exists():
            os.rename(tmp, folder)
        elif _exchange(tmp, folder):
            _step("exchanged")  # `folder` is the new model; tmp now holds the old one
        else:
            _replace_in_two_steps(tmp, folder)
        _fsync_dir(folder.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the unused new files, or the old model after an exchange
    return folder


def _replace_in_two_steps(tmp: Path, folder: Path) -> None:
    """rename() cannot replace a non-empty folder: move the old one aside, move the new one in, roll back on error."""
    aside = folder.parent / f"{_aside_name(folder)}{uuid.uuid4().hex[:8]}"
    os.rename(folder, aside)
    try:
        _step("moved-aside")
        os.rename(tmp, folder)
    except BaseException:
        if not folder.exists():
            os.rename(aside, folder)
        raise
    try:
        _step("moved-in")
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def save_model(model, folder: str | Path, metadata: dict | None = None) -> Path:
    """Save `model` (with `metadata` in userDefinedMetadata) atomically to `folder`."""
    model_json, shard = model_to_files(model, metadata)
    return write_model_folder(Path(folder), model_json, shard)


# ---------------------------------------------------------------- shipped models and user versions


def shipped_model_dir(family: str) -> Path:
    return SHIPPED_MODELS_DIR / check_name(family, "model name")


def check_name(name: str, what: str = "name") -> str:
    """A user-supplied name that is safe as one folder name: letters, digits, '_', '.', '-'; no '..'."""
    if not isinstance(name, str) or not VERSION_NAME.match(name) or ".." in name:
        raise StoreError(
            f"The {what} {name!r} is not allowed: use 1-64 letters, digits, '_', '.' or '-', starting with a letter "
            "or digit."
        )
    return name


def _inside(base: Path, *parts: str) -> Path:
    base = base.resolve()
    path = base.joinpath(*parts).resolve()
    if not path.is_relative_to(base):
        raise StoreError("That name would leave the models folder.")
    return path


@dataclass(frozen=True)
class Version:
    family: str
    version_id: str
    path: Path
    metadata: dict

    @property
    def label(self) -> str:
        return f"{self.version_id}"


def slugify(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", text.strip()).strip("-.")[:40]
    return slug or "run"


def save_version(
    model, family: str, name: str, metadata: dict | None = None, models_dir: Path | None = None
) -> Version:
    """Save a retrained model as a new version under <user models>/<family>/<timestamp>-<name>; never overwrites."""
    check_name(family, "model name")
    check_name(name, "version name")
    base = Path(models_dir or get_settings().models_dir)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    version_id = f"{stamp}-{name}"
    folder = _inside(base, family, version_id)
    if folder.exists():
        version_id = f"{version_id}-{uuid.uuid4().hex[:4]}"
        folder = _inside(base, family, version_id)
    if folder.resolve().is_relative_to(SHIPPED_MODELS_DIR.resolve()):
        raise StoreError("User versions cannot be written into the shipped models folder.")
    meta = {"family": family, "version": version_id, **(metadata or {})}
    save_model(model, folder, meta)
    return Version(family, version_id, folder, load_metadata(folder))


def list_versions(family: str, models_dir: Path | None = None) -> list[Version]:
    """Complete saved versions of a family, newest first (temp folders of interrupted saves are skipped)."""
    base = Path(models_dir or get_settings().models_dir) / check_name(family, "model name")
    if not base.is_dir():
        return []
    out = []
    for child in sorted(base.iterdir(), reverse=True):
        if child.name.startswith(".") or not (child / MODEL_JSON).is_file():
            continue
        try:
            out.append(Version(family, child.name, child, load_metadata(child)))
        except (StoreError, OSError):  # unreadable, or deleted by another session since the listing
            continue
    return out


def version_path(family: str, version_id: str, models_dir: Path | None = None) -> Path:
    base = Path(models_dir or get_settings().models_dir)
    return _inside(base, check_name(family, "model name"), check_name(version_id, "version"))


def delete_version(family: str, version_id: str, models_dir: Path | None = None) -> None:
    path = version_path(family, version_id, models_dir)
    if not path.is_dir():
        raise StoreError(f"There is no version {version_id!r} of {family}.")
    trash = path.parent / f".deleted-{version_id}-{uuid.uuid4().hex[:6]}"
    os.rename(path, trash)  # atomic disappearance from listings, then the slow delete
    shutil.rmtree(trash, ignore_errors=True)


def zip_model_folder(folder: str | Path) -> bytes:
    """model.json + shards as a zip, for download."""
    import io
    import zipfile

    folder = Path(folder)
    model_json = read_model_json(folder)
    buf = io.BytesIO()
    try:
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.write(folder / MODEL_JSON, MODEL_JSON)
            for group in model_json["weightsManifest"]:
                for p in group["paths"]:
                    zf.write(folder / check_plain_filename(p), p)
    except OSError as exc:
        missing = Path(getattr(exc, "filename", "") or "").name or "a file"
        raise StoreError(f"{folder.name} cannot be zipped: {missing} is missing or cannot be read.") from None
    return buf.getvalue()
