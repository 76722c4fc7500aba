"""JSON Lines as columns, for jobs that filter, drop or convert their input's fields.

The usual JSON Lines job never parses a line beyond the model's features (see jsonl.py).
A job whose output is another format, or only some fields, needs every top-level field as
a column: that costs a ``json.loads`` per line (measured in docs/performance.md).
Scalar fields keep their JSON type; nested values (and fields whose type varies between
lines) become their JSON text in a column marked ``JSON_TEXT``, which the JSON Lines
writer emits as it is rather than as a string.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from arq_batch.kernel.errors import DataError

JSON_TEXT = {b"arq:json": b"text"}  # field metadata: the values are JSON texts
_SCALARS = (bool, int, float, str)


def objects_table(raw: pa.Array) -> pa.RecordBatch:
    """Every top-level field of the lines in ``raw``, in order of first appearance."""
    rows = []
    for number, text in enumerate(raw.to_pylist(), 1):
        try:
            rows.append(json.loads(text))
        except ValueError as exc:
            raise DataError(f"cannot read JSONL: line {number}: {exc}") from None
    names = list(dict.fromkeys(name for row in rows for name in row))
    fields, arrays = [], []
    for name in names:
        field, array = _column(name, [row.get(name) for row in rows])
        fields.append(field)
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def is_json_text(field: pa.Field) -> bool:
    """Whether a column holds JSON texts (to be written as JSON, not as strings)."""
    return bool(field.metadata) and field.metadata.get(b"arq:json") == b"text"


def _column(name: str, values: list[Any]) -> tuple[pa.Field, pa.Array]:
    kinds = {type(v) for v in values if v is not None}
    if len(kinds) <= 1 and kinds <= set(_SCALARS):
        array = pa.array(values)
        return pa.field(name, array.type), array
    if kinds <= {int, float}:
        array = pa.array([None if v is None else float(v) for v in values], pa.float64())
        return pa.field(name, pa.float64()), array
    texts = pa.array([None if v is None else json.dumps(v) for v in values], pa.string())
    return pa.field(name, pa.string(), metadata=JSON_TEXT), texts
