"""Model store: a folder with `model.json` + `group1-shard1of1.bin` in the TensorFlow.js layers format.

The topology is written Keras-2 style, so the same folder loads in `tf.loadLayersModel`. Loading rebuilds the
Keras model from an allowlist of layer classes and never executes code. Writes are atomic (temp folder, fsync,
rename). Shipped models are read-only files; retrained versions live in the database (core.store.blobs), and their
folders under the user-models folder are a local cache of it.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import json
import math
import os
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.settings import SHIPPED_MODELS_DIR, get_settings
from core.store import blobs, leftovers
from core.store.shards import ShardedBytes
from core.store.topology import (
    DTYPES,
    MAX_ELEMENTS,
    MAX_NAME_CHARS,
    StoreError,
    _plain,
    _short,
    build_model_from_topology,
    to_tfjs_topology,
)

MODEL_JSON = "model.json"
SHARD_NAME = "group1-shard1of1.bin"
FORMAT_VERSION = "ml-explainer store 1"
REQUIRED_KEYS = ("format", "modelTopology", "weightsManifest")
VERSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass
class LoadedModel:
    model: object  # keras.Model
    metadata: dict
    path: Path
    model_json: dict = field(repr=False, default_factory=dict)


# ---------------------------------------------------------------- manifest and weights


@dataclass(frozen=True)
class ManifestEntry:
    name: str
    shape: tuple[int, ...]
    dtype: str
    shard: str
    offset: int  # byte offset inside the concatenated shards of its group
    length: int  # bytes

    @property
    def elements(self) -> int:
        return self.length // DTYPES[self.dtype].itemsize


def group_key(paths: list[str]) -> str:
    """How a weight group is named in ManifestEntry.shard: its one file, or its files joined by commas."""
    return paths[0] if len(paths) == 1 else ",".join(paths)


def named_weights(model) -> list[tuple[str, object]]:
    """(manifest name, variable) in model order, named '<layer>/<weight>' as TF.js does, e.g. 'lstm/kernel'."""
    return [(f"{layer.name}/{v.name}", v) for layer in model.layers for v in layer.weights]


def variable_values(model, name: str, start: int, count: int) -> np.ndarray | None:
    """Values start..start+count of weight `name` read back from `model` (row-major), None without such a weight;
    only those values are copied out of Keras, never the whole tensor."""
    import keras

    for weight_name, variable in named_weights(model) if model is not None else []:
        if weight_name == name:
            flat = keras.ops.reshape(variable.value, (-1,))
            return keras.ops.convert_to_numpy(flat[start : start + count])
    return None


def manifest_entries(model_json: dict) -> list[ManifestEntry]:
    """Validate weightsManifest and compute every tensor's byte offset and length (Python ints: no overflow)."""
    manifest = model_json.get("weightsManifest")
    if not isinstance(manifest, list) or not manifest:
        raise StoreError("weightsManifest must be a non-empty list of weight groups.")
    entries = []
    seen: set[str] = set()
    for g, group in enumerate(manifest):
        if (
            not isinstance(group, dict)
            or not isinstance(group.get("paths"), list)
            or not isinstance(group.get("weights"), list)
        ):
            raise StoreError(f"Weight group {g} needs 'paths' and 'weights' lists.")
        for path in group["paths"]:
            check_plain_filename(path)
        offset = 0
        for w in group["weights"]:
            if not isinstance(w, dict) or not isinstance(w.get("name"), str):
                raise StoreError(f"A weight entry in group {g} has no name.")
            if not 0 < len(w["name"]) <= MAX_NAME_CHARS:
                raise StoreError(f"A weight name in group {g} is empty or longer than {MAX_NAME_CHARS} characters.")
            if w["name"] in seen:
                raise StoreError(f"The tensor {w['name']!r} is listed twice in the weights manifest.")
            seen.add(w["name"])
            dtype = w.get("dtype", "float32")
            if not isinstance(dtype, str) or dtype not in DTYPES:
                raise StoreError(
                    f"Weight {w['name']!r} has the unsupported dtype {_short(dtype)} (supported: float32, int32)."
                )
            shape = w.get("shape")
            if not isinstance(shape, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
            ):
                raise StoreError(f"Weight {w['name']!r} has an invalid shape {_short(shape)}.")
            count = math.prod(shape) if len(shape) <= 64 else MAX_ELEMENTS + 1  # 64 dims: more than any tensor
            if count > MAX_ELEMENTS:
                raise StoreError(f"Weight {w['name']!r} claims {count:,} elements, more than any model here can hold.")
            length = count * DTYPES[dtype].itemsize
            shard = group_key(group["paths"])
            entries.append(ManifestEntry(w["name"], tuple(shape), dtype, shard, offset, length))
            offset += length
    return entries


