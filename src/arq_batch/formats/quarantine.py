"""The raw bytes of chosen rows, read again from the input: a quarantine file's body.

A bad row is set aside byte for byte, so the file that collects them reads exactly like
its input (CSV with its header, quoted line breaks and all) and can be fixed and sent
again. Readers do not keep every row's bytes: the rows are taken from a second read of
the input, which only a job with bad rows pays for. Rows are counted as the readers
count them: a CSV's empty lines and a JSON Lines file's blank lines are not rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from arq_batch.formats import FileFormat, Kind, decompressed
from arq_batch.formats.csv import first_row_is_data

CHUNK_BYTES = 1024 * 1024


HEADER = -1  # the row number ``raw_rows`` gives a CSV's header line


def raw_rows(fmt: FileFormat, stream: Any, rows: Sequence[int]) -> Iterator[tuple[int, bytes]]:
    """The bytes of each data row in ``rows`` (sorted), each with its line break as the
    input has it, numbered; a CSV's header line comes first, numbered ``HEADER``."""
    source = decompressed(fmt, stream)
    if fmt.kind == Kind.RECORDIO:
        from arq_batch.formats import recordio  # protobuf: only for RecordIO jobs

        records: Iterator[bytes] = (recordio.frame(p) for p in recordio.frames(source))
    elif fmt.kind == Kind.JSONL:
        records = _json_lines(source)
    else:
        records = _csv_records(source)
        first = next(records, b"")
        if not first_row_is_data(first.decode("utf-8-sig", errors="replace")):
            yield HEADER, first
        else:
            records = _chained(first, records)
    yield from _chosen(records, rows)


def _chosen(records: Iterator[bytes], rows: Sequence[int]) -> Iterator[tuple[int, bytes]]:
    wanted = iter(rows)
    next_row = next(wanted, None)
    for number, record in enumerate(records):
        if next_row is None:
            return
        if number == next_row:
            yield number, record
            next_row = next(wanted, None)


def _chained(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _lines(source: Any) -> Iterator[bytes]:
    """Physical lines, each with its b"\\n" (the last may have none)."""
    rest = b""
    while chunk := bytes(source.read(CHUNK_BYTES)):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            yield line + b"\n"
    if rest:
        yield rest


def _json_lines(source: Any) -> Iterator[bytes]:
    """Non-blank lines; the first without a byte order mark (the reader drops it too)."""
    first = True
    for line in _lines(source):
        if first and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        first = False
        if line.strip():
            yield line


def _csv_records(source: Any) -> Iterator[bytes]:
    """Records as pyarrow reads them (RFC 4180): a line break inside quotes does not end
    one, since quotes inside a value are doubled; empty lines are not records."""
    pending = b""
    for line in _lines(source):
        if pending or b'"' in line:
            pending += line
            if pending.count(b'"') % 2:
                continue
            line, pending = pending, b""
        if line not in (b"\n", b"\r\n"):
            yield line
    if pending:
        yield pending
