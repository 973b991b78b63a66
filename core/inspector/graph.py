"""The layer graph of an inspection (one node per topology layer): any object with the inspection's `model_json` and
`layers` (core.inspector.inspect.Inspection)."""

from __future__ import annotations

from typing import Any

from core.store import topology as store_topology


def _layer_label(name, index: int) -> str:
    return name if isinstance(name, str) and name else f"layer {index}"


def graph_nodes(inspection: Any) -> list[dict]:
    """One node per layer of modelTopology, in order: name, class, output shape and parameter count.

    Shapes and counts come from the rebuilt Keras model (the numbers model.summary() prints); a topology that was
    refused gives no nodes, and one that could not be built gives nodes whose shape and params are None. An
    InputLayer (which Keras does not list among a Sequential model's layers) outputs its batch shape and has no weights.
    """
    topology = (inspection.model_json or {}).get("modelTopology")
    try:
        entries = store_topology.topology_layers(topology)
    except store_topology.StoreError:
        return []
    built = iter(inspection.layers)
    counted = sum(1 for e in entries if e.get("class_name") != "InputLayer") == len(inspection.layers)
    nodes = []
    for i, entry in enumerate(entries):
        config = entry["config"]
        node = {"name": _layer_label(config.get("name"), i), "class": entry["class_name"]}
        node |= {"output_shape": None, "params": None}
        if entry["class_name"] == "InputLayer":
            shape = config.get("batch_input_shape") or config.get("batch_shape")
            if isinstance(shape, list):
                node["output_shape"] = "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"
            node["params"] = 0
        elif counted:  # Keras keeps the topology's order, so the built layers pair up one to one
            row = next(built)
            node["output_shape"], node["params"] = row["output_shape"], row["params"]
        nodes.append(node)
    return nodes
