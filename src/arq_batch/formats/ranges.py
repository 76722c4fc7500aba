"""The lines of one byte range of a file, as a stream: how split jobs read CSV and JSON Lines.

A part holds the lines that start inside ``[start, end)``. Its stream begins at
``start - 1`` (the whole file for the first part), so the reader can tell whether a line
starts exactly at ``start``. A CSV whose quoted values hold line breaks cannot be cut at
line breaks; ``quotes=True`` checks every line the part hands out and raises
``SplitUnsafe`` on one whose quotes do not pair up. If every part starts on a record
boundary and none sees an unpaired quote, every line break it read ended a record, so
the next part starts on a record boundary too: by induction from the first part, a
split that raises nothing read exactly the file's records.
"""

from __future__ import annotations

import io
from typing import BinaryIO

import numpy as np

from arq_batch.kernel.errors import ArqError

CHUNK = 1024 * 1024
_QUOTE = ord('"')
_NEWLINE = ord("\n")


class SplitUnsafe(ArqError):
    """The file cannot be split by bytes (a quoted value holds a line break)."""

    kind = "split_unsafe"


class LineRange(io.RawIOBase):
    """``prefix``, then the lines of ``raw`` that start in ``[start, end)``.

    ``raw`` yields the file's bytes from ``max(0, start - 1)`` on (it may run to the end of
    the file; the reader stops early)."""

    def __init__(self, raw: BinaryIO, start: int, end: int, prefix: bytes = b"",
                 quotes: bool = False) -> None:
        self._raw, self._quotes = raw, quotes
        self._pos = max(0, start - 1)  # the file offset of the next byte of ``raw``
        self._end = end
        self._pending = bytearray(prefix)
        self._skipping = start > 0  # up to and including the line break at start - 1
        self._finished = False
        self._odd = False  # the current line has an unpaired quote so far

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending and not self._finished:
            self._advance()
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        del self._pending[:n]
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()

    def _advance(self) -> None:
        chunk = self._raw.read(CHUNK)
        if not chunk:
            self._finish(b"")
            return
        offset, self._pos = self._pos, self._pos + len(chunk)
        begin = 0
        if self._skipping:
            newline = chunk.find(b"\n")
            if newline < 0:
                return
            self._skipping, begin = False, newline + 1
            if offset + begin >= self._end:  # one line spans the whole range: no lines
                self._finish(b"")
                return
        # The part ends with the line break at or after end - 1; before that, take it all.
        last = max(begin, self._end - 1 - offset)
        newline = chunk.find(b"\n", last) if last < len(chunk) else -1
        if newline >= 0:
            self._finish(chunk[begin:newline + 1])
        else:
            self._take(chunk[begin:] if begin else chunk)

    def _finish(self, data: bytes) -> None:
        self._take(data)
        self._finished = True
        if self._quotes and self._odd:
            raise SplitUnsafe("a quoted value runs past the end of its line")

    def _take(self, data: bytes) -> None:
        if self._quotes and (self._odd or _QUOTE in data):
            self._check(data)
        self._pending += data

    def _check(self, data: bytes) -> None:
        """Quotes must pair up on every line: a line break inside quotes is unsafe."""
        codes = np.frombuffer(data, dtype=np.uint8)
        parity = (np.cumsum(codes == _QUOTE) + self._odd) % 2
        if parity[codes == _NEWLINE].any():
            raise SplitUnsafe("a quoted value holds a line break")
        self._odd = bool(parity[-1]) if len(parity) else self._odd