def check_plain_filename(name: str) -> str:
    """A file name inside the model folder: no directories, no '..', no absolute paths."""
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name in {".", ".."} or "\x00" in name:
        raise StoreError(f"The weights path {name!r} must be a plain file name inside the model folder.")
    return name


def read_model_json(folder: str | Path) -> dict:
    """Parse and minimally validate model.json, with plain messages for missing or broken files."""
    folder = Path(folder)
    recover_folder(folder) or blobs.fill_cache(folder)  # a version saved elsewhere: its files from the database
    if not folder.is_dir():
        raise StoreError(f"There is no model folder at {folder}.")
    path = folder / MODEL_JSON
    if not path.is_file():
        raise StoreError(f"{folder.name} has no {MODEL_JSON}.")
    return parse_model_json(path.read_bytes())


def parse_model_json(raw: bytes | str) -> dict:
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StoreError(f"model.json is not valid JSON ({exc}); it may be truncated.") from None
    except RecursionError:  # e.g. 100,000 nested brackets: valid-looking JSON no model file needs
        raise StoreError("model.json is nested too deeply to be a model file.") from None
    except ValueError as exc:  # e.g. an integer of 5,000 digits, which Python refuses to convert
        raise StoreError(f"model.json holds a value no model file needs ({_plain(exc)}).") from None
    if not isinstance(data, dict):
        raise StoreError("model.json must hold a JSON object.")
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise StoreError(f"model.json lacks the key(s) {', '.join(missing)}.")
    if data["format"] != "layers-model":
        raise StoreError(f"model.json has format {data['format']!r}; expected 'layers-model'.")
    return data


def read_weight_arrays(model_json: dict, shard_bytes: dict[str, bytes]) -> list[tuple[ManifestEntry, np.ndarray]]:
    """Decode every tensor from the shards; the sizes must match the manifest exactly."""
    entries = manifest_entries(model_json)
    groups: dict[str, ShardedBytes] = {}
    for group in model_json["weightsManifest"]:
        key = group_key(group["paths"])
        parts = []
        for p in group["paths"]:
            if p not in shard_bytes:
                raise StoreError(f"The weights file {p} is missing.")
            parts.append(shard_bytes[p])
        groups[key] = ShardedBytes(parts)  # slices are views of the files, joined only across a file boundary
        expected = sum(e.length for e in entries if e.shard == key)
        if len(groups[key]) != expected:
            word = "shorter" if len(groups[key]) < expected else "longer"
            raise StoreError(
                f"The weights file {key} is {len(groups[key]):,} bytes, {word} than the {expected:,} bytes the "
                "manifest describes: it is truncated or does not belong to this model.json."
            )
    out = []
    for e in entries:
        buf = groups[e.shard][e.offset : e.offset + e.length]
        out.append((e, np.frombuffer(buf, dtype=DTYPES[e.dtype]).reshape(e.shape)))
    return out


def _read_shards(folder: Path, model_json: dict, max_bytes: int) -> dict[str, bytes]:
    shards = {}
    for group in model_json.get("weightsManifest", []):
        for p in group.get("paths", []):
            check_plain_filename(p)
            path = folder / p
            if not path.is_file():
                raise StoreError(f"The weights file {p} is missing from {folder.name}.")
            if path.stat().st_size > max_bytes:
                raise StoreError(f"The weights file {p} is over the {max_bytes // 2**20} MB limit.")
            shards[p] = path.read_bytes()
    return shards


MAX_ABS_WEIGHT = 1e15  # no trained network has weights near this; ones past it overflow float32 sums into NaN


CHECK_CHUNK = 2**20  # values checked at a time for NaN and infinity


def non_finite_weights(arrays: dict[str, np.ndarray]) -> list[str]:
    """'name (N of M values)' for every tensor holding NaN, ±inf or a value beyond ±MAX_ABS_WEIGHT: such a model
    predicts NaN (3.4e38 is finite, yet two of them overflow a float32 sum), so it is broken."""
    out = []
    for name, array in arrays.items():
        if array.dtype.kind == "f":
            flat, bad = array.reshape(-1), 0
            for i in range(0, flat.size, CHECK_CHUNK):  # a chunk at a time: no tensor-sized temporaries
                with np.errstate(invalid="ignore"):
                    bad += int(np.count_nonzero(~(np.abs(flat[i : i + CHECK_CHUNK]) <= MAX_ABS_WEIGHT)))
            if bad:
                out.append(f"{name} ({bad:,} of {array.size:,} values)")
    return out


