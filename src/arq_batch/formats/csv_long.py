"""A CSV's bytes without its over-long rows, each reported as a bad row.

pyarrow's reader stops at a row longer than its block and cannot skip it. A job with a
bad-row budget reads such a file again through this filter, which passes every record
through but those longer than the limit (holding at most the limit of one in memory).
Records are found as pyarrow finds them: a line break inside quotes does not end one
(quotes in values are doubled, RFC 4180), and empty lines are not rows. It runs a Python
step per line, which only a file that has such a row pays for.
"""

from __future__ import annotations

import bisect
import io
from typing import Any

from arq_batch.formats.bad_rows import BadRow, OnBad, shown
from arq_batch.formats.csv import first_row_is_data
from arq_batch.kernel.errors import DataError

_EMPTY = (b"\n", b"\r\n")


class WithoutLongRows(io.RawIOBase):
    """The bytes of ``source`` minus its records longer than ``limit``."""

    def __init__(self, source: Any, on_bad: OnBad, limit: int) -> None:
        # ``source`` is a pyarrow stream (``formats.decompressed``): a raw stream already.
        self._lines = io.BufferedReader(source, buffer_size=1 << 20)
        self._on_bad, self._limit = on_bad, limit
        self._out = bytearray()
        self._row = -1  # the next record's data row (-1: not yet known if it is a header)
        self._removed: list[int] = []  # removed rows' data rows, in order
        self._ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while len(self._out) < len(buffer) and not self._ended:
            self._next_record()
        size = min(len(buffer), len(self._out))
        buffer[:size] = self._out[:size]
        del self._out[:size]
        return size

    def true_row(self, kept: int) -> int:
        """The input's row of the ``kept``-th data row that passed through."""
        shifted = [r - i for i, r in enumerate(self._removed)]
        return kept + bisect.bisect_right(shifted, kept)

    def _next_record(self) -> None:
        record, size, quotes = bytearray(), 0, 0
        while True:
            piece = self._lines.readline(self._limit + 1)
            if not piece:
                self._ended = True
                break
            size += len(piece)
            quotes += piece.count(b'"')
            if size <= self._limit:
                record += piece
            elif len(record) < self._limit:  # keep the first limit bytes, for the report
                record += piece[: self._limit - len(record)]
            if piece.endswith(b"\n") and quotes % 2 == 0:
                break
        if not size:
            return
        if bytes(record) in _EMPTY:
            self._out += record
            return
        if self._row < 0:  # the first record: a header unless it is numbers only
            if size > self._limit:
                raise DataError(f"the header or first row is longer than {self._limit:,} bytes")
            text = bytes(record).decode("utf-8-sig", errors="replace")
            self._row = 0 if first_row_is_data(text) else -2
        self._emit(record, size)

    def _emit(self, record: bytearray, size: int) -> None:
        if self._row == -2:  # the header: passed through, not a data row
            self._out += record
            self._row = 0
            return
        if size > self._limit:
            self._removed.append(self._row)
            self._on_bad(BadRow(self._row, None, shown(bytes(record[:1000])),
                                f"the row is {size:,} bytes, longer than the "
                                f"{self._limit:,} a row may hold"))
        else:
            self._out += record
        self._row += 1

