"""A weight group's .bin files read as one run of bytes without joining them: a slice inside one file is a view of
it (no copy), and only a slice that crosses a file boundary is joined, so a 36 MB model in 9 shards is never held
twice (issue 25)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence


class ShardedBytes:
    """The files of one weight group in manifest order, sliced as if they were one bytes object."""

    def __init__(self, parts: Sequence[bytes | memoryview]):
        self.parts = tuple(memoryview(p).cast("B") for p in parts)
        self.starts: list[int] = []
        total = 0
        for part in self.parts:
            self.starts.append(total)
            total += len(part)
        self.size = total

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: slice) -> memoryview | bytes:
        """`data[start:stop]` (no step): a memoryview inside one file, joined bytes across files, clipped at the end
        as bytes slicing is."""
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError("ShardedBytes takes a plain slice, data[start:stop].")
        start, stop, _ = index.indices(self.size)
        if stop <= start:
            return memoryview(b"")
        first = bisect.bisect_right(self.starts, start) - 1
        pieces = []
        at = start
        for i in range(first, len(self.parts)):
            part_start = self.starts[i]
            piece = self.parts[i][at - part_start : stop - part_start]
            pieces.append(piece)
            at += len(piece)
            if at >= stop:
                break
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def tobytes(self) -> bytes:
        return b"".join(self.parts)
