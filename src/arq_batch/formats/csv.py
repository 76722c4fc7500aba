"""CSV: every column read as text, written back unquoted unless a value needs quotes."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO, cast

import pyarrow as pa
import pyarrow.csv as pacsv

from arq_batch.formats.bad_rows import BadRow, OnBad, shown
from arq_batch.kernel.errors import DataError

# pyarrow's streaming reader runs up to 32 blocks ahead of its consumer, so the block size
# sets the read-ahead memory: 1 MB blocks held ~31 MB of input, 128 KB blocks hold 4 MB.
# Scoring and writing cost a few ms per batch whatever its size, so small blocks are
# joined back into batches of about 1 MB (measured: no slower than 1 MB blocks).
BLOCK_BYTES = 128 * 1024
BATCH_BYTES = 1024 * 1024
# A row must fit in about one block. Wide files get blocks of four times their first
# rows' length, up to this, which is also the longest row (or header) we read: a longer
# one is refused before it can take memory (a gzip bomb without line breaks, say).
MAX_BLOCK_BYTES = 16 * 1024 * 1024


HEADERLESS = {b"arq:csv": b"headerless"}  # schema metadata of a headerless file's batches


def read(open_source: Callable[[], Any], on_bad: OnBad | None = None
         ) -> Iterator[pa.RecordBatch]:
    """Record batches of a CSV stream with a header row, or of numbers without one.

    A first row of numbers only is data, not a header (SageMaker's CSV has none): its
    columns are named ``_0``, ``_1``... and the batches carry ``HEADERLESS``. With
    ``on_bad``, a line with the wrong number of fields, or longer than a row may be, is
    reported and left out.

    pyarrow's threaded reader cannot say which line was wrong (its row number is unknown
    while blocks are parsed ahead), and its serial reader is slower, so a file is read
    threaded until its first wrong line; then it is read again serially from the start,
    its rows already yielded skipped (and once more, through ``csv_long``, at a row too
    long for pyarrow). A clean file never pays for the budget."""
    yielded, mode, block = 0, "threaded", 0
    while True:
        renumber, skip = _Renumber(), yielded  # rows an earlier attempt yielded already
        try:
            for batch in _attempt(mode, open_source, on_bad, renumber, block):
                drop = min(skip, batch.num_rows)
                skip -= drop
                if drop < batch.num_rows:
                    yielded += batch.num_rows - drop
                    yield batch.slice(drop)
            return
        except pa.ArrowInvalid:
            if not renumber.needed:
                raise
            mode = "serial"
        except RowTooLong as exc:
            if on_bad is None or mode == "careful":
                raise
            mode, block = "careful", exc.block


def _attempt(mode: str, open_source: Callable[[], Any], on_bad: OnBad | None,
             renumber: _Renumber, block: int) -> Iterator[pa.RecordBatch]:
    if mode == "threaded":
        return _read(open_source(), renumber if on_bad else None)
    assert on_bad is not None
    if mode == "serial":
        return _read(open_source(), _Numbered(on_bad), threads=False)
    from arq_batch.formats.csv_long import WithoutLongRows

    source = WithoutLongRows(open_source(), on_bad, block)
    return _read(source, _Numbered(on_bad, source.true_row), threads=False, block=block)


class _Renumber:
    """The threaded reader's handler: any wrong line means "read again, serially"."""

    needed = False

    def __call__(self, row: Any) -> str:
        self.needed = True
        return "error"


class RowTooLong(DataError):
    """A row longer than the reader's block: pyarrow stops there."""

    def __init__(self, block: int) -> None:
        self.block = block
        super().__init__(f"a row is longer than {block:,} bytes, the most a row of this file "
                         f"may hold (four times its first rows, at most {MAX_BLOCK_BYTES:,})")


class _Numbered:
    """The serial reader's handler: report the wrong line, skip it. ``true_row`` maps a
    row of what pyarrow reads to the input's (the careful read leaves long rows out)."""

    def __init__(self, on_bad: OnBad, true_row: Callable[[int], int] = lambda row: row) -> None:
        self._on_bad, self._true = on_bad, true_row
        self.data_offset = 2  # pyarrow counts the header as row 1

    def __call__(self, row: Any) -> str:
        self._on_bad(BadRow(self._true(row.number - self.data_offset), None, shown(row.text),
                            f"has {row.actual_columns} fields; the header has "
                            f"{row.expected_columns}"))
        return "skip"


