"""The raw bytes of chosen rows, read again from the input: a quarantine file's body.

A bad row is set aside byte for byte, so the file that collects them reads exactly like
its input (CSV with its header, quoted line breaks and all) and can be fixed and sent
again. Readers do not keep every row's bytes: the rows are taken from a second read of
the input, which only a job with bad rows pays for. Rows are counted as the readers
count them: a CSV's empty lines and a JSON Lines file's blank lines are not rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from arq_batch.formats import FileFormat, Kind, decompressed
from arq_batch.formats.csv import first_row_is_data
from arq_batch.formats.jsonl_lines import line_blocks

CHUNK_BYTES = 1024 * 1024


HEADER = -1  # the row number ``raw_rows`` gives a CSV's header line
# What an empty CSV line, or a JSON Lines line that may be blank, starts with (at the
# start of a block, then after a line break).
_EMPTY = ((b"\n", b"\r\n"), (b"\n\n", b"\n\r\n"))
_BLANK = ((b"\n", b"\r", b" ", b"\t"), (b"\n\n", b"\n\r", b"\n ", b"\n\t"))


def raw_rows(fmt: FileFormat, stream: Any, rows: Sequence[int]) -> Iterator[tuple[int, bytes]]:
    """The bytes of each data row in ``rows`` (sorted), each with its line break as the
    input has it, numbered; a CSV's header line comes first, numbered ``HEADER``."""
    source = decompressed(fmt, stream)
    if fmt.kind == Kind.RECORDIO:
        from arq_batch.formats import recordio  # protobuf: only for RecordIO jobs

        chosen = set(rows)
        frames = (recordio.frame(p) for p in recordio.frames(source))
        yield from ((n, f) for n, f in enumerate(frames) if n in chosen)
        return
    blocks = line_blocks(source, CHUNK_BYTES, drop_bom=fmt.kind == Kind.JSONL)
    if fmt.kind == Kind.JSONL:  # the reader drops a byte order mark too
        yield from _records_at(blocks, list(rows), csv=False)
        return
    head = next(blocks, b"")
    first = head.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace")
    shift = 0 if first_row_is_data(first) else 1
    wanted = [0] * shift + [r + shift for r in rows]
    for number, record in _records_at(itertools.chain([head], blocks), wanted, csv=True):
        yield (number - shift) if number >= shift else HEADER, record


def _records_at(blocks: Iterator[bytes], wanted: list[int], csv: bool
                ) -> Iterator[tuple[int, bytes]]:
    """The records numbered in ``wanted`` (sorted), as the readers count them: a CSV's
    quoted line break does not end one (quotes in values are doubled, RFC 4180), blank
    lines are no record. A block of plain lines (one record each) is split at C speed and
    its wanted lines taken by index: a Python pass over every line of a 1M-row file took
    1.3 s of a job with bad rows."""
    walk = _Walk(iter(wanted), csv)
    for block in blocks:
        if walk.want is None:
            return
        plain = walk.plain_lines(block)
        yield from walk.picked(block, plain) if plain is not None else walk.records(block)
    if walk.pending and walk.number == walk.want:
        yield walk.number, walk.pending


class _Walk:
    """Where a walk through the records is: the next record's number, the one wanted."""

    def __init__(self, wanted: Iterator[int], csv: bool) -> None:
        self._wanted, self._csv = wanted, csv
        self.want, self.number, self.pending = next(wanted, None), 0, b""

    def plain_lines(self, block: bytes) -> np.ndarray | None:
        """Where each line of a block that holds one record per line ends (just past its
        line break, or at the end of the block), else None. A JSON Lines block with a
        line that starts with white space takes the careful way (it may be blank)."""
        suspects = _EMPTY if self._csv else _BLANK
        if self.pending or (self._csv and b'"' in block) or block.startswith(suspects[0]) \
                or any(s in block for s in suspects[1]):
            return None
        ends = np.flatnonzero(np.frombuffer(block, np.uint8) == 10) + 1
        return ends if block.endswith(b"\n") else np.append(ends, len(block))

    def picked(self, block: bytes, ends: np.ndarray) -> Iterator[tuple[int, bytes]]:
        """The wanted records of a plain block, by index."""
        while self.want is not None and self.want < self.number + len(ends):
            index = self.want - self.number
            yield self.want, block[int(ends[index - 1]) if index else 0:int(ends[index])]
            self.want = next(self._wanted, None)
        self.number += len(ends)

    def records(self, block: bytes) -> Iterator[tuple[int, bytes]]:
        """The wanted records that end in this block."""
        for line in _lines_of(block):
            if self.pending or (self._csv and b'"' in line):
                self.pending += line
                if self.pending.count(b'"') % 2:
                    continue
                line, self.pending = self.pending, b""
            if not (line.strip(b"\r\n") if self._csv else line.strip()):
                continue
            if self.number == self.want:
                yield self.number, line
                self.want = next(self._wanted, None)
                if self.want is None:
                    return
            self.number += 1


def _lines_of(block: bytes) -> Iterator[bytes]:
    lines = block.split(b"\n")
    last = lines.pop()
    yield from (line + b"\n" for line in lines)
    if last:
        yield last
