"""gzip and zstd for outputs, compressed on a thread of their own."""

from __future__ import annotations

import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from arq_batch.kernel.ports import ObjectWriter

CODECS = ("gzip", "zstd")


class Packer(Protocol):
    """An incremental compressor: zlib's and zstandard's compress objects both are one."""

    def compress(self, data: bytes) -> bytes: ...
    def flush(self) -> bytes: ...


def packer(codec: str, level: int) -> Packer:
    """A fresh compressor for one output."""
    if codec == "zstd":
        import zstandard  # only jobs that write .zst need it

        return zstandard.ZstdCompressor(level=level).compressobj()
    return zlib.compressobj(level, zlib.DEFLATED, 31)  # 31: gzip header and trailer


class CompressingWriter:
    """An ObjectWriter that compresses into another one.

    zlib and zstandard release the GIL while they compress, so on a second core
    compression overlaps parsing and scoring instead of adding to them. At most ``AHEAD``
    chunks wait for the compressor, which bounds memory.
    """

    AHEAD = 4

    def __init__(self, target: ObjectWriter, codec: str, level: int) -> None:
        self._target = target
        self._packer = packer(codec, level)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=codec)
        self._pending: deque[Future[None]] = deque()

    def write(self, data: bytes) -> int:
        while len(self._pending) >= self.AHEAD:
            self._pending.popleft().result()  # re-raises the target's error, if any
        self._pending.append(self._thread.submit(self._pack, data))
        return len(data)

    def close(self) -> None:
        try:
            while self._pending:
                self._pending.popleft().result()
            self._target.write(self._packer.flush())
        finally:
            self._thread.shutdown()
        self._target.close()

    def abort(self) -> None:
        # The chunk being packed finishes first, so nothing reaches the target after abort.
        self._thread.shutdown(wait=True, cancel_futures=True)
        self._target.abort()

    def _pack(self, data: bytes) -> None:
        self._target.write(self._packer.compress(data))
