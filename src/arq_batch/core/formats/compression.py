"""gzip for outputs, compressed on a thread of its own."""

from __future__ import annotations

import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

from arq_batch.core.ports import ObjectWriter


class GzipWriter:
    """An ObjectWriter that gzips into another one.

    zlib releases the GIL while it deflates, so on a second core compression overlaps
    parsing and scoring instead of adding to them. At most ``AHEAD`` chunks wait for the
    compressor, which bounds memory.
    """

    AHEAD = 4

    def __init__(self, target: ObjectWriter, level: int) -> None:
        self._target = target
        self._packer = zlib.compressobj(level, zlib.DEFLATED, 31)  # 31: gzip header and trailer
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="gzip")
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
