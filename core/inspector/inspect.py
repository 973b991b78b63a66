"""The model inspector: read a store folder (or an uploaded model.json + .bin) layer by layer and byte by byte.

Everything goes through core.store's validation first, so a hostile file is reported in the checklist and never
runs code. Layers, explicit-vs-default config, the manifest as a byte map, hex dumps, checks, and version diffs.
"""

from __future__ import annotations

import json
import logging
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.engine import registry
from core.inspector import cost as inspect_cost
from core.inspector.config import (
    ConfigValue,
    config_flags,
    explain_initializers,
)
from core.inspector.graph import _layer_label
from core.inspector.values import diff_arrays
from core.settings import SHIPPED_MODELS_DIR, get_settings
from core.store import access, export
from core.store import models as store
from core.store import topology as store_topology
from core.store.shards import ShardedBytes

PASS, FAIL, SKIPPED = "pass", "fail", "skipped"
log = logging.getLogger(__name__)
STRUCT_CODES = {"float32": "<f", "int32": "<i"}  # little-endian, as the TF.js layers format stores tensors


# ---------------------------------------------------------------- the raw files


@dataclass
class ModelFiles:
    """The bytes of one model: model.json and the shard files that were found, by file name."""

    label: str
    model_json_bytes: bytes
    shards: dict[str, bytes] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    shard_sizes: dict[str, int] = field(default_factory=dict)  # sizes on disk, also of files left unread

    def sizes(self) -> dict[str, int]:
        """Every weights file's size in bytes: the ones read, and the ones only measured on disk."""
        return {**self.shard_sizes, **{name: len(data) for name, data in self.shards.items()}}


def _max_bytes(limit_mb: float) -> int:
    return int(limit_mb * 2**20)


def read_folder_files(folder: str | Path) -> ModelFiles:
    """Read model.json and every shard it names (plain file names only, size-capped); missing folder → StoreError."""
    folder = Path(folder)
    store.recover_folder(folder)
    if not folder.is_dir():
        raise store_topology.StoreError(f"There is no model folder at {folder}.")
    json_path = folder / store.MODEL_JSON
    if not json_path.is_file():
        raise store_topology.StoreError(f"{folder.name} has no {store.MODEL_JSON}.")
    limit = _max_bytes(get_settings().max_model_mb)
    if json_path.stat().st_size > limit:
        raise store_topology.StoreError(f"{store.MODEL_JSON} is over the {get_settings().max_model_mb:g} MB limit.")
    files = ModelFiles(folder.name, json_path.read_bytes())
    names = [name for name in _manifest_paths(files.model_json_bytes) if (folder / name).is_file()]
    files.shard_sizes = {name: (folder / name).stat().st_size for name in names}
    try:  # counted before any .bin is read; inspect_files reports the same refusal as its first check
        inspect_cost.inspect_cost(files.model_json_bytes, files.shard_sizes)
    except store_topology.StoreError:
        return files
    for name in names:
        if files.shard_sizes[name] > limit:
            files.notes.append(f"{name} is over the {get_settings().max_model_mb:g} MB limit and was not read.")
            continue
        files.shards[name] = (folder / name).read_bytes()
    return files


def files_from_uploads(json_bytes: bytes, shards: dict[str, bytes], label: str = "upload") -> ModelFiles:
    """Uploaded model.json + .bin files. Each must fit under max_upload_mb; a single .bin stands in for a single path."""
    limit_mb = get_settings().max_upload_mb
    for name, data in [(store.MODEL_JSON, json_bytes), *shards.items()]:
        if len(data) > _max_bytes(limit_mb):
            raise store_topology.StoreError(
                f"{name} is {len(data) / 2**20:.1f} MB, over the {limit_mb:g} MB upload limit."
            )
    files = ModelFiles(label, json_bytes, {})
    for name, data in shards.items():
        files.shards[Path(name).name] = data  # only the base name: an upload never picks a folder
    try:  # counted before model.json is parsed (issue 25: parsing an 85,000-entry file twice was 0.5 s of a request)
        inspect_cost.inspect_cost(json_bytes, files.sizes())
    except store_topology.StoreError:
        return files  # inspect_files reports the same refusal as its first check
    paths = _manifest_paths(json_bytes)
    if len(paths) == 1 and len(shards) == 1 and paths[0] not in files.shards:
        (uploaded,) = files.shards
        files.notes.append(f"The uploaded {uploaded} is read as {paths[0]}, the one weights file model.json names.")
        files.shards = {paths[0]: files.shards[uploaded]}
    return files


