"""Explicit-vs-default layer config and initializer explanations, split out of core.inspect (which re-exports them).

Compares each topology layer with a fresh Keras layer of its class; never imports streamlit.
"""

from __future__ import annotations

import inspect as pyinspect
import json
import math
import re
from dataclasses import dataclass

from core.store import models as store
from core.store import topology as store_topology


@dataclass(frozen=True)
class ConfigValue:
    key: str
    value: object
    default: object
    explicit: bool

    @property
    def source(self) -> str:
        return "set explicitly" if self.explicit else "Keras default"


# VarianceScaling settings that are a named initializer: TF.js writes Glorot uniform as VarianceScaling(1, fan_avg,
# uniform), Keras 3 as GlorotUniform. Both mean the same, so neither should count as "set explicitly".
VARIANCE_SCALING_NAMES = {
    (1.0, "fan_avg", "uniform"): "GlorotUniform",
    (1.0, "fan_avg", "normal"): "GlorotNormal",
    (1.0, "fan_avg", "truncated_normal"): "GlorotNormal",
    (2.0, "fan_in", "uniform"): "HeUniform",
    (2.0, "fan_in", "normal"): "HeNormal",
    (2.0, "fan_in", "truncated_normal"): "HeNormal",
    (1.0, "fan_in", "uniform"): "LecunUniform",
    (1.0, "fan_in", "normal"): "LecunNormal",
    (1.0, "fan_in", "truncated_normal"): "LecunNormal",
}


def canonical_initializer(init: dict) -> dict:
    """The named form of an initializer, without the seed and unset (None) options, for comparisons."""
    cls, cfg = init.get("class_name"), init.get("config") or {}
    if cls == "VarianceScaling" and isinstance(cfg, dict):
        scale = cfg.get("scale", 1.0)
        key = (
            float(scale) if isinstance(scale, (int, float)) else scale,
            cfg.get("mode", "fan_in"),
            cfg.get("distribution", "truncated_normal"),
        )
        if isinstance(key[0], float) and all(isinstance(k, str) for k in key[1:]) and key in VARIANCE_SCALING_NAMES:
            return {"class_name": VARIANCE_SCALING_NAMES[key], "config": {}}
    if not isinstance(cfg, dict):
        return init
    return {"class_name": cls, "config": {k: v for k, v in cfg.items() if v is not None and k != "seed"}}


def _normalize(value):
    name = value.get("class_name") if isinstance(value, dict) else None
    if isinstance(name, str) and name in store_topology.ALLOWED_INITIALIZERS:
        value = canonical_initializer(value)
    return json.loads(json.dumps(value, sort_keys=True, default=str))  # tuples → lists, so (1, 1) == [1, 1]


def _auto_name(name: str, class_name: str) -> bool:
    """A name Keras or TF.js made up for an unnamed layer: 'conv2d_3', 'dense_Dense1'.

    A bare 'conv2d' is ambiguous (the first unnamed Conv2D gets it too); it counts as chosen, since this project
    names every layer.
    """
    snake = re.escape(re.sub(r"(?<=[a-z])(?=[A-Z])", "_", class_name).lower())  # MaxPooling2D → max_pooling2d
    return bool(re.fullmatch(rf"{snake}_\d+|{snake}_{re.escape(class_name)}\d+", name))


def fresh_layer_config(class_name: str, config: dict) -> tuple[dict, set[str]] | None:
    """The Keras-2-style config of a new layer of this class built with only its required arguments, and their
    names (a required argument has no default, so it is always set explicitly)."""
    import keras

    if not isinstance(class_name, str) or class_name not in store_topology.ALLOWED_LAYERS or class_name == "InputLayer":
        return None
    cls = getattr(keras.layers, class_name)
    required = {
        p.name: config[p.name]
        for p in pyinspect.signature(cls.__init__).parameters.values()
        if p.name != "self"
        and p.default is pyinspect.Parameter.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.name in config
    }
    try:
        return store_topology._to_keras2(cls(**required).get_config()), set(required)
    except Exception:  # any config Keras refuses: there is no fresh layer to compare with
        return None


