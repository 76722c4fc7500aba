"""JSON Lines: one JSON object per line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.json as pajson

from arq_batch.core.formats.csv import BLOCK_BYTES


def read(source: Any) -> Iterator[pa.RecordBatch]:
    """Record batches of a JSON Lines stream."""
    yield from pajson.open_json(source, read_options=pajson.ReadOptions(block_size=BLOCK_BYTES))


class Writer:
    """pyarrow has no JSON writer; one ``json.dumps`` per row keeps types (ints stay ints)."""

    def __init__(self, sink: Any) -> None:
        self._sink = sink

    def write(self, batch: pa.RecordBatch) -> None:
        lines = [json.dumps(row, default=str) for row in batch.to_pylist()]
        self._sink.write("".join(line + "\n" for line in lines).encode())

    def close(self) -> None:
        self._sink.close()