def model_from_json_and_shards(model_json: dict, shard_bytes: dict[str, bytes]):
    """Rebuild the model and set every weight by name; any mismatch or a NaN/inf weight is a StoreError."""
    arrays = {e.name: a for e, a in read_weight_arrays(model_json, shard_bytes)}  # cheap checks before building
    broken = non_finite_weights(arrays)
    if broken:
        raise StoreError(
            f"Weights hold NaN, infinity or values beyond ±{MAX_ABS_WEIGHT:.0e}, so the model would predict nonsense: "
            f"{', '.join(broken[:5])}."
        )
    model = build_model_from_topology(model_json["modelTopology"])
    named = named_weights(model)
    for name, variable in named:
        if name not in arrays:
            raise StoreError(f"The weights file has no tensor for {name}.")
        if tuple(arrays[name].shape) != tuple(variable.shape):
            raise StoreError(
                f"{name} has shape {arrays[name].shape} in the weights but {tuple(variable.shape)} in the model."
            )
        if arrays[name].dtype != np.dtype(str(variable.dtype)):  # int32 bytes of a float kernel are not its weights
            raise StoreError(
                f"{name} is {arrays[name].dtype.name} in the weights manifest, but its layer reads it as "
                f"{variable.dtype}, so its bytes would not be the weights that were saved."
            )
        variable.assign(arrays[name])  # its dtype was checked just above: no astype copy
    extra = set(arrays) - {name for name, _ in named}
    if extra:
        raise StoreError(f"The weights file has tensors the model does not use: {', '.join(sorted(extra))}.")
    return model


def load_model(folder: str | Path) -> LoadedModel:
    """Load a model folder; every problem becomes a StoreError with a plain explanation."""
    folder = Path(folder)
    model_json = read_model_json(folder)
    shards = _read_shards(folder, model_json, int(get_settings().max_model_mb * 2**20))
    model = model_from_json_and_shards(model_json, shards)
    return LoadedModel(model, model_json.get("userDefinedMetadata") or {}, folder, model_json)


def load_family_model(family: str, folder: str | Path | None = None) -> LoadedModel:
    """The shipped model of `family`, or the model in `folder` once its metadata says it is of that family."""
    loaded = load_model(folder or shipped_model_dir(family))
    found = loaded.metadata.get("family", family)
    if found != family:  # else Keras fails later with only "No such layer: ..."
        raise StoreError(f"{folder} holds a {found} model, not a {family} model.")
    return loaded


def load_metadata(folder: str | Path) -> dict:
    return read_model_json(folder).get("userDefinedMetadata") or {}


# ---------------------------------------------------------------- writing


def library_versions() -> dict:
    import keras
    import tensorflow as tf

    return {"keras": keras.__version__, "tensorflow": tf.__version__, "numpy": np.__version__}


