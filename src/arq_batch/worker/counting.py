"""Streams that count the bytes passing through: bytes read of an input (progress) and
bytes written to an output (the bytes-out metric)."""

from __future__ import annotations

import io
from typing import BinaryIO

from arq_batch.kernel.ports import ObjectWriter


class CountingReader(io.RawIOBase):
    """Passes an input stream's reads through; ``count`` is the bytes read so far."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream, self.count = stream, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.count += len(data)
        return data

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class CountingWriter:
    """An ObjectWriter that counts the bytes written through it."""

    def __init__(self, target: ObjectWriter) -> None:
        self._target, self.count = target, 0

    def write(self, data: bytes) -> int:
        self.count += len(data)
        return self._target.write(data)

    def close(self) -> None:
        self._target.close()

    def abort(self) -> None:
        self._target.abort()
