"""One neuron of a CNN at a time, as CNN Explainer shows it: every conv and pool layer's activations in one forward
pass, and the arithmetic behind any one cell (a conv cell's window x kernel + bias -> activation, a pool cell's max),
recomputed in NumPy from the layer's own weights so it can be checked against the layer's output."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from core.engine.traced import traced_call

_views: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> (traced view, tensor order), built once


@dataclass(frozen=True)
class Activations:
    """Every conv/pool layer's input and output for one image, each (H, W, channels), keyed by layer name."""

    inputs: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]


@dataclass(frozen=True)
class ConvCell:
    """How one output cell of a Conv2D layer is computed: sum(window * kernel) + bias, then the activation.

    Index order everywhere is (kernel row, kernel column, input channel), as in the layer's kernel."""

    layer: str
    row: int
    col: int
    filter: int
    top: int  # the window's first input row; negative where 'same' padding reaches above the input
    left: int  # the window's first input column
    window: np.ndarray  # (kh, kw, C_in) the layer's input under the kernel; 0 where it falls on the padding
    outside: np.ndarray  # (kh, kw) True where the window lies on the zero padding, outside the input
    kernel: np.ndarray  # (kh, kw, C_in) the filter's weights
    products: np.ndarray  # (kh, kw, C_in) window * kernel
    channel_sums: np.ndarray  # (C_in,) each input channel's share: products summed over the window
    bias: float
    pre_activation: float  # channel_sums.sum() + bias
    activation: str  # "relu", "linear", ...
    output: float  # activation(pre_activation): the cell's value in the layer's output


@dataclass(frozen=True)
class PoolCell:
    """How one output cell of a MaxPooling2D layer is computed: the largest value in its window of one channel."""

    layer: str
    row: int
    col: int
    channel: int
    top: int
    left: int
    window: np.ndarray  # (ph, pw) the layer's input in the window; -inf where 'same' padding lies outside
    outside: np.ndarray  # (ph, pw) True outside the input
    output: float  # window.max()
    argmax: tuple[int, int]  # where the max sits in the window


# ---------------------------------------------------------------- the forward pass: every conv and pool layer at once


def _is_conv(layer) -> bool:
    import keras

    return isinstance(layer, keras.layers.Conv2D)


def _is_pool(layer) -> bool:
    import keras

    return isinstance(layer, keras.layers.MaxPooling2D)


def explained_layers(model) -> list[str]:
    """The names of the model's Conv2D and MaxPooling2D layers, in order: the layers this module explains."""
    return [layer.name for layer in model.layers if _is_conv(layer) or _is_pool(layer)]


def layer_kind(model, layer: str) -> str:
    """ "conv" or "pool"; a ValueError for a layer this module does not explain."""
    names = explained_layers(model)
    if layer not in names:
        raise ValueError(f"The model has no conv or pool layer named '{layer}' (it has {', '.join(names) or 'none'}).")
    return "conv" if _is_conv(model.get_layer(layer)) else "pool"


def _view(model):
    """One keras.Model that returns every explained layer's input and output, built once per model."""
    import keras

    if model not in _views:
        tensors, order = [], {}
        for name in explained_layers(model):
            layer = model.get_layer(name)
            for role, tensor in (("in", layer.input), ("out", layer.output)):
                if id(tensor) not in order:  # pool_1's input is conv_1's output: computed and returned once
                    order[id(tensor)] = len(tensors)
                    tensors.append(tensor)
                order[(role, name)] = order[id(tensor)]
        # Traced: an eager call of this view cost ~5 ms of Python per stroke on the Draw page, the traced one ~1 ms.
        _views[model] = (traced_call(keras.Model(model.inputs[0], tensors)), order)
    return _views[model]


def _check_image(model, image) -> np.ndarray:
    x = np.asarray(image, dtype=np.float32)
    expected = tuple(model.inputs[0].shape[1:])
    if x.shape != expected:
        raise ValueError(f"The model reads images of shape {expected}, not {x.shape}.")
    if not np.isfinite(x).all():
        raise ValueError("The image holds values that are not finite numbers (NaN or infinity).")
    return x


