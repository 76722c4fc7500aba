"""Streams that count the bytes passing through: bytes read of an input (progress) and
bytes written to an output (the bytes-out metric)."""

from __future__ import annotations

from typing import BinaryIO

from arq_batch.kernel.ports import ObjectWriter
from arq_batch.kernel.streams import Readable


class CountingReader(Readable):
    """Passes an input stream's reads through; ``count`` is the bytes read so far."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream, self.count = stream, 0

    def read(self, size: int | None = -1) -> bytes:
        data = self._stream.read(-1 if size is None else size)
        self.count += len(data)
        return data


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
