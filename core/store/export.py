"""Export a model folder for TensorFlow.js. The store already writes the TF.js layers format, so an export is the
same format re-written from the validated, loaded model: one format, checked on the way out (tests load it in Node).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from core.settings import SHIPPED_MODELS_DIR
from core.store import models as store
from core.store import topology as store_topology


def tfjs_files(source: str | Path) -> tuple[dict, bytes]:
    """Load `source` through the store (every check, no code run) and return (model.json, shard bytes) for TF.js.

    Re-writing from the loaded model rather than copying bytes also normalises older or uploaded folders
    (e.g. several shards, or an int32 first-layer dtype that TF.js cannot load) into the one format.
    """
    loaded = store.load_model(source)
    # The source's metadata wins over the fresh one, so its saved_at and library versions are kept.
    return store.model_to_files(loaded.model, loaded.metadata)


def _check_outdir(source: Path, outdir: Path) -> None:
    """Refuse destinations that an atomic replace would wipe: the source, a shipped model, or a non-model folder."""
    if outdir.resolve() == source.resolve():
        raise store_topology.StoreError("The export folder must differ from the source folder.")
    if outdir.resolve().is_relative_to(SHIPPED_MODELS_DIR.resolve()):
        raise store_topology.StoreError("Exports cannot be written into the shipped models folder.")
    if outdir.exists():
        if not outdir.is_dir():
            raise store_topology.StoreError(f"{outdir} exists and is not a folder.")
        contents = {p.name for p in outdir.iterdir()}
        if contents and store.MODEL_JSON not in contents:
            raise store_topology.StoreError(
                f"{outdir} is not empty and holds no model.json; choose an empty or new folder so nothing is replaced."
            )


def export_tfjs(source: str | Path, outdir: str | Path) -> dict:
    """Write a folder that `tf.loadLayersModel` loads: model.json + group1-shard1of1.bin (atomic)."""
    if not str(outdir).strip():  # Path("") is the current folder: an empty OUTDIR must not mean "here"
        raise store_topology.StoreError("The export folder is empty: give the folder to write the TF.js model to.")
    source, outdir = Path(source), Path(outdir)
    _check_outdir(source, outdir)
    model_json, shard = tfjs_files(source)
    store.write_model_folder(outdir, model_json, shard)
    weights = model_json["weightsManifest"][0]["weights"]
    return {
        "source": str(source),
        "outdir": str(outdir),
        "files": [store.MODEL_JSON, store.SHARD_NAME],
        "layers": [layer["class_name"] for layer in model_json["modelTopology"]["config"]["layers"]],
        "tensors": len(weights),
        "bytes": len(shard),
        "load_in_tfjs": "await tf.loadLayersModel('<url of the folder>/model.json')",
    }


def tfjs_zip(source: str | Path) -> bytes:
    """The export of a model folder as a zip (model.json + shard at the top level), for a download button."""
    return _zip(*tfjs_files(source))


def tfjs_zip_from_model(model, metadata: dict | None = None) -> bytes:
    """The same zip for a model already loaded and checked (e.g. an uploaded one that passed every check)."""
    return _zip(*store.model_to_files(model, metadata))


def _zip(model_json: dict, shard: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(store.MODEL_JSON, json.dumps(model_json, indent=1))
        # Stored, not deflated: float32 weights shrink by a few per cent, and deflating a 36 MB shard took 1.2 s of a
        # page request's CPU (issue 25).
        zf.writestr(store.SHARD_NAME, shard, compress_type=zipfile.ZIP_STORED)
    return buf.getvalue()


def export_cli(args) -> dict:
    """`python -m core export tfjs SOURCE OUTDIR`."""
    if args.format != "tfjs":
        raise ValueError(f"Unknown export format {args.format!r}; only 'tfjs' is supported.")
    return export_tfjs(args.source, args.outdir)


def zip_model_folder(folder: str | Path) -> bytes:
    """model.json + shards as a zip, for download."""
    folder = Path(folder)
    model_json = store.read_model_json(folder)
    buf = io.BytesIO()
    try:
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.write(folder / store.MODEL_JSON, store.MODEL_JSON)
            for group in model_json["weightsManifest"]:
                for p in group["paths"]:
                    zf.write(folder / store.check_plain_filename(p), p)
    except OSError as exc:
        missing = Path(getattr(exc, "filename", "") or "").name or "a file"
        raise store_topology.StoreError(
            f"{folder.name} cannot be zipped: {missing} is missing or cannot be read."
        ) from None
    return buf.getvalue()