def _manifest_paths(model_json_bytes: bytes) -> list[str]:
    """Shard names a model.json mentions that are safe plain file names (the checks report the unsafe ones)."""
    try:
        data = json.loads(model_json_bytes)
        groups = data.get("weightsManifest") if isinstance(data, dict) else None
    except (ValueError, RecursionError):  # not JSON, not UTF-8, a 5,000-digit number, or nested too deep
        return []
    names = []
    for group in groups if isinstance(groups, list) else []:
        paths = group.get("paths") if isinstance(group, dict) else None
        for p in paths if isinstance(paths, list) else []:  # a malformed manifest is reported by the checks
            try:
                names.append(store.check_plain_filename(p))
            except store_topology.StoreError:
                continue
    return names


# ---------------------------------------------------------------- the inspection


@dataclass(frozen=True)
class Check:
    title: str
    status: str  # PASS, FAIL or SKIPPED
    detail: str

    def to_json(self) -> dict:
        return {"check": self.title, "status": self.status, "detail": self.detail}


@dataclass
class Inspection:
    label: str
    checks: list[Check] = field(default_factory=list)
    model_json: dict | None = None
    layers: list[dict] = field(default_factory=list)  # name, class, output_shape, params
    configs: dict[str, list[ConfigValue]] = field(default_factory=dict)
    initializers: list[dict] = field(default_factory=list)
    entries: list[store.ManifestEntry] = field(default_factory=list)
    manifest: list[dict] = field(default_factory=list)
    group_bytes: dict[str, ShardedBytes] = field(default_factory=dict, repr=False)  # views of the files, unjoined
    arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # views, joined only across files
    model: object = None  # the Keras model with these weights, only when every check passed
    notes: list[str] = field(default_factory=list)
    cost: inspect_cost.InspectCost | None = None  # what this inspection and its charts cost, if within the caps

    @property
    def ok(self) -> bool:
        return all(c.status == PASS for c in self.checks)

    def to_json(self) -> dict:
        return {
            "label": self.label,
            "ok": self.ok,
            "checks": [c.to_json() for c in self.checks],
            "layers": self.layers,
            "config": {
                layer: {v.key: {"value": v.value, "source": v.source} for v in values}
                for layer, values in self.configs.items()
            },
            "initializers": self.initializers,
            "manifest": self.manifest,
            "notes": self.notes,
        }


CHECK_TITLES = [
    "the file is within this server's inspection limits (JSON objects, layers, tensors, files and bytes, counted "
    "before anything is read)",
    "model.json is JSON with the layers-model keys",
    "every layer class is allowed (no Lambda, nothing that runs code)",
    "the layers' declared size is within this server's limits, and their options are ones Keras accepts",
    "the model can be rebuilt from its layers",
    "the weights manifest is well formed (plain file names, supported dtypes, no tensor listed twice)",
    "every weights file the manifest names is present",
    "the manifest's byte total equals the shard file sizes",
    "every weight is a finite number (no NaN or infinity)",
    "every manifest entry matches a topology weight by name, shape and dtype (the dtype the layer computes in)",
    "the params counted from the topology equal the manifest's elements",
    "the Keras model loads these weights",
]
INTERNAL_ERROR = "the inspector read the files without an internal error"


def inspect_files(files: ModelFiles) -> Inspection:
    """Run every check in order; a failure is explained and the checks that depend on it are skipped.

    Whatever the files hold, this returns an Inspection: an unexpected error becomes a failed check (logged with
    its traceback for the server's log), so a file that trips the inspector is never reported healthy.
    """
    try:
        return _inspect_files(files)
    except Exception as exc:  # the boundary: every expected problem is a StoreError inside, so this is a bug
        log.exception("inspecting %s failed unexpectedly", files.label)
        result = Inspection(files.label, notes=list(files.notes))
        result.checks.append(
            Check(INTERNAL_ERROR, FAIL, f"The inspector could not read this file ({type(exc).__name__}).")
        )
        return result


