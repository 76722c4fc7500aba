"""File formats as streams of Arrow record batches: CSV, Parquet, JSON Lines, optionally gzip.

Readers take a byte stream (Parquet: a seekable file) and yield batches; writers take
batches and push bytes into an ObjectWriter. Nothing touches the local disk. One module
per format; this one detects the format and dispatches to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

import pyarrow as pa

from arq_batch.core.errors import ArqError, DataError
from arq_batch.core.formats import csv, jsonl, parquet
from arq_batch.core.formats.sink import sink_for
from arq_batch.core.ports import ObjectWriter

_KINDS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl",
          ".ndjson": "jsonl", ".json": "jsonl"}


@dataclass(frozen=True)
class FileFormat:
    """How a file is encoded; the output of a job uses the same format as its input."""

    kind: str  # "csv" | "parquet" | "jsonl"
    gzip: bool = False


def detect(name: str) -> FileFormat:
    """The format from the file name; anything unrecognised is read as CSV."""
    lower = name.lower()
    gz = lower.endswith(".gz")
    stem = lower[:-3] if gz else lower
    suffix = stem[stem.rfind("."):] if "." in stem else ""
    return FileFormat(_KINDS.get(suffix, "csv"), gz)


class BatchWriter(Protocol):
    """Accepts record batches, then finishes the file on ``close``."""

    def write(self, batch: pa.RecordBatch) -> None: ...
    def close(self) -> None: ...


def read_batches(
    fmt: FileFormat, open_stream: Callable[[], BinaryIO], open_seekable: Callable[[], BinaryIO],
    batch_rows: int,
) -> Iterator[pa.RecordBatch]:
    """Yield the input's record batches; DataError for anything unreadable."""
    try:
        if fmt.kind == "parquet":
            if fmt.gzip:
                raise DataError("gzip-wrapped Parquet is not supported; Parquet compresses itself")
            yield from parquet.read(open_seekable(), batch_rows)
            return
        source: Any = pa.PythonFile(open_stream(), mode="r")
        if fmt.gzip:
            source = pa.CompressedInputStream(source, "gzip")
        yield from (csv.read(source) if fmt.kind == "csv" else jsonl.read(source))
    except ArqError:
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(_describe(fmt, exc)) from exc


def _describe(fmt: FileFormat, exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if fmt.gzip and any(w in text.lower() for w in ("zlib", "gzip", "inflate", "compress")):
        return f"unreadable gzip compression: {text}"
    return f"cannot read {fmt.kind.upper()}: {text}"


def open_writer(fmt: FileFormat, target: ObjectWriter, schema: pa.Schema) -> BatchWriter:
    """A writer in ``fmt`` whose bytes go to ``target`` (which it never commits itself).

    Compression is the target's business (``compression.GzipWriter``), not the format's."""
    sink = sink_for(target)
    if fmt.kind == "parquet":
        return parquet.Writer(sink, schema)
    if fmt.kind == "jsonl":
        return jsonl.Writer(sink)
    return csv.Writer(sink, schema)
