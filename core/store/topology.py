"""Model topology checks: the layer/initializer/activation allowlists, topology validation, cost estimation
before building, and rebuilding a Keras model from an allowlisted Keras-2-style topology. Never executes code."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from core.settings import get_settings

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


class StoreError(ValueError):
    """A model folder that cannot be read or written, with a message meant for the user."""


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


def build_model_from_topology(topology: dict, max_params: int | None = None, initial: InitialWeights | None = None):
    """Rebuild a Keras 3 Sequential model from a Keras-2-style topology, using allowlisted classes only.

    Its cost (parameters, layer outputs) is computed from the configs and checked against the caps first, and the
    weights are created as zeros (the file's weights replace them), or from `initial`'s arrays: an Orthogonal
    initializer on a large layer would cost seconds of CPU for values that are thrown away. The layers keep their own
    initializers for retraining.
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
    swapped = _zero_initializers(built[1:], initial)
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


class InitialWeights:
    """Arrays by manifest name ('<layer>/<weight>') that a model's variables are created from instead of zeros, when
    shape and dtype agree: the variables hold the file's values from the start, with no zeros allocated and no
    assign copy (issue 25: each was another copy of a 36 MB kernel). `served` names the weights created this way."""

    def __init__(self, arrays: Mapping[str, np.ndarray]):
        self.arrays = arrays
        self.served: set[str] = set()

    def initializer(self, name: str) -> Callable:
        import keras

        def initialize(shape, dtype=None):
            array = self.arrays.get(name)
            if array is not None and tuple(array.shape) == tuple(shape) and array.dtype == np.dtype(dtype or "float32"):
                self.served.add(name)
                return array
            return keras.ops.zeros(shape, dtype=dtype)

        return initialize


WEIGHT_NAMES = {
    "kernel_initializer": "kernel",
    "recurrent_initializer": "recurrent_kernel",
    "bias_initializer": "bias",
    "embeddings_initializer": "embeddings",
}


def _zero_initializers(layers: list, initial: InitialWeights | None = None) -> list[tuple[object, str, object]]:
    """Give every layer (and an LSTM's cell) Zeros initializers, or ones that take `initial`'s arrays; returns what
    to put back after building."""
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
                    weight = f"{layer.name}/{WEIGHT_NAMES[attribute]}"
                    setattr(
                        target,
                        attribute,
                        keras.initializers.Zeros() if initial is None else initial.initializer(weight),
                    )
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