def _inspect_files(files: ModelFiles) -> Inspection:
    result = Inspection(files.label, notes=list(files.notes))
    add = result.checks.append

    def skip_rest(titles: list[str], reason: str) -> Inspection:
        for title in titles:
            add(Check(title, SKIPPED, f"Not checked: {reason}"))
        return result

    try:
        result.cost = inspect_cost.inspect_cost(files.model_json_bytes, files.sizes())
        cost = result.cost
        add(
            Check(
                CHECK_TITLES[0],
                PASS,
                f"{cost.json_objects:,} JSON objects and lists, {cost.layers:,} layers, {cost.entries:,} tensors in "
                f"{cost.files:,} file(s), {cost.shard_bytes:,} bytes of weights.",
            )
        )
    except store_topology.StoreError as exc:
        add(Check(CHECK_TITLES[0], FAIL, str(exc)))
        return skip_rest(CHECK_TITLES[1:], "the file is over this server's limits, so nothing in it was read.")

    titles = CHECK_TITLES[1:]  # the checks below number from model.json's own
    try:
        model_json = store.parse_model_json(files.model_json_bytes)
        result.model_json = model_json
        add(Check(titles[0], PASS, "format is 'layers-model'; modelTopology and weightsManifest are present."))
    except store_topology.StoreError as exc:
        add(Check(titles[0], FAIL, str(exc)))
        return skip_rest(titles[1:], "model.json could not be read.")

    # The weights are read (as views of the files) before the model is built, so its variables are created holding
    # them: no zeros, no assign copy. The checks below still judge the manifest and the files in their own order.
    entries, group_bytes, arrays = _weights_of(model_json, files)
    initial = store_topology.InitialWeights(arrays)
    model = None
    try:
        topology = store_topology.topology_layers(model_json["modelTopology"])
        add(Check(titles[1], PASS, f"{len(topology)} layers, all on the allowlist."))
    except store_topology.StoreError as exc:
        add(Check(titles[1], FAIL, str(exc)))
        skip_rest(titles[2:4], "the layers were refused, so nothing was built.")
        topology = None
    if topology is not None:
        try:
            first = topology[0]["config"]
            batch_shape = first.get("batch_input_shape") or first.get("batch_shape")
            if not isinstance(batch_shape, list) or not batch_shape:
                raise store_topology.StoreError("The first layer needs a valid batch_input_shape, such as [null, 3].")
            cost = store_topology.check_cost(store_topology.estimate_cost(topology, batch_shape))
            add(
                Check(
                    titles[2],
                    PASS,
                    f"{cost.layers} layers, {cost.params:,} parameters, at most {cost.largest_output:,} values out of "
                    "any layer per sample.",
                )
            )
        except store_topology.StoreError as exc:
            add(Check(titles[2], FAIL, str(exc)))
            skip_rest(titles[3:4], "building it would cost more than this server allows, or Keras would refuse it.")
            topology = None
    if topology is not None:
        try:
            model = store_topology.build_model_from_topology(model_json["modelTopology"], initial=initial)
            add(Check(titles[3], PASS, f"Rebuilt a Sequential model with {model.count_params():,} parameters."))
            result.layers = layer_table(model)
        except store_topology.StoreError as exc:
            add(Check(titles[3], FAIL, str(exc)))
        result.configs = {
            _layer_label(entry["config"].get("name"), i): config_flags(entry) for i, entry in enumerate(topology)
        }
        result.initializers = explain_initializers(topology, model)

    try:
        result.entries = store.manifest_entries(model_json)
        add(
            Check(
                titles[4],
                PASS,
                f"{len(result.entries)} tensors, every path a plain file name, dtypes supported, names unique.",
            )
        )
    except store_topology.StoreError as exc:
        add(Check(titles[4], FAIL, str(exc)))
        return skip_rest(titles[5:], "the manifest is not usable.")

    groups = [store.group_key(g["paths"]) for g in model_json["weightsManifest"]]
    missing = [p for g in model_json["weightsManifest"] for p in g["paths"] if p not in files.shards]
    if missing:
        add(Check(titles[5], FAIL, f"Missing weights file(s): {', '.join(missing)}."))
    else:
        add(Check(titles[5], PASS, f"{sum(len(g['paths']) for g in model_json['weightsManifest'])} file(s) found."))
    result.group_bytes = group_bytes
    result.manifest = byte_map(result.entries, model_json, files.shards)

    problems = []
    for key in groups:
        expected = sum(e.length for e in result.entries if e.shard == key)
        if key not in result.group_bytes:
            problems.append(f"{key}: not found, so its {expected:,} bytes cannot be checked")
            continue
        actual = len(result.group_bytes[key])
        if actual < expected:
            problems.append(
                f"{key} is {actual:,} bytes but the manifest describes {expected:,}: it is truncated, "
                f"{expected - actual:,} bytes are missing"
            )
        elif actual > expected:
            problems.append(
                f"{key} is {actual:,} bytes but the manifest describes only {expected:,}: {actual - expected:,} extra "
                "bytes mean the file does not belong to this model.json"
            )
    total = sum(e.length for e in result.entries)
    add(
        Check(titles[6], FAIL, "; ".join(problems) + ".")
        if problems
        else Check(titles[6], PASS, f"{total:,} bytes described, {total:,} bytes on disk.")
    )

    result.arrays = arrays
    broken = store.non_finite_weights(result.arrays)
    add(
        Check(
            titles[7],
            FAIL,
            f"NaN or infinity (or a value beyond ±{store.MAX_ABS_WEIGHT:.0e}) in {', '.join(broken[:5])}: the model "
            "would predict nonsense.",
        )
        if broken
        else Check(titles[7], PASS, f"All {sum(a.size for a in result.arrays.values()):,} values read are finite.")
    )

    if model is None:
        return skip_rest(titles[8:], "the model could not be rebuilt from its layers.")
    expected_weights = {name: tuple(v.shape) for name, v in store.named_weights(model)}
    manifest_weights = {e.name: e.shape for e in result.entries}
    manifest_dtypes = {e.name: e.dtype for e in result.entries}
    mismatches = [f"{n} is missing from the manifest" for n in expected_weights if n not in manifest_weights]
    mismatches += [
        f"{n} is in the manifest but no layer has such a weight" for n in manifest_weights if n not in expected_weights
    ]
    mismatches += [
        f"{n} has shape {list(manifest_weights[n])} in the manifest but {list(s)} in the topology"
        for n, s in expected_weights.items()
        if n in manifest_weights and manifest_weights[n] != s
    ]
    mismatches += dtype_mismatches(model, manifest_dtypes)
    add(
        Check(titles[8], FAIL, "; ".join(mismatches) + ".")
        if mismatches
        else Check(titles[8], PASS, f"All {len(expected_weights)} weights match by name, shape and dtype.")
    )

    params = int(model.count_params())
    elements = sum(e.elements for e in result.entries)
    add(
        Check(titles[9], PASS, f"{params:,} parameters = {elements:,} elements.")
        if params == elements
        else Check(
            titles[9], FAIL, f"The topology has {params:,} parameters but the manifest holds {elements:,} elements."
        )
    )

    if any(c.status != PASS for c in result.checks):
        return skip_rest(titles[10:], "an earlier check failed.")
    for name, variable in store.named_weights(model):
        if name not in initial.served:  # created from the file already, or set now (no astype: dtypes checked)
            variable.assign(np.asarray(result.arrays[name], dtype=variable.dtype))
    result.model = model
    add(Check(titles[10], PASS, "Every weight was set from the file; the values below are read back from Keras."))
    return result