def _read(source: Any, handler: Any, threads: bool = True, block: int = 0
          ) -> Iterator[pa.RecordBatch]:
    head, stream = _split_head(source)
    names = next(csv.reader([head[0].decode("utf-8-sig")]), [])
    headerless = _all_numbers(names)
    if headerless:
        names = [f"_{i}" for i in range(len(names))]
        if isinstance(handler, _Numbered):
            handler.data_offset = 1
    block = block or min(MAX_BLOCK_BYTES, max(BLOCK_BYTES, 4 * max(len(line) for line in head)))
    # Every column is read as text: passthrough values come back out exactly as they went
    # in ("007" stays "007"), and the scorer parses model features itself.
    # Quoted values may hold line breaks. pyarrow's default assumes they do not and cuts
    # blocks at any line break, which broke valid files whose quoted line break fell at a
    # block boundary; allowing them cost nothing measurable on the 1M-row file.
    reader = pacsv.open_csv(
        stream, read_options=pacsv.ReadOptions(block_size=block, use_threads=threads,
                                               column_names=names if headerless else None),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=handler),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())))
    try:
        for batch in coalesce(reader, BATCH_BYTES):
            yield batch.replace_schema_metadata(HEADERLESS) if headerless else batch
    except pa.ArrowInvalid as exc:
        if "straddl" not in str(exc):
            raise
        raise RowTooLong(block) from None


def first_row_is_data(line: str) -> bool:
    """Whether a CSV's first line is data (numbers only), not a header."""
    return _all_numbers(next(csv.reader([line.rstrip("\r\n")]), []))


def _all_numbers(fields: list[str]) -> bool:
    try:
        return bool(fields) and all(math.isfinite(float(f)) for f in fields)
    except ValueError:
        return False


def is_headerless(schema: pa.Schema) -> bool:
    """Whether batches come from a CSV without a header row (their output has none)."""
    return bool(schema.metadata) and schema.metadata.get(b"arq:csv") == b"headerless"


def coalesce(batches: Iterable[pa.RecordBatch], min_bytes: int) -> Iterator[pa.RecordBatch]:
    """The same rows in batches of at least ``min_bytes`` (but the last)."""
    pending: list[pa.RecordBatch] = []
    size = 0
    for batch in batches:
        pending.append(batch)
        size += batch.nbytes
        if size >= min_bytes:
            yield pending[0] if len(pending) == 1 else pa.concat_batches(pending)
            pending, size = [], 0
    if pending:
        yield pending[0] if len(pending) == 1 else pa.concat_batches(pending)


def _split_head(source: Any) -> tuple[list[bytes], BinaryIO]:
    """The header and first data row (as far as they are there), and a stream that still
    starts with them."""
    chunks: list[bytes] = []
    size = newlines = 0
    while newlines < 2 and size <= MAX_BLOCK_BYTES:
        chunk = bytes(source.read(65_536))
        if not chunk:
            break
        chunks.append(chunk)
        size, newlines = size + len(chunk), newlines + chunk.count(b"\n")
    if newlines < 2 and size > MAX_BLOCK_BYTES:
        raise DataError(f"the header or first row is longer than {MAX_BLOCK_BYTES:,} bytes")
    data = b"".join(chunks)
    lines = [line.rstrip(b"\r") for line in data.split(b"\n", 2)[:2]]
    if not data.strip():
        raise DataError("empty file")
    return lines, cast(BinaryIO, _Prefixed(data, source))


class _Prefixed(io.RawIOBase):
    """A stream that yields ``head`` and then the rest of ``source``."""

    def __init__(self, head: bytes, source: Any) -> None:
        self._head, self._source = head, source

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._head:
            size = len(self._head) if size is None or size < 0 else size
            data, self._head = self._head[:size], self._head[size:]
            return data
        return bytes(self._source.read(size if size is not None and size >= 0 else -1))


class Writer:
    """CSV that looks like its input: no quotes unless a batch has a value that needs them.

    Every column is read as text, and pyarrow quotes all text when asked to quote "as
    needed", which inflates files; its "none" style refuses values with a delimiter,
    quote or newline, so those batches fall back to quoting. Both are valid RFC 4180.
    """

    def __init__(self, sink: Any, schema: pa.Schema, header: bool = True) -> None:
        self._sink = sink
        if header:
            line = io.StringIO()
            csv.writer(line, lineterminator="\n").writerow(schema.names)
            sink.write(line.getvalue().encode())

    def write(self, batch: pa.RecordBatch) -> None:
        if any(pa.types.is_nested(f.type) for f in batch.schema):
            batch = _nested_as_json(batch)
        try:
            self._sink.write(_block(batch, "none"))
        except pa.ArrowInvalid:
            self._sink.write(_block(batch, "needed"))

    def close(self) -> None:
        self._sink.close()


def _nested_as_json(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Lists and structs (a Parquet input's, say) as their JSON text: CSV has no nesting."""
    columns = [pa.array([None if v is None else json.dumps(v) for v in c.to_pylist()])
               if pa.types.is_nested(c.type) else c for c in batch.columns]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _block(batch: pa.RecordBatch, quoting: str) -> pa.Buffer:
    out = pa.BufferOutputStream()
    pacsv.write_csv(batch, out, pacsv.WriteOptions(include_header=False, quoting_style=quoting))
    return out.getvalue()