def config_flags(entry: dict) -> list[ConfigValue]:
    """Every config value of a topology layer, marked explicit or default by comparison with a fresh layer."""
    class_name, config = entry["class_name"], entry["config"]
    fresh, required = fresh_layer_config(class_name, config) or ({}, set())
    out = []
    for key, value in config.items():
        if key in required:
            default, explicit = None, True
        elif key == "name":
            default = None
            explicit = not _auto_name(str(value), class_name)
        elif key not in fresh:
            # e.g. batch_input_shape came from keras.Input; a null for an option this Keras lacks sets nothing
            default, explicit = None, value is not None
        else:
            default = fresh[key]
            explicit = _normalize(value) != _normalize(default)
        out.append(ConfigValue(key, value, default, explicit))
    return out


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """fan_in and fan_out as Keras computes them (a conv kernel multiplies by its receptive field)."""
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def explain_initializer(init: dict, shape: tuple[int, ...] | None = None) -> str:
    """One sentence on how this initializer fills a tensor, with the numbers for `shape` when known."""
    cls = init.get("class_name", "?")
    cfg = init.get("config") or {}
    if not isinstance(cfg, dict):  # a malformed config: explain the class, with Keras' defaults
        cfg = {}
    named = canonical_initializer(init)["class_name"] if cfg else cls
    if named != cls:  # VarianceScaling written out by TF.js: explain the named initializer it is
        return (
            f"VarianceScaling({cfg.get('scale')}, {cfg.get('mode')}, {cfg.get('distribution')}) is "
            + explain_initializer({"class_name": named, "config": {}}, shape)
        )
    fan_in, fan_out = _fans(shape) if shape else (None, None)

    def num(expr):
        return f" = {expr:.4g} here (fan_in {fan_in}, fan_out {fan_out})" if fan_in else ""

    sentences = {
        "GlorotUniform": "Glorot (Xavier) uniform: each value is drawn uniformly from [-L, L] with "
        f"L = sqrt(6 / (fan_in + fan_out)){num(math.sqrt(6 / (fan_in + fan_out)) if fan_in else 0)}, "
        "so a signal keeps about the same variance going forwards and gradients going backwards.",
        "GlorotNormal": "Glorot (Xavier) normal: a truncated normal with std = sqrt(2 / (fan_in + fan_out))"
        f"{num(math.sqrt(2 / (fan_in + fan_out)) if fan_in else 0)}, balancing forward and backward variance.",
        "HeUniform": "He uniform: drawn uniformly from [-L, L] with L = sqrt(6 / fan_in)"
        f"{num(math.sqrt(6 / fan_in) if fan_in else 0)}, sized for ReLU, which zeroes half its inputs.",
        "HeNormal": "He normal: a truncated normal with std = sqrt(2 / fan_in)"
        f"{num(math.sqrt(2 / fan_in) if fan_in else 0)}, sized for ReLU, which zeroes half its inputs.",
        "LecunUniform": "LeCun uniform: drawn uniformly from [-L, L] with L = sqrt(3 / fan_in)"
        f"{num(math.sqrt(3 / fan_in) if fan_in else 0)}, keeping each unit's input variance near 1.",
        "LecunNormal": "LeCun normal: a truncated normal with std = sqrt(1 / fan_in)"
        f"{num(math.sqrt(1 / fan_in) if fan_in else 0)}, keeping each unit's input variance near 1.",
        "Zeros": "Zeros: every value starts at 0, which is fine for biases because the random kernels already make "
        "the units differ.",
        "Ones": "Ones: every value starts at 1.",
        "Constant": f"Constant: every value starts at {cfg.get('value', '?')}.",
        "RandomUniform": f"Random uniform: each value is drawn uniformly between {cfg.get('minval', -0.05)} and "
        f"{cfg.get('maxval', 0.05)}, whatever the layer's size.",
        "RandomNormal": f"Random normal: each value is drawn from a normal with mean {cfg.get('mean', 0.0)} and "
        f"std {cfg.get('stddev', 0.05)}, whatever the layer's size.",
        "TruncatedNormal": f"Truncated normal: a normal with mean {cfg.get('mean', 0.0)} and std "
        f"{cfg.get('stddev', 0.05)}, redrawn when more than two std from the mean, so there are no outliers.",
        "VarianceScaling": f"Variance scaling: a {cfg.get('distribution', 'truncated_normal')} distribution whose "
        f"variance is {cfg.get('scale', 1.0)} / {cfg.get('mode', 'fan_in')}, so wider layers start with smaller "
        "weights (Glorot, He and LeCun are special cases).",
        "Orthogonal": f"Orthogonal: a random orthogonal matrix times {cfg.get('gain', 1.0)}, so multiplying by it "
        "again and again, as an LSTM does at every time step, neither blows the signal up nor shrinks it.",
        "Identity": f"Identity: the identity matrix times {cfg.get('gain', 1.0)}, so the layer starts by passing its "
        "input through unchanged.",
    }
    return sentences.get(cls, f"{cls}: an initializer this page has no explanation for.")


def explain_initializers(topology: list[dict], model=None) -> list[dict]:
    """Every *_initializer in the topology, with the shape of the weight it fills when the model was built."""
    shapes = {name: tuple(v.shape) for name, v in store.named_weights(model)} if model is not None else {}
    rows = []
    for entry in topology:
        config = entry["config"]
        layer = config.get("name", "?")
        for key, value in config.items():
            if not key.endswith("_initializer") or not isinstance(value, dict):
                continue
            weight = key.removesuffix("_initializer")
            weight = {"recurrent": "recurrent_kernel"}.get(weight, weight)
            shape = shapes.get(f"{layer}/{weight}")
            if shape is None and weight == "bias" and config.get("use_bias") is False:
                continue
            rows.append(
                {
                    "layer": layer,
                    "argument": key,
                    "initializer": value.get("class_name", "?"),
                    "weight_shape": list(shape) if shape else None,
                    "explanation": explain_initializer(value, shape),
                }
            )
    return rows