def _weights_of(model_json: dict, files: ModelFiles) -> tuple[list, dict[str, ShardedBytes], dict[str, np.ndarray]]:
    """The manifest's entries, each complete group's files (unjoined) and every tensor whose bytes are all there as an
    array (a view of its file; joined only across a file boundary). An unusable manifest gives none: its check says
    why."""
    try:
        entries = store.manifest_entries(model_json)
    except store_topology.StoreError:
        return [], {}, {}
    group_bytes = {
        store.group_key(g["paths"]): ShardedBytes([files.shards[p] for p in g["paths"]])
        for g in model_json["weightsManifest"]
        if all(p in files.shards for p in g["paths"])
    }
    arrays = {}
    for e in entries:
        data = group_bytes.get(e.shard)
        if data is not None and e.offset + e.length <= len(data):
            raw = data[e.offset : e.offset + e.length]
            arrays[e.name] = np.frombuffer(raw, dtype=store_topology.DTYPES[e.dtype]).reshape(e.shape)
    return entries, group_bytes, arrays


def dtype_mismatches(model, manifest_dtypes: dict[str, str]) -> list[str]:
    """A sentence for every tensor whose manifest dtype is not the one its layer reads it as (every allowlisted layer
    computes in float32): int32 bytes of a kernel would be read as whole numbers, not the weights that were saved."""
    out = []
    for layer in model.layers:
        for variable in layer.weights:
            name = f"{layer.name}/{variable.name}"
            declared, wanted = manifest_dtypes.get(name), str(variable.dtype)
            if declared is not None and declared != wanted:
                out.append(
                    f"{name} is {declared} in the manifest, but the {layer.__class__.__name__} layer {layer.name} "
                    f"reads its {variable.name} as {wanted}, so its bytes would not be the weights that were saved "
                    "(the same four bytes are 0.5 as float32 and 1,056,964,608 as int32)"
                )
    return out