def model_to_files(model, metadata: dict | None = None) -> tuple[dict, bytes]:
    """The model.json object and the shard bytes for `model` (little-endian, in manifest order)."""
    weights, chunks = [], []
    for name, variable in named_weights(model):
        array = np.asarray(variable.numpy())
        dtype = "int32" if array.dtype.kind in "iu" else "float32"
        weights.append({"name": name, "shape": list(array.shape), "dtype": dtype})
        chunks.append(array.astype(DTYPES[dtype]).tobytes())
    meta = {"saved_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "versions": library_versions()}
    meta.update(metadata or {})
    model_json = {
        "format": "layers-model",
        "generatedBy": f"keras v{meta['versions']['keras']}",
        "convertedBy": FORMAT_VERSION,
        "modelTopology": to_tfjs_topology(model),
        "weightsManifest": [{"paths": [SHARD_NAME], "weights": weights}],
        "userDefinedMetadata": _jsonable(meta),
    }
    return model_json, b"".join(chunks)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _fsync_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def fsync_path(path: Path) -> None:
    """fsync a file or folder already written (a folder: so a rename into it lasts)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_replaceable(folder: Path) -> None:
    """Replacing removes the old folder whole, so only a model folder (model.json + .bin shards) may be replaced:
    `--out ~/Documents` must be refused, not wiped."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise StoreError(f"{folder} exists and is not a folder.")
    contents = list(folder.iterdir())
    others = sorted(p.name for p in contents if not p.is_file() or (p.name != MODEL_JSON and p.suffix != ".bin"))
    if others or (contents and not (folder / MODEL_JSON).is_file()):
        shown = ", ".join(others[:3]) + (" ..." if len(others) > 3 else "")
        raise StoreError(
            f"{folder} is not empty and is not a model folder (it holds {shown or 'files but no model.json'}); "
            "choose an empty or new folder, so nothing in it is deleted."
        )


# Tests set this to a function called with the name of each step of a replace ("exchanged", "moved-aside", ...), to
# inject a failure or a SIGKILL between the steps.
_STEP_HOOK: Callable[[str], None] | None = None
RENAME_EXCHANGE = 2  # linux/fs.h: swap two paths atomically
AT_FDCWD = -100


def _step(name: str) -> None:
    if _STEP_HOOK is not None:
        _STEP_HOOK(name)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one atomic step (Linux renameat2 RENAME_EXCHANGE); False where that is not available."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):  # not glibc/Linux
        return False
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    errno = ctypes.get_errno()
    if errno in {22, 38, 95}:  # EINVAL, ENOSYS, EOPNOTSUPP: this kernel or file system cannot exchange
        return False
    raise OSError(errno, os.strerror(errno), str(b))


def _aside_name(folder: Path) -> str:
    return f".old-{folder.name}-"


def recover_folder(folder: str | Path) -> bool:
    """Finish a replace that was killed between its two renames: the old folder is back. True if one was restored.

    Only the two-rename fallback (no RENAME_EXCHANGE) can leave `folder` missing, with the old one moved aside.
    """
    folder = Path(folder)
    if folder.exists() or not folder.parent.is_dir():
        return False
    aside = sorted(
        (p for p in folder.parent.glob(_aside_name(folder) + "*") if (p / MODEL_JSON).is_file()),
        key=lambda p: p.stat().st_mtime,
    )
    if not aside:
        return False
    try:
        os.rename(aside[-1], folder)
    except OSError:  # another process restored it first
        return folder.exists()
    return True


def write_model_folder(folder: Path, model_json: dict, shard: bytes) -> Path:
    """Atomically create or replace `folder`: write a hidden temp folder, fsync, then swap it into place.

    After any failure, or a SIGKILL at any point, `folder` is the old model or the new one, never missing or half
    written: a replace is one renameat2(RENAME_EXCHANGE); where the system lacks it, two renames with a rollback,
    and `recover_folder` (run by every read) puts the old folder back if a kill came between them.
    """
    if not str(folder).strip():  # Path("") is the current folder: an empty destination must not mean "here"
        raise StoreError("The destination folder is empty: give the folder to write the model to.")
    folder = Path(folder)
    recover_folder(folder)
    check_replaceable(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f"{leftovers.TMP_PREFIX}{folder.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    writing = leftovers.hold(tmp)  # while held, no cleaner removes the folder; a killed writer's lock goes with it
    failed = True
    try:
        _fsync_write(tmp / SHARD_NAME, shard)
        _fsync_write(tmp / MODEL_JSON, json.dumps(model_json, indent=1).encode())
        fsync_path(tmp)
        _step("written")
        if not folder.exists():
            os.rename(tmp, folder)
        elif _exchange(tmp, folder):
            _step("exchanged")  # `folder` is the new model; tmp now holds the old one
        else:
            _replace_in_two_steps(tmp, folder)
        fsync_path(folder.parent)
        failed = False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the unused new files, or the old model after an exchange
        os.close(writing)
        if failed:  # a full disk or a kill of an earlier save may have left others: free their space now
            leftovers.clean_leftovers(folder.parent)
    return folder


def _replace_in_two_steps(tmp: Path, folder: Path) -> None:
    """rename() cannot replace a non-empty folder: move the old one aside, move the new one in, roll back on error."""
    aside = folder.parent / f"{_aside_name(folder)}{uuid.uuid4().hex[:8]}"
    os.rename(folder, aside)
    try:
        _step("moved-aside")
        os.rename(tmp, folder)
    except BaseException:
        if not folder.exists():
            os.rename(aside, folder)
        raise
    try:
        _step("moved-in")
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def save_model(model, folder: str | Path, metadata: dict | None = None) -> Path:
    """Save `model` (with `metadata` in userDefinedMetadata) atomically to `folder`."""
    model_json, shard = model_to_files(model, metadata)
    return write_model_folder(Path(folder), model_json, shard)


# ---------------------------------------------------------------- shipped models and user versions


_SHIPPED_DIRS: dict[str, Path] = {}  # name -> folder, for models whose shipped folder is not saved_models/<name>


def register_shipped_dir(name: str, folder: Path) -> None:
    """Record where the shipped model called `name` lives (the engine's registry tells the store; it never asks)."""
    _SHIPPED_DIRS[name] = Path(folder)


def unregister_shipped_dir(name: str) -> None:
    _SHIPPED_DIRS.pop(name, None)


def shipped_model_dir(name: str) -> Path:
    """Where the shipped model called `name` lives: a registered folder, else saved_models/<name>."""
    return _SHIPPED_DIRS.get(name) or SHIPPED_MODELS_DIR / check_name(name, "model name")


def check_name(name: str, what: str = "name") -> str:
    """A user-supplied name that is safe as one folder name: letters, digits, '_', '.', '-'; no '..'."""
    if not isinstance(name, str) or not VERSION_NAME.match(name) or ".." in name:
        raise StoreError(
            f"The {what} {name!r} is not allowed: use 1-64 letters, digits, '_', '.' or '-', starting with a letter "
            "or digit."
        )
    return name


def _inside(base: Path, *parts: str) -> Path:
    base = base.resolve()
    path = base.joinpath(*parts).resolve()
    if not path.is_relative_to(base):
        raise StoreError("That name would leave the models folder.")
    return path


@dataclass(frozen=True)
class Version:
    family: str
    version_id: str
    path: Path
    metadata: dict

    @property
    def label(self) -> str:
        return f"{self.version_id}"


def slugify(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", text.strip()).strip("-.")[:40]
    return slug or "run"


def save_version(
    model, family: str, name: str, metadata: dict | None = None, models_dir: Path | None = None
) -> Version:
    """Save a retrained model as a new version <family>/<timestamp>-<name>: its files into the database in one
    transaction (never overwriting another), then into the local cache folder under the user-models folder."""
    check_name(family, "model name")
    check_name(name, "version name")
    base = Path(models_dir or get_settings().models_dir)
    blobs.remember_base(base)
    version_id = f"{dt.datetime.now(dt.UTC).strftime('%Y%m%d-%H%M%S')}-{name}"
    for _attempt in range(4):
        folder = _inside(base, family, version_id)
        if folder.resolve().is_relative_to(SHIPPED_MODELS_DIR.resolve()):
            raise StoreError("User versions cannot be written into the shipped models folder.")
        model_json, shard = model_to_files(model, {"family": family, "version": version_id, **(metadata or {})})
        text = json.dumps(model_json, indent=1).encode()  # the bytes write_model_folder writes
        if not folder.exists() and blobs.put_version(
            family,
            version_id,
            model_json["userDefinedMetadata"].get("owner", ""),
            model_json["userDefinedMetadata"],
            {MODEL_JSON: text, SHARD_NAME: shard},
        ):
            break
        version_id = f"{version_id[:59]}-{uuid.uuid4().hex[:4]}"  # taken (the same second, or another machine's)
    else:
        raise StoreError("No free version name was found; try again.")
    write_model_folder(folder, model_json, shard)
    return Version(family, version_id, folder, model_json["userDefinedMetadata"])


def list_versions(family: str, models_dir: Path | None = None) -> list[Version]:
    """Every stored version of a family, newest first, from the database (any process's); its folder is the local
    cache, made when it is first read."""
    base = Path(models_dir or get_settings().models_dir)
    blobs.remember_base(base)
    check_name(family, "model name")
    if (base / family).is_dir():
        leftovers.clean_leftovers_once(base / family)
    return [Version(family, vid, _inside(base, family, vid), meta) for vid, meta in blobs.version_rows(family)]


def version_families() -> list[str]:
    """Every family with a saved version (of any owner): the database's, whatever this machine has cached."""
    return blobs.families()


def version_path(family: str, version_id: str, models_dir: Path | None = None) -> Path:
    base = Path(models_dir or get_settings().models_dir)
    blobs.remember_base(base)
    return _inside(base, check_name(family, "model name"), check_name(version_id, "version"))


def delete_version(family: str, version_id: str, models_dir: Path | None = None) -> None:
    path = version_path(family, version_id, models_dir)
    if not blobs.delete_version(family, version_id):
        raise StoreError(f"There is no version {version_id!r} of {family}.")
    blobs.drop_cache(path)  # this machine's copy; another machine's cache is never listed or loaded again
