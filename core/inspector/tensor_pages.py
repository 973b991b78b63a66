"""Any tensor of a weights file, page by page: each value's byte offset in its .bin, its index, raw bytes and number.

Also the reverse: which tensor and value a byte offset of a .bin belongs to. Decoding uses struct, not NumPy, so the
tests can hold it against np.frombuffer and the loaded Keras weights as independent references.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np

from core.inspector.cost import inspect_cost
from core.inspector.inspect import STRUCT_CODES, ModelFiles
from core.store import models as store
from core.store import topology as store_topology
from core.store.shards import ShardedBytes

PER_PAGE = 64  # values per page: a table that fits a screen, and a page of the LSTM kernel is 256 bytes


@dataclass(frozen=True)
class WeightsFile:
    """One .bin file of a weight group: where its first byte sits in the group's concatenated bytes."""

    name: str
    group: str  # store.group_key of its group
    start: int  # offset of the file's first byte inside the group
    size: int


@dataclass(frozen=True)
class WeightsLayout:
    """Where every tensor's bytes are: the manifest's entries, the files of each group, and the bytes found."""

    entries: list[store.ManifestEntry]
    files: list[WeightsFile]  # only files that were found, in manifest order
    group_bytes: dict[str, ShardedBytes]  # only groups whose every file was found; views of the files, unjoined

    def entry(self, name: str) -> store.ManifestEntry:
        for e in self.entries:
            if e.name == name:
                return e
        raise store_topology.StoreError(f"There is no tensor {name!r} in the weights manifest.")

    def file_at(self, group: str, group_offset: int) -> WeightsFile | None:
        """The file of `group` that holds the byte at `group_offset`, if it was found."""
        for f in self.files:
            if f.group == group and f.start <= group_offset < f.start + f.size:
                return f
        return None


def weights_layout(files: ModelFiles) -> WeightsLayout:
    """Read the manifest of `files` (validated by core.store) and place each found .bin inside its group; a file over
    the inspection caps (core.inspector.cost) is refused before its manifest is read."""
    inspect_cost(files.model_json_bytes, files.sizes())
    model_json = store.parse_model_json(files.model_json_bytes)
    entries = store.manifest_entries(model_json)
    placed: list[WeightsFile] = []
    group_bytes: dict[str, ShardedBytes] = {}
    seen: set[str] = set()
    for group in model_json["weightsManifest"]:
        key = store.group_key(group["paths"])
        start, complete = 0, True
        for path in group["paths"]:
            data = files.shards.get(path)
            if data is None:
                complete = False
                break  # the files after a missing one have unknown starts
            if path not in seen:  # a file listed twice is placed where it is first listed
                placed.append(WeightsFile(path, key, start, len(data)))
                seen.add(path)
            start += len(data)
        if complete:
            group_bytes[key] = ShardedBytes([files.shards[p] for p in group["paths"]])
    return WeightsLayout(entries, placed, group_bytes)


def _layout(files: ModelFiles | WeightsLayout) -> WeightsLayout:
    return files if isinstance(files, WeightsLayout) else weights_layout(files)