def inspect_folder(folder: str | Path) -> Inspection:
    return inspect_files(read_folder_files(folder))


def export_metadata(model_json: dict | None) -> dict:
    """The userDefinedMetadata an export keeps: a JSON object's entries, without a `versions` or `saved_at` of the
    wrong kind (the export writes fresh ones instead). A file's metadata is never checked, so anything else (a
    number, a list) is left out rather than failing the export after every check passed."""
    metadata = (model_json or {}).get("userDefinedMetadata")
    if not isinstance(metadata, dict):
        return {}
    kept = dict(metadata)
    versions = kept.get("versions")
    if "versions" in kept and not (isinstance(versions, dict) and isinstance(versions.get("keras"), str)):
        del kept["versions"]
    if "saved_at" in kept and not isinstance(kept["saved_at"], str):
        del kept["saved_at"]
    return kept


def export_zip(inspection: Inspection) -> bytes:
    """The TF.js zip of an inspected model that passed every check (core.store.export re-writes it)."""
    if not inspection.ok or inspection.model is None:
        raise store_topology.StoreError("A model that fails its checks cannot be exported.")
    return export.tfjs_zip_from_model(inspection.model, export_metadata(inspection.model_json))


# ---------------------------------------------------------------- layers


def layer_table(model) -> list[dict]:
    """One row per layer: name, class, output shape and params, the numbers model.summary() prints."""
    rows = []
    for layer in model.layers:
        shape = tuple(layer.output.shape)
        rows.append(
            {
                "name": layer.name,
                "class": layer.__class__.__name__,
                "output_shape": "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")",
                "params": int(layer.count_params()),
            }
        )
    return rows


# ---------------------------------------------------------------- weights, bytes and values


def byte_map(entries: list[store.ManifestEntry], model_json: dict, shards: dict[str, bytes]) -> list[dict]:
    """The manifest as rows: tensor, layer, shape, dtype, the shard file holding its first byte, offsets, length."""
    sizes = {}
    for group in model_json.get("weightsManifest", []):
        sizes[store.group_key(group["paths"])] = [(p, len(shards[p]) if p in shards else None) for p in group["paths"]]
    rows = []
    for e in entries:
        shard, file_offset, start = e.shard, e.offset, 0
        for path, size in sizes.get(e.shard, []):
            shard, file_offset = path, e.offset - start
            if size is None or e.offset < start + size:
                break
            start += size
        rows.append(
            {
                "name": e.name,
                "layer": e.name.split("/")[0],
                "shape": list(e.shape),
                "dtype": e.dtype,
                "shard": shard,
                "offset": e.offset,
                "file_offset": file_offset,
                "length": e.length,
                "end": e.offset + e.length,
                "elements": e.elements,
            }
        )
    return rows