def layer_activations(model, image) -> Activations:
    """Every conv/pool layer's input and output for one image (the model's raw input, e.g. 28x28 0-255), in one
    forward pass."""
    view, order = _view(model)
    outs = view(_check_image(model, image)[None])
    outs = [np.asarray(o)[0] for o in (outs if isinstance(outs, (list, tuple)) else [outs])]
    names = explained_layers(model)
    return Activations(
        inputs={n: outs[order[("in", n)]] for n in names},
        outputs={n: outs[order[("out", n)]] for n in names},
    )


def layer_outputs(model, image) -> dict[str, np.ndarray]:
    """{layer name: (H, W, channels)} for every conv and pool layer, in order, for one image."""
    return layer_activations(model, image).outputs


# ---------------------------------------------------------------- one cell's arithmetic


def _pair(value) -> tuple[int, int]:
    return (int(value), int(value)) if np.isscalar(value) else (int(value[0]), int(value[1]))


def _window_start(index: int, size: int, in_size: int, stride: int, padding: str) -> int:
    """The first input index under output cell `index`. 'same' pads as TensorFlow does: pad_total = max((out - 1) *
    stride + size - in, 0), with the smaller half before (so an even kernel gets the extra row at the end)."""
    if padding == "valid":
        return index * stride
    out_size = -(-in_size // stride)
    pad_total = max((out_size - 1) * stride + size - in_size, 0)
    return index * stride - pad_total // 2


def _check_cell(values: np.ndarray, row: int, col: int, channel: int, layer: str, what: str) -> None:
    h, w, c = values.shape
    for name, value, size in (("row", row, h), ("column", col, w), (what, channel, c)):
        if not isinstance(value, (int, np.integer)) or not 0 <= value < size:
            raise ValueError(f"{layer} has no {name} {value}: it has {size} (numbered 0 to {size - 1}).")


def _window(values: np.ndarray, top: int, left: int, height: int, width: int, fill: float):
    """values[top:top+height, left:left+width] (H, W, C) with `fill` wherever the window leaves the array."""
    h, w = values.shape[:2]
    rows, cols = np.arange(top, top + height), np.arange(left, left + width)
    inside = ((rows >= 0) & (rows < h))[:, None] & ((cols >= 0) & (cols < w))[None, :]  # (height, width)
    window = np.full((height, width, values.shape[2]), fill, dtype=np.float64)
    window[inside] = values[np.clip(rows, 0, h - 1)[:, None], np.clip(cols, 0, w - 1)[None, :]][inside]
    return window, ~inside


def _activate(layer, name: str, value: float) -> float:
    if name == "relu":
        return max(value, 0.0)
    if name == "linear":
        return value
    return float(np.asarray(layer.activation(np.array([value], np.float32)))[0])  # any other: the layer's own


def conv_cell_arithmetic(
    model, image, layer: str, row: int, col: int, filter: int, activations: Activations | None = None
) -> ConvCell:
    """The multiply-add behind output cell (row, col, filter) of Conv2D `layer` (all 0-based) for one image. Pass
    the image's `activations` to skip the forward pass."""
    conv = model.get_layer(layer) if layer in explained_layers(model) else None
    if conv is None or not _is_conv(conv):
        raise ValueError(f"The model has no convolution layer named '{layer}'.")
    if _pair(conv.dilation_rate) != (1, 1) or getattr(conv, "groups", 1) != 1 or conv.data_format != "channels_last":
        raise ValueError(f"{layer} is a dilated, grouped or channels-first convolution, which is not explained here.")
    acts = activations if activations is not None else layer_activations(model, image)
    x = np.asarray(acts.inputs[layer], dtype=np.float64)  # (H, W, C_in)
    _check_cell(acts.outputs[layer], row, col, filter, layer, "filter")
    kernel_all = np.asarray(conv.kernel, dtype=np.float64)  # (kh, kw, C_in, filters)
    kh, kw = kernel_all.shape[:2]
    (sh, sw), padding = _pair(conv.strides), conv.padding
    top = _window_start(row, kh, x.shape[0], sh, padding)
    left = _window_start(col, kw, x.shape[1], sw, padding)
    window, outside = _window(x, top, left, kh, kw, fill=0.0)  # 'same' pads with zeros
    kernel = kernel_all[:, :, :, filter]
    products = window * kernel
    channel_sums = products.sum(axis=(0, 1))
    bias = float(np.asarray(conv.bias)[filter]) if conv.use_bias else 0.0
    pre = float(channel_sums.sum()) + bias
    name = getattr(conv.activation, "__name__", "linear")
    return ConvCell(
        layer=layer,
        row=row,
        col=col,
        filter=filter,
        top=top,
        left=left,
        window=window,
        outside=outside,
        kernel=kernel,
        products=products,
        channel_sums=channel_sums,
        bias=bias,
        pre_activation=pre,
        activation=name,
        output=_activate(conv, name, pre),
    )


def pool_cell(model, image, layer: str, row: int, col: int, channel: int, activations: Activations | None = None):
    """The window and max behind output cell (row, col, channel) of MaxPooling2D `layer` (all 0-based)."""
    pool = model.get_layer(layer) if layer in explained_layers(model) else None
    if pool is None or not _is_pool(pool):
        raise ValueError(f"The model has no max-pooling layer named '{layer}'.")
    acts = activations if activations is not None else layer_activations(model, image)
    x = np.asarray(acts.inputs[layer], dtype=np.float64)  # (H, W, C)
    _check_cell(acts.outputs[layer], row, col, channel, layer, "channel")
    (ph, pw), (sh, sw) = _pair(pool.pool_size), _pair(pool.strides)
    top = _window_start(row, ph, x.shape[0], sh, pool.padding)
    left = _window_start(col, pw, x.shape[1], sw, pool.padding)
    window, outside = _window(x[:, :, channel : channel + 1], top, left, ph, pw, fill=-np.inf)
    window = window[:, :, 0]
    at = np.unravel_index(int(np.argmax(window)), window.shape)
    return PoolCell(
        layer=layer,
        row=row,
        col=col,
        channel=channel,
        top=top,
        left=left,
        window=window,
        outside=outside,
        output=float(window.max()),
        argmax=(int(at[0]), int(at[1])),
    )


def cell_arithmetic(model, activations: Activations, layer: str, row: int, col: int, channel: int):
    """A ConvCell or a PoolCell, whichever `layer` is, from an image's activations."""
    if layer_kind(model, layer) == "conv":
        return conv_cell_arithmetic(model, None, layer, row, col, channel, activations)
    return pool_cell(model, None, layer, row, col, channel, activations)


# ---------------------------------------------------------------- the arithmetic written out


def _num(value: float) -> str:
    text = f"{value:.3f}"
    return "0.000" if text == "-0.000" else f"({text})" if value < 0 else text


def conv_equation(cell: ConvCell, channel: int) -> list[str]:
    """The multiply-add written out with its numbers, one step a line: input channel `channel`'s window x kernel
    products (0-based), the sum over every input channel, the bias, the activation."""
    n_channels = cell.window.shape[2]
    window, kernel = cell.window[:, :, channel].ravel(), cell.kernel[:, :, channel].ravel()
    terms = " + ".join(f"{_num(x)}×{_num(w)}" for x, w in zip(window, kernel))
    lines = [f"input channel {channel + 1}: {terms} = {cell.channel_sums[channel]:.4f}"]
    if n_channels > 1:
        sums = " + ".join(_num(s) for s in cell.channel_sums)
        lines.append(f"sum over the {n_channels} input channels: {sums} = {cell.channel_sums.sum():.4f}")
    lines.append(f"+ bias {_num(cell.bias)} = {cell.pre_activation:.4f}")
    if cell.activation == "relu":
        lines.append(f"ReLU: max(0, {cell.pre_activation:.4f}) = {cell.output:.4f}")
    elif cell.activation != "linear":
        lines.append(f"{cell.activation}({cell.pre_activation:.4f}) = {cell.output:.4f}")
    return lines


def pool_equation(cell: PoolCell) -> str:
    values = ", ".join("outside" if out else f"{v:.4f}" for v, out in zip(cell.window.ravel(), cell.outside.ravel()))
    return f"max({values}) = {cell.output:.4f}"
