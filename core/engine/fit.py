"""Does a model folder fit the page that would use it? Checked from model.json alone (no Keras): the family its
metadata names, the input shape, the layers a page reads by name, and the number of classes (or characters) it
predicts. A version that does not fit is refused with a plain reason, instead of failing deep inside a prediction."""

from __future__ import annotations

from core.engine import registry
from core.store import topology as store_topology

SHAPE_KEEPING = {"Activation", "Dropout"}  # layers that may follow the output layer without changing its size


class ModelFitError(store_topology.StoreError):
    """A model that loads but does not fit the page (or training) that would use it."""


def _shape_text(shape) -> str:
    return "(" + ", ".join("any" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def fit_problem(family: str, model_json: dict) -> str | None:
    """Why the model in `model_json` does not fit `family`'s pages, in plain words; None when it fits."""
    if family not in registry.FAMILIES:
        return f"there is no page for a {family!r} model"
    needs = registry.FAMILIES[family].needs
    meta = model_json.get("userDefinedMetadata") or {}
    if not isinstance(meta, dict):
        return "its metadata is not a JSON object"
    found = meta.get("family")
    if found is not None and found != family:
        return f"it is a {str(found)[:30]} model, not a {family} model"
    try:
        layers = store_topology.topology_layers(model_json.get("modelTopology"))
    except store_topology.StoreError as exc:
        return str(exc)
    first = layers[0]["config"]
    batch_shape = first.get("batch_input_shape") or first.get("batch_shape")
    if not isinstance(batch_shape, list) or not batch_shape:
        return "its first layer does not say what input it takes"
    shape = tuple(batch_shape[1:])
    if shape != needs.input_shape:
        return (
            f"it takes inputs of shape {_shape_text(shape)}, and this page gives it {needs.input_text}, "
            f"shape {_shape_text(needs.input_shape)}"
        )
    by_name = {entry["config"].get("name"): entry for entry in layers}
    for name, cls in needs.layers.items():
        if name not in by_name or by_name[name]["class_name"] != cls:
            return f"it has no {cls} layer named {name!r}, which this page reads"
    out_index = next(i for i, entry in enumerate(layers) if entry["config"].get("name") == needs.output)
    after = [entry["class_name"] for entry in layers[out_index + 1 :] if entry["class_name"] not in SHAPE_KEEPING]
    if after:
        return (
            f"its output layer {needs.output!r} is followed by a {after[0]} layer, so its outputs are not the classes"
        )
    units = by_name[needs.output]["config"].get("units")
    if isinstance(units, bool) or not isinstance(units, int) or units < 1:
        return f"its output layer {needs.output!r} has no valid number of units"
    return _count_problem(needs, meta, units, by_name)


def _count_problem(needs: registry.Needs, meta: dict, units: int, by_name: dict) -> str | None:
    """The number of outputs against what the page (and the metadata) expect: the family's own check."""
    return needs.output_problem(units, meta, by_name) if needs.output_problem is not None else None


def check_model_fits(family: str, model_json: dict) -> None:
    """Raise ModelFitError with the plain reason when the model does not fit `family`'s pages."""
    problem = fit_problem(family, model_json)
    if problem:
        raise ModelFitError(f"It does not fit the {family} pages: {problem}.")
