"""The raw training input, local or in S3, read as Arrow batches in bounded memory.

CSV (plain or gzip) and Parquet. Column types are decided once, from the first block:
numbers become float64, everything else text, and every later block is read with those
types, so a column cannot change type halfway through a file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from arq_batch.engine.values import NULL_TOKENS
from arq_batch.kernel.errors import DataError, MissingObject
from arq_batch.kernel.ports import ObjectStore
from arq_batch.kernel.uris import S3Uri, is_s3

# pyarrow's streaming CSV reader reads ahead a fixed number of blocks (about 50) however
# slowly batches are consumed, so the block size sets its memory: measured on a 250 MB
# file, 8 MB blocks held ~330 MB, 2 MB ~110 MB, 1 MB ~60 MB; 2 MB parsed it in 2.2 s
# against 1.8 s for 8 MB.
BLOCK_BYTES = 2 << 20
PARQUET_BATCH_ROWS = 65536


@dataclass(frozen=True)
class RawSource:
    """Where the raw data is, what it is and how big (bytes as stored)."""

    location: str
    name: str
    size: int
    parquet: bool
    gzip: bool

    @property
    def uri(self) -> S3Uri | None:
        """The S3 URI, or None for a local file."""
        return S3Uri.parse(self.location) if is_s3(self.location) else None


def describe(data: str, store: ObjectStore) -> RawSource:
    """Find the input and its size; DataError if it is not there."""
    if is_s3(data):
        uri = S3Uri.parse(data)
        try:
            size = store.head(uri).size
        except MissingObject as exc:
            raise DataError(f"cannot read {data}: no such object") from exc
        name = uri.name
    else:
        path = Path(data)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise DataError(f"cannot read {data}: {exc.strerror}") from exc
        name = path.name
    lower = name.lower()
    return RawSource(data, name, size, lower.endswith((".parquet", ".pq")), lower.endswith(".gz"))


def batches(source: RawSource, store: ObjectStore,
            types: dict[str, pa.DataType] | None = None) -> Iterator[pa.RecordBatch]:
    """The file's rows in batches; with ``types`` given, every column is read as those."""
    if source.parquet:
        yield from (_as_numbers(b) if types else b for b in _parquet(source, store, types))
        return
    convert = pacsv.ConvertOptions(null_values=list(NULL_TOKENS), strings_can_be_null=True,
                                   column_types=types or {})
    try:
        reader = pacsv.open_csv(_stream(source, store),
                                read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
                                convert_options=convert)
        yield from (_as_numbers(b) if types else b for b in reader)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(f"cannot read the training data {source.name}: {exc}") from exc


def fixed_types(schema: pa.Schema) -> dict[str, pa.DataType]:
    """float64 for every numeric column, bool for boolean ones (read as true/false, True/
    False, 1/0 and turned into 1.0/0.0 by ``batches``), text for all others."""
    return {f.name: pa.bool_() if pa.types.is_boolean(f.type) else
            pa.float64() if _numeric(f.type) else pa.string() for f in schema}


def boolean_columns(schema: pa.Schema) -> frozenset[str]:
    """The columns read as booleans: they train as numbers 0/1, marked in the card."""
    return frozenset(f.name for f in schema if pa.types.is_boolean(f.type))


def _as_numbers(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Boolean columns as float64 0/1 (nulls stay null): one rule for every format."""
    if not any(pa.types.is_boolean(t) for t in batch.schema.types):
        return batch
    arrays = [pc.cast(c, pa.float64()) if pa.types.is_boolean(c.type) else c
              for c in batch.columns]
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def first_schema(source: RawSource, store: ObjectStore) -> pa.Schema:
    """The types inferred from the first block."""
    for batch in batches(source, store):
        return batch.schema
    raise DataError(f"the training data {source.name} has no rows")


def _numeric(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind)
                or pa.types.is_boolean(kind) or pa.types.is_decimal(kind))


def _stream(source: RawSource, store: ObjectStore) -> Any:
    uri = source.uri
    raw = pa.PythonFile(store.open_stream(uri), mode="r") if uri else source.location
    if uri is None and not source.gzip:
        return pa.input_stream(raw)
    return pa.CompressedInputStream(raw, "gzip") if source.gzip else raw


def _parquet(source: RawSource, store: ObjectStore,
             types: dict[str, pa.DataType] | None) -> Iterator[pa.RecordBatch]:
    uri = source.uri
    handle = store.open_seekable(uri, source.size) if uri else source.location
    try:
        for batch in pq.ParquetFile(handle).iter_batches(batch_size=PARQUET_BATCH_ROWS):
            if types:
                batch = batch.cast(pa.schema([(n, types[n]) for n in batch.schema.names]))
            yield batch
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise DataError(f"cannot read the training data {source.name}: {exc}") from exc
