"""The inspector: a saved model.json read against its binary weights, byte by byte; the layer graph; tensor pages."""
