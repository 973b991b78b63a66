"""One traced (tf.function) call per Keras model or view, for the live pages: an eager Keras call costs a few ms of
Python per request, the traced one about a tenth of that, and the live pages call models on every stroke and pick."""

from __future__ import annotations

import weakref

_calls: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def traced_call(model):
    """`f(x) -> model(x, training=False)` traced once per model for any batch size; x is float32."""
    import tensorflow as tf

    if model not in _calls:
        spec = tf.TensorSpec((None, *tuple(model.inputs[0].shape[1:])), tf.float32)
        _calls[model] = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    return _calls[model]
