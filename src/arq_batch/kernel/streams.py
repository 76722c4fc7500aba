"""Raw byte streams whose subclasses write only ``read``: for the object stores' readers
(S3's, the in-memory one's) and for the counters wrapped around them."""

from __future__ import annotations

import io
from typing import Any


class Readable(io.RawIOBase):
    """A readable raw stream; ``readinto`` (what buffered readers call) goes via ``read``."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class Seekable(Readable):
    """A readable stream of ``size`` bytes with a position (ranged reads: Parquet)."""

    def __init__(self, size: int) -> None:
        self._size, self._pos = size, 0

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _end(self, size: int | None) -> int:
        """Where a read of ``size`` bytes from the position ends (-1/None: at the end)."""
        return self._size if size is None or size < 0 else min(self._size, self._pos + size)
