"""The last layers of the shapes CNN, one unit at a time: how the last pooled maps are flattened into one row of
numbers, how every dense unit is a weighted sum of that row plus a bias then its activation, and how the output
layer's logits become probabilities through the softmax. Every number is recomputed in NumPy from the layer's own
weights and checked against the layer's output."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from core.engine.traced import traced_call
from core.maths import softmax

TOP_TERMS = 12  # the largest contributions written out; the rest are summed in one line
_views: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> (traced view, layer names), built once


@dataclass(frozen=True)
class DenseActivations:
    """One drawing's path from the last pooled maps to the answer.

    `flat` is the Flatten layer's output, `hidden[name]` each Dense layer's output (in order, the last being the
    output layer's probabilities), `logits` the output layer's weighted sums before its softmax."""

    source: str  # the layer Flatten reads (the last pool)
    source_shape: tuple[int, int, int]  # (H, W, channels) of that layer
    flat: np.ndarray  # (H*W*channels,)
    dense: dict[str, np.ndarray]  # Dense layer name -> its output (units,)
    logits: np.ndarray  # (classes,)
    probabilities: np.ndarray  # (classes,): the model's own output


@dataclass(frozen=True)
class DenseUnit:
    """How one unit of a Dense layer is computed: sum(inputs * weights) + bias, then the activation."""

    layer: str
    unit: int
    source: str  # the layer its inputs come from
    inputs: np.ndarray  # (n,)
    weights: np.ndarray  # (n,) the unit's column of the kernel
    products: np.ndarray  # (n,) inputs * weights
    bias: float
    pre_activation: float  # products.sum() + bias
    activation: str  # "relu", "softmax", "linear", ...
    output: float  # the unit's value in the layer's output (for softmax: its probability)
    top: np.ndarray  # indices of the largest |products|, largest first (at most TOP_TERMS)


@dataclass(frozen=True)
class SoftmaxStep:
    """logits -> probabilities with every intermediate number: subtract the largest, exponentiate, divide by the sum."""

    logits: np.ndarray
    shifted: np.ndarray  # logits - max(logits): the same answer, no overflow
    exps: np.ndarray
    total: float
    probabilities: np.ndarray


def _dense_layers(model) -> list:
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def _flatten(model):
    import keras

    found = [layer for layer in model.layers if isinstance(layer, keras.layers.Flatten)]
    if not found:
        raise ValueError("The model has no Flatten layer, so there is no row of numbers to explain.")
    return found[0]


def _view(model):
    """One traced keras.Model that returns the Flatten output and every Dense layer's output."""
    import keras

    if model not in _views:
        flatten, dense = _flatten(model), _dense_layers(model)
        outputs = [flatten.output] + [layer.output for layer in dense]
        _views[model] = (traced_call(keras.Model(model.inputs[0], outputs)), [layer.name for layer in dense])
    return _views[model]


def dense_layer_names(model) -> list[str]:
    """The model's Dense layers, in order (the last one is the output layer)."""
    return [layer.name for layer in _dense_layers(model)]


def dense_activations(model, image) -> DenseActivations:
    """The Flatten output, every Dense layer's output and the output layer's logits for one image (the model's raw
    input, e.g. 28x28 0-255), in one forward pass."""
    x = np.asarray(image, dtype=np.float32)
    expected = tuple(model.inputs[0].shape[1:])
    if x.shape != expected:
        raise ValueError(f"The model reads images of shape {expected}, not {x.shape}.")
    if not np.isfinite(x).all():
        raise ValueError("The image holds values that are not finite numbers (NaN or infinity).")
    view, names = _view(model)
    outs = [np.asarray(o, dtype=np.float64)[0] for o in view(x[None])]
    flatten = _flatten(model)
    source_shape = tuple(int(d) for d in flatten.input.shape[1:])
    dense = dict(zip(names, outs[1:], strict=True))
    last = model.get_layer(names[-1])
    kernel, bias = (np.asarray(w, dtype=np.float64) for w in last.get_weights())
    previous = outs[-2]  # the output layer reads the layer before it (dense_hidden, or flatten without one)
    logits = previous @ kernel + bias  # (classes,)
    return DenseActivations(
        source=_input_layer_name(model, flatten),
        source_shape=source_shape,  # type: ignore[arg-type]
        flat=outs[0],
        dense=dense,
        logits=logits,
        probabilities=outs[-1],
    )


def _input_layer_name(model, layer) -> str:
    index = [id(candidate) for candidate in model.layers].index(id(layer))
    return model.layers[index - 1].name if index > 0 else "input"


def _previous_values(model, acts: DenseActivations, layer: str) -> tuple[str, np.ndarray]:
    """The name and values a Dense layer reads: the flattened maps for the first, the previous Dense layer's
    output otherwise (a Dropout in between passes its input through when predicting)."""
    names = list(acts.dense)
    position = names.index(layer)
    if position == 0:
        return "flatten", acts.flat
    return names[position - 1], acts.dense[names[position - 1]]


def dense_unit(model, acts: DenseActivations, layer: str, unit: int) -> DenseUnit:
    """The arithmetic behind unit `unit` (0-based) of Dense layer `layer`, from the image's activations."""
    if layer not in acts.dense:
        raise ValueError(f"The model has no Dense layer named '{layer}' (it has {', '.join(acts.dense)}).")
    units = acts.dense[layer].shape[0]
    if not isinstance(unit, (int, np.integer)) or not 0 <= unit < units:
        raise ValueError(f"{layer} has units 1 to {units}; {unit!r} is not one of them.")
    source, inputs = _previous_values(model, acts, layer)
    keras_layer = model.get_layer(layer)
    kernel, bias = (np.asarray(w, dtype=np.float64) for w in keras_layer.get_weights())
    weights = kernel[:, unit]  # (n,)
    products = inputs * weights
    pre = float(products.sum() + bias[unit])
    activation = keras_layer.activation.__name__
    output = float(acts.dense[layer][unit])
    top = np.argsort(-np.abs(products), kind="stable")[:TOP_TERMS]
    return DenseUnit(
        layer, int(unit), source, inputs, weights, products, float(bias[unit]), pre, activation, output, top
    )


def softmax_step(logits) -> SoftmaxStep:
    """The softmax with its numbers; equal to core.maths.softmax."""
    z = np.asarray(logits, dtype=np.float64)
    shifted = z - z.max()
    exps = np.exp(shifted)
    total = float(exps.sum())
    return SoftmaxStep(z, shifted, exps, total, exps / total)


def flat_position(index: int, shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """(row, column, channel), 0-based, of entry `index` of a flattened (H, W, channels) map: Flatten reads row by
    row, and within a cell every channel in turn."""
    return tuple(int(v) for v in np.unravel_index(int(index), shape))  # type: ignore[return-value]


def _num(value: float) -> str:
    text = f"{value:.3f}"
    return "0.000" if text == "-0.000" else f"({text})" if value < 0 else text


def dense_equation(cell: DenseUnit, source_shape: tuple[int, int, int] | None = None) -> list[str]:
    """The weighted sum written out: the largest terms one by one, the rest in one line, the bias, the activation."""
    lines = []
    for i in cell.top:
        where = ""
        if cell.source == "flatten" and source_shape is not None:
            r, c, ch = flat_position(int(i), source_shape)
            where = f"  (row {r + 1}, column {c + 1}, channel {ch + 1})"
        lines.append(f"{cell.source}[{int(i) + 1}] {_num(cell.inputs[i])} × weight {_num(cell.weights[i])} = "
                     f"{cell.products[i]:.4f}{where}")  # fmt: skip
    rest = np.setdiff1d(np.arange(cell.products.size), cell.top)
    if rest.size:
        lines.append(f"+ the other {rest.size} terms together = {cell.products[rest].sum():.4f}")
    lines.append(f"sum of all {cell.products.size} terms = {cell.products.sum():.4f}")
    lines.append(f"+ bias {_num(cell.bias)} = {cell.pre_activation:.4f}")
    if cell.activation == "relu":
        lines.append(f"ReLU: max(0, {cell.pre_activation:.4f}) = {max(0.0, cell.pre_activation):.4f}")
    elif cell.activation == "softmax":
        lines.append(f"this is logit {cell.unit + 1}: the softmax below turns all of them into probabilities")
    elif cell.activation != "linear":
        lines.append(f"{cell.activation}({cell.pre_activation:.4f}) = {cell.output:.4f}")
    return lines


def check_softmax(acts: DenseActivations) -> float:
    """The largest difference between softmax(logits) recomputed here and the model's own probabilities."""
    return float(np.abs(softmax(acts.logits) - acts.probabilities).max())