def hex_rows(inspection: Inspection, name: str, count: int = 8) -> list[dict]:
    """The first `count` values of a tensor: their bytes in hex, decoded as little-endian, beside Keras's value."""
    entry = next((e for e in inspection.entries if e.name == name), None)
    if entry is None:
        raise store_topology.StoreError(f"There is no tensor {name!r} in the manifest.")
    data = inspection.group_bytes.get(entry.shard, ShardedBytes([]))
    code = STRUCT_CODES[entry.dtype]
    keras_values = keras_flat_values(inspection, name, count)
    rows = []
    for i in range(min(count, entry.elements)):
        start = entry.offset + 4 * i
        raw = data[start : start + 4]
        if len(raw) < 4:
            break  # a truncated file: show only the bytes that exist
        # struct, not NumPy: an independent decoding of the same four bytes
        (value,) = struct.unpack(code, raw)
        rows.append(
            {
                "index": i,
                "byte_offset": start,
                "hex": " ".join(f"{b:02x}" for b in raw),
                "decoded": value,
                "keras": None if keras_values is None else keras_values[i],
            }
        )
    return rows


def keras_flat_values(inspection: Inspection, name: str, count: int) -> list[float] | None:
    """The first values of a weight read back from the loaded Keras model (row-major), or None if it did not load."""
    values = store.variable_values(inspection.model, name, 0, count)
    return None if values is None else [float(v) for v in values]


# ---------------------------------------------------------------- diff of two versions


def read_arrays(folder: str | Path) -> dict[str, np.ndarray]:
    """Every tensor of a model folder by name, via the store's own validated reader."""
    files = read_folder_files(folder)
    model_json = store.parse_model_json(files.model_json_bytes)
    return {e.name: a for e, a in store.read_weight_arrays(model_json, files.shards)}


def diff_folders(before: str | Path, after: str | Path) -> list[dict]:
    return diff_arrays(read_arrays(before), read_arrays(after))


# ---------------------------------------------------------------- which models there are


@dataclass(frozen=True)
class ModelChoice:
    label: str
    family: str
    path: Path
    shipped: bool


def model_choices(models_dir: Path | None = None, owner: str | None = None) -> list[ModelChoice]:
    """Every registered family's shipped model (core.families), any other shipped folder, then the saved versions of
    any family, newest first: with `owner` (the pages), only those core.store.access lets that owner see; without
    (the command line and its tests), every version on this machine."""

    out = [ModelChoice(f"{f.name} · shipped", f.name, f.shipped_dir(), True) for f in registry.with_shipped_model()]
    if SHIPPED_MODELS_DIR.is_dir():
        for folder in sorted(SHIPPED_MODELS_DIR.iterdir()):
            if (folder / store.MODEL_JSON).is_file() and folder.name not in registry.FAMILIES:
                out.append(ModelChoice(f"{folder.name} · shipped", folder.name, folder, True))
    base = Path(models_dir or get_settings().models_dir)
    names = {c.family for c in out} | set(registry.FAMILIES)
    names |= set(store.version_families())  # every family with a version in the database, cached here or not
    for family in sorted(names):
        try:
            if owner is None:
                found = [(v.version_id, v.path) for v in store.list_versions(family, models_dir=base)]
            else:
                found = [(r.version_id, Path(r.path)) for r in access.versions(owner, family, models_dir=base)]
        except store_topology.StoreError:  # a stray folder whose name the store would never write (e.g. 'a..b')
            continue
        for version_id, path in found:
            out.append(ModelChoice(f"{family} · {version_id}", family, path, False))
    return out


# ---------------------------------------------------------------- CLI


def inspect_cli(args) -> dict:
    """`python -m core inspect PATH`: layers, manifest, checks and explicit/default flags as one JSON object."""
    return inspect_folder(args.path).to_json()