def _whole_number(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise store_topology.StoreError(f"The {what} must be a whole number (got {value!r}).")
    return int(value)


def page_count(elements: int, per_page: int = PER_PAGE) -> int:
    """How many pages a tensor of `elements` values fills (an empty tensor still has one, empty, page)."""
    return max(1, math.ceil(elements / per_page))


def tensor_index(position: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The row-major index (row, col, ...) of the value at flat `position` of a tensor of `shape`."""
    return tuple(int(i) for i in np.unravel_index(position, shape)) if shape else ()


def format_index(index: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(i) for i in index) + ")"


@dataclass(frozen=True)
class TensorPage:
    """One page of a tensor's values; rows hold position, index, file, byte_offset, hex and value."""

    tensor: str
    shape: tuple[int, ...]
    dtype: str
    page: int  # 1-based
    pages: int
    per_page: int
    rows: list[dict]
    note: str = ""  # why the page holds fewer values than it should (a truncated or missing file)

    @property
    def first(self) -> int:
        """Flat position of the first value this page should show."""
        return (self.page - 1) * self.per_page


def tensor_page(
    files: ModelFiles | WeightsLayout, tensor_name: str, page: int = 1, per_page: int = PER_PAGE
) -> TensorPage:
    """Page `page` (1-based) of a tensor: every value's byte offset in its .bin, index, raw bytes in hex and number.

    The bytes are decoded little-endian as the manifest's dtype says (float32 or int32). A page past the last one, a
    page below 1 or an unknown tensor is a StoreError with a plain message; bytes missing from a truncated file end
    the page early, with a note saying so.
    """
    layout = _layout(files)
    entry = layout.entry(tensor_name)
    per_page = _whole_number(per_page, "number of values per page")
    if per_page < 1:
        raise store_topology.StoreError(f"A page must hold at least one value (got {per_page}).")
    page = _whole_number(page, "page number")
    pages = page_count(entry.elements, per_page)
    if not 1 <= page <= pages:
        raise store_topology.StoreError(
            f"Page {page} does not exist: {tensor_name} has {pages:,} page(s) of {per_page} values (1-{pages:,})."
        )
    itemsize = store_topology.DTYPES[entry.dtype].itemsize
    first = (page - 1) * per_page
    count = min(per_page, entry.elements - first)
    data = layout.group_bytes.get(entry.shard)
    if data is None:
        return TensorPage(
            tensor_name,
            entry.shape,
            entry.dtype,
            page,
            pages,
            per_page,
            [],
            f"The weights file(s) {entry.shard} of {tensor_name} were not found, so its values cannot be read.",
        )
    start = entry.offset + first * itemsize
    available = max(0, min(count, (len(data) - start) // itemsize))
    raw = data[start : start + available * itemsize]
    values = struct.unpack("<" + STRUCT_CODES[entry.dtype][1] * available, raw)
    rows = []
    for i, value in enumerate(values):
        position = first + i
        group_offset = start + i * itemsize
        file = layout.file_at(entry.shard, group_offset)
        rows.append(
            {
                "position": position,
                "index": tensor_index(position, entry.shape),
                "file": file.name if file else entry.shard,
                "byte_offset": group_offset - file.start if file else group_offset,
                "hex": raw[i * itemsize : (i + 1) * itemsize].hex(" "),
                "value": value,
            }
        )
    note = ""
    if available < count:
        note = (
            f"The weights file ends at byte {len(data):,} of {entry.shard}: values {first + available:,} to "
            f"{first + count - 1:,} of {tensor_name} are missing (the file is truncated)."
        )
    return TensorPage(tensor_name, entry.shape, entry.dtype, page, pages, per_page, rows, note)


@dataclass(frozen=True)
class Location:
    """The tensor and value that hold one byte of a .bin file."""

    file: str
    offset: int  # the byte asked for, in the file
    tensor: str
    position: int  # flat position of the value in the tensor (0-based)
    index: tuple[int, ...]
    value_start: int  # the value's first byte in the file
    value_end: int  # its last byte (inclusive)
    page: int  # 1-based, for the page size locate_offset was given

    @property
    def aligned(self) -> bool:
        return self.offset == self.value_start

    @property
    def message(self) -> str:
        where = f"value {self.position:,} of {self.tensor}, index {format_index(self.index)}"
        if self.aligned:
            return f"Offset {self.offset:,} of {self.file} is the first byte of {where}, on page {self.page:,}."
        return (
            f"Offset {self.offset:,} is not 4-byte aligned: it is inside {where} "
            f"(bytes {self.value_start:,}-{self.value_end:,} of {self.file}), on page {self.page:,}."
        )


def locate_offset(
    files: ModelFiles | WeightsLayout, offset: int, file_name: str | None = None, per_page: int = PER_PAGE
) -> Location:
    """Which tensor, value (flat position and index) and page hold byte `offset` of the .bin `file_name`.

    `file_name` defaults to the first weights file. A negative offset, one past the file's end, one in bytes the
    manifest does not describe, or an unknown file is a StoreError with a plain message; an offset that is not the
    first byte of a value still locates that value (Location.aligned is False and its message says so).
    """
    layout = _layout(files)
    offset = _whole_number(offset, "byte offset")
    per_page = _whole_number(per_page, "number of values per page")
    if per_page < 1:
        raise store_topology.StoreError(f"A page must hold at least one value (got {per_page}).")
    if not layout.files:
        raise store_topology.StoreError("No weights file was found, so there are no bytes to locate.")
    if file_name is None:
        file = layout.files[0]
    else:
        file = next((f for f in layout.files if f.name == file_name), None)
        if file is None:
            raise store_topology.StoreError(f"There is no weights file {file_name!r} among the files that were read.")
    if offset < 0:
        raise store_topology.StoreError(f"Offset {offset:,} is negative: byte offsets start at 0.")
    if offset >= file.size:
        last = f"its last byte is {file.size - 1:,}" if file.size else "it is empty"
        raise store_topology.StoreError(
            f"Offset {offset:,} is past the end of {file.name}: {last} ({file.size:,} bytes)."
        )
    group_offset = file.start + offset
    for e in layout.entries:
        if e.shard == file.group and e.offset <= group_offset < e.offset + e.length:
            itemsize = store_topology.DTYPES[e.dtype].itemsize
            position = (group_offset - e.offset) // itemsize
            value_start = e.offset + position * itemsize - file.start
            return Location(
                file.name,
                offset,
                e.name,
                position,
                tensor_index(position, e.shape),
                value_start,
                value_start + itemsize - 1,
                position // per_page + 1,
            )
    described = sum(e.length for e in layout.entries if e.shard == file.group)
    raise store_topology.StoreError(
        f"Offset {offset:,} of {file.name} belongs to no tensor: the manifest describes only the first "
        f"{described:,} bytes of {file.group}."
    )


def keras_values(model, tensor_name: str, start: int = 0, count: int | None = None) -> np.ndarray | None:
    """A weight's values start..start+count (all by default) read back from a loaded Keras model, flattened row-major;
    None if there is no such weight. A page asks for its own values only: no copy of the whole tensor."""
    if count is None:
        count = 2**62
    return store.variable_values(model, tensor_name, start, count)
