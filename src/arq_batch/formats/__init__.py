"""File formats as streams of Arrow record batches: CSV, Parquet, JSON Lines, RecordIO-protobuf;
gzip or zstd.

Readers take a byte stream (Parquet: a seekable file) and yield batches; writers take
batches and push bytes into an ObjectWriter. Nothing touches the local disk. One module
per format; this one detects the format and dispatches to it.

May import: the kernel and ``arq_batch.formats``; pyarrow, zstandard and (RecordIO only)
protobuf.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, BinaryIO, Protocol

import pyarrow as pa

from arq_batch.formats import csv, jsonl, jsonl_writer, parquet
from arq_batch.formats.bad_rows import OnBad
from arq_batch.formats.jsonl import Wanted
from arq_batch.formats.sink import sink_for
from arq_batch.kernel.errors import ArqError, DataError
from arq_batch.kernel.ports import ObjectWriter


class Kind(StrEnum):
    """A file format: the name it has in options, output suffixes and messages."""

    CSV = "csv"
    JSONL = "jsonl"
    PARQUET = "parquet"
    RECORDIO = "recordio"


_KINDS = {".csv": Kind.CSV, ".parquet": Kind.PARQUET, ".pq": Kind.PARQUET,
          ".jsonl": Kind.JSONL, ".ndjson": Kind.JSONL, ".json": Kind.JSONL,
          ".recordio": Kind.RECORDIO, ".pbr": Kind.RECORDIO}
_COMPRESSIONS = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}


@dataclass(frozen=True)
class FileFormat:
    """How a file is encoded; the output of a job uses the same format as its input."""

    kind: Kind
    compression: str = ""  # "" | "gzip" | "zstd"

    @property
    def suffix(self) -> str:
        """The file name ending of this format, as an output name gets it."""
        ending = {"gzip": ".gz", "zstd": ".zst"}.get(self.compression, "")
        return f".{self.kind}{ending}"


def detect(name: str) -> FileFormat:
    """The format from the file name; anything unrecognised is read as CSV."""
    stem = name.lower()
    last = stem[stem.rfind("."):] if "." in stem else ""
    compression = _COMPRESSIONS.get(last, "")
    if compression:
        stem = stem[: -len(last)]
    suffix = stem[stem.rfind("."):] if "." in stem else ""
    return FileFormat(_KINDS.get(suffix, Kind.CSV), compression)


def renamed(name: str, old: FileFormat, new: FileFormat) -> str:
    """``name`` with ``old``'s endings (as far as it has them) replaced by ``new``'s."""
    if old == new:
        return name
    stem = name
    compression = stem[stem.rfind("."):].lower()
    if old.compression and _COMPRESSIONS.get(compression) == old.compression:
        stem = stem[: -len(compression)]
    dot = stem.rfind(".")
    if dot > 0 and _KINDS.get(stem[dot:].lower()) == old.kind:
        stem = stem[:dot]
    return stem + new.suffix


class BatchWriter(Protocol):
    """Accepts record batches, then finishes the file on ``close``."""

    def write(self, batch: pa.RecordBatch) -> None: ...
    def close(self) -> None: ...


def read_batches(
    fmt: FileFormat, open_stream: Callable[[], BinaryIO], open_seekable: Callable[[], BinaryIO],
    batch_rows: int, wanted: Wanted | None = None, features: Sequence[str] = (),
    row_groups: tuple[int, int] | None = None, on_bad: OnBad | None = None,
) -> Iterator[pa.RecordBatch]:
    """Yield the input's record batches; DataError for anything unreadable.

    ``wanted`` names the columns the job reads; JSON Lines parses only those (the other
    formats read every column, which their writers need). RecordIO records carry numbers
    without names: ``features`` (model.json's order) names them. ``row_groups`` limits a
    Parquet read to a range of its row groups (a split job's part). With ``on_bad``, rows
    that cannot be read are reported to it and left out (``bad_rows``); a CSV may then
    be opened twice (``csv.read``)."""
    try:
        if fmt.kind == Kind.PARQUET:
            if fmt.compression:
                raise DataError(f"{fmt.compression}-wrapped Parquet is not supported; "
                                "Parquet compresses itself")
            yield from parquet.read(open_seekable(), batch_rows, row_groups)
            return
        if fmt.kind == Kind.CSV:
            yield from csv.read(lambda: decompressed(fmt, open_stream()), on_bad)
        elif fmt.kind == Kind.RECORDIO:
            from arq_batch.formats import recordio  # protobuf: only for RecordIO jobs

            yield from recordio.read(decompressed(fmt, open_stream()), features, batch_rows,
                                     on_bad)
        else:
            yield from jsonl.read(decompressed(fmt, open_stream()), wanted or Wanted(), on_bad)
    except ArqError:
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(_describe(fmt, exc)) from exc


def decompressed(fmt: FileFormat, stream: BinaryIO) -> Any:
    """A raw input stream as the bytes of its format (gzip and zstd undone)."""
    source: Any = pa.PythonFile(stream, mode="r")
    return pa.CompressedInputStream(source, fmt.compression) if fmt.compression else source


def _describe(fmt: FileFormat, exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    words = ("zlib", "gzip", "inflate", "compress", "zstd", "frame")
    if fmt.compression and any(w in text.lower() for w in words):
        return f"unreadable {fmt.compression} compression: {text}"
    return f"cannot read {fmt.kind.upper()}: {text}"


def open_writer(fmt: FileFormat, target: ObjectWriter, schema: pa.Schema,
                classes: Sequence[object] = (), header: bool = True) -> BatchWriter:
    """A writer in ``fmt`` whose bytes go to ``target`` (which it never commits itself).

    Compression is the target's business (``compression.CompressingWriter``), not the
    format's. RecordIO gives a classifier's label as its index in ``classes``; a CSV
    writes a header row unless ``header`` is False (its input had none)."""
    sink = sink_for(target)
    if fmt.kind == Kind.RECORDIO:
        from arq_batch.formats import recordio

        return recordio.Writer(sink, classes)
    if fmt.kind == Kind.PARQUET:
        return parquet.Writer(sink, schema)
    if fmt.kind == Kind.JSONL:
        return jsonl_writer.Writer(sink)
    return csv.Writer(sink, schema, header)
