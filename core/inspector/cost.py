"""What inspecting a model costs, counted before any of it is done: JSON objects (from the raw bytes, unparsed), then
layers, manifest entries and weights files (from the parsed header, no entry read), the bytes the weight groups join,
and what the charts will draw. A count over its cap (core.settings) is refused in plain words (issue 25)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from core.settings import get_settings
from core.store import topology as store_topology

# The byte-map chart draws one bar per tensor; plotly costs about 1 ms a bar (3.6 s per 1,000 entries before one
# trace per layer). Past this many, the largest tensors are drawn and the chart's title says how many were left out.
BYTE_MAP_SEGMENTS = 200


@dataclass(frozen=True)
class InspectCost:
    """The work an inspection will do: every count is known before the work starts."""

    json_bytes: int
    json_objects: int  # '{' and '[' in model.json: an upper bound on the objects and lists parsing builds
    layers: int  # entries of modelTopology's layer list (0 if there is none)
    entries: int  # tensors the weights manifest lists, over all groups
    files: int  # .bin paths the manifest names, repeats counted (each repeat is joined again)
    shard_bytes: int  # bytes the weight groups join, from the files found (a file named twice counts twice)
    byte_map_segments: int  # bars the byte-map chart draws
    graph_nodes: int  # nodes of the layer graph

    @property
    def byte_map_sampled(self) -> bool:
        return self.byte_map_segments < self.entries


def _layers(data: dict) -> list:
    topology = data.get("modelTopology")
    if isinstance(topology, dict) and "model_config" in topology and "class_name" not in topology:
        topology = topology["model_config"]  # the wrapping TF.js also accepts
    config = topology.get("config") if isinstance(topology, dict) else None
    layers = config.get("layers") if isinstance(config, dict) else None
    return layers if isinstance(layers, list) else []


def _groups(data: dict) -> list[dict]:
    manifest = data.get("weightsManifest")
    return [g for g in manifest if isinstance(g, dict)] if isinstance(manifest, list) else []


def _list(group: dict, key: str) -> list:
    value = group.get(key)
    return value if isinstance(value, list) else []


def inspect_cost(json_bytes: bytes, shard_sizes: Mapping[str, int] | None = None) -> InspectCost:
    """Count what inspecting this model.json (and shards of these sizes) costs, refusing at the first count over its
    cap with a StoreError: the raw bytes are counted before parsing, and the header before any manifest entry is read.

    A file that is not JSON or lacks the layers-model keys counts as empty here: the checks explain it.
    """
    settings = get_settings()
    objects = json_bytes.count(b"{") + json_bytes.count(b"[")
    if objects > settings.max_model_json_objects:
        raise store_topology.StoreError(
            f"model.json holds {objects:,} JSON objects and lists (side by side or nested); a model file needs far "
            f"fewer, and this server reads at most {settings.max_model_json_objects:,} "
            "(MLX_MAX_MODEL_JSON_OBJECTS). Nothing in it was read."
        )
    try:
        data = json.loads(json_bytes)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, a 5,000-digit number: the first check says which
        data = None
    if not isinstance(data, dict):
        data = {}
    layers = len(_layers(data))
    if layers > settings.max_model_layers:
        raise store_topology.StoreError(
            f"modelTopology has {layers:,} layers; this server reads models of at most {settings.max_model_layers} "
            "(MLX_MAX_MODEL_LAYERS). Nothing was built or drawn."
        )
    groups = _groups(data)
    entries = sum(len(_list(g, "weights")) for g in groups)
    if entries > settings.max_manifest_entries:
        raise store_topology.StoreError(
            f"The weights manifest lists {entries:,} tensors; this server inspects at most "
            f"{settings.max_manifest_entries:,} (MLX_MAX_MANIFEST_ENTRIES), and a model of at most "
            f"{settings.max_model_layers} layers has no more than {3 * settings.max_model_layers}. No entry was read."
        )
    paths = [p for g in groups for p in _list(g, "paths")]
    if len(paths) > settings.max_weight_files:
        raise store_topology.StoreError(
            f"The weights manifest names {len(paths):,} weights files; this server reads at most "
            f"{settings.max_weight_files} (MLX_MAX_WEIGHT_FILES). No file was read."
        )
    sizes = shard_sizes or {}
    shard_bytes = sum(sizes.get(p, 0) for p in paths if isinstance(p, str))
    limit = int(settings.max_model_mb * 2**20)
    if len(json_bytes) + shard_bytes > limit:
        raise store_topology.StoreError(
            f"model.json and the weights files it names come to {(len(json_bytes) + shard_bytes) / 2**20:,.1f} MB "
            f"(a file named twice counts twice); this server inspects at most {settings.max_model_mb:g} MB "
            "(MLX_MAX_MODEL_MB)."
        )
    return InspectCost(
        json_bytes=len(json_bytes),
        json_objects=objects,
        layers=layers,
        entries=entries,
        files=len(paths),
        shard_bytes=shard_bytes,
        byte_map_segments=min(entries, BYTE_MAP_SEGMENTS),
        graph_nodes=layers,
    )
