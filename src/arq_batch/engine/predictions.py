"""The predictions dataset: every scored row as Parquet with a fixed schema, for SQL.

One file per done job, written in the same pass as the job's output and committed just
before it, so a job that fails leaves neither (see ``PredictionsTap``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from arq_batch.engine.scoring import ScoredBatch
from arq_batch.formats.sink import sink_for
from arq_batch.kernel.ports import ObjectStore
from arq_batch.kernel.uris import S3Uri

# (name, Athena/Glue type) of the fixed columns; id columns (strings) go after ``row``, and
# ``run_id`` and ``dt`` come from the partition path. predicted_label is text for every
# model, so one table holds them all.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("input", "string"), ("row", "bigint"), ("predicted_label", "string"),
    ("score", "double"), ("scored_at", "timestamp"),
)
SCORED_AT = pa.timestamp("ms", tz="UTC")
# The input URI repeats on every row: a one-entry dictionary costs nothing per row, and
# Parquet stores it as text that every reader (DuckDB, Athena, Spark) sees as a string.
INPUT = pa.dictionary(pa.int32(), pa.string())


def schema(id_columns: Sequence[str]) -> pa.Schema:
    """The Parquet schema of one predictions file."""
    return pa.schema([("input", INPUT), ("row", pa.int64()),
                      *[(name, pa.string()) for name in id_columns],
                      ("predicted_label", pa.string()), ("score", pa.float64()),
                      ("scored_at", SCORED_AT)])


class PredictionsTap:
    """Collects each scored batch's predictions into one Parquet object.

    ``close`` commits the object; ``abort`` removes it, even after ``close``, because the
    job's output is committed after this file and may still fail.
    """

    def __init__(self, store: ObjectStore, uri: S3Uri, input_uri: str,
                 id_columns: Sequence[str], scored_at: datetime) -> None:
        self._store, self._uri, self._input = store, uri, input_uri
        self._schema = schema(id_columns)
        self._ids = tuple(id_columns)
        self.columns = self._ids  # what the reader must parse for this tap
        self._scored_at = pa.scalar(scored_at, SCORED_AT)
        self._target = store.open_writer(uri)
        # Dictionaries only where values repeat, and row numbers delta-encoded: for 1M rows,
        # 0.23 s and 16 MB with pyarrow's defaults, 0.04 s and 8 MB like this (measured).
        self._writer = pq.ParquetWriter(
            sink_for(self._target), self._schema, compression="snappy",
            use_dictionary=["input", "predicted_label", "scored_at", *self._ids],
            column_encoding={"row": "DELTA_BINARY_PACKED"})
        self._committed = False

    def write(self, batch: ScoredBatch) -> None:
        """Append the predictions of one scored batch."""
        scored = batch.batch
        n = scored.num_rows
        names = scored.schema.names
        label = (as_text(scored.column("predicted_label")) if "predicted_label" in names
                 else pa.nulls(n, pa.string()))
        columns = [_repeat(self._input, n), pa.array(batch.rows)]
        columns += [as_text(scored.column(c)) if c in names else pa.nulls(n, pa.string())
                    for c in self._ids]
        columns += [label, scored.column("score"),
                    pa.array(np.full(n, self._scored_at.value, dtype="int64"), SCORED_AT)]
        self._writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=self._schema))

    def close(self) -> None:
        """Finish and commit the file."""
        self._writer.close()
        self._target.close()
        self._committed = True

    def abort(self) -> None:
        """Leave nothing behind: abort the upload, or delete the committed file."""
        if self._committed:
            with contextlib.suppress(Exception):  # best effort: lifecycle rules are the net
                self._store.delete(self._uri)
        else:  # the Parquet writer first, or its finaliser writes to the aborted target
            with contextlib.suppress(Exception):
                self._writer.close()
            self._target.abort()


def as_text(column: pa.Array) -> pa.Array:
    """Any column as text (labels may be numbers; ids may be anything)."""
    return column if pa.types.is_string(column.type) else column.cast(pa.string())


def _repeat(value: str, n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)),
                                          pa.array([value]))
