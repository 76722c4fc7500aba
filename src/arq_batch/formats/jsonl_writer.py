"""JSON Lines output: each input line with the prediction fields before its closing brace,
or (from any other columns) one object per row.

No Python code runs per row: the lines are built with a few Arrow string kernels over a
whole batch, and the result is one slice of the string array's data buffer.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arq_batch.formats.jsonl import RAW
from arq_batch.formats.jsonl_objects import is_json_text

_NEEDS_ESCAPES = r'["\\\x00-\x1f]'  # what JSON strings must escape


class Writer:
    """Input lines with the prediction fields added, or one object per row of columns."""

    def __init__(self, sink: Any) -> None:
        self._sink = sink

    def write(self, batch: pa.RecordBatch) -> None:
        names = batch.schema.names
        if RAW not in names:  # another format's columns, or filtered JSON fields
            members = {f.name: _json_values(batch.column(i), is_json_text(f))
                       for i, f in enumerate(batch.schema)}
            self._sink.write(_joined(_objects(members, batch.num_rows)))
            return
        extra = {n: _json_values(batch.column(n)) for n in names[names.index(RAW) + 1:]}
        self._sink.write(_joined(_with_members(batch.column(RAW), extra)))

    def close(self) -> None:
        self._sink.close()


def _with_members(raw: pa.Array, members: dict[str, pa.Array]) -> pa.Array:
    # The usual line ends with "}\n": cut two bytes; anything else is trimmed first.
    if pc.all(pc.ends_with(raw, "}\n")).as_py():
        head = pc.utf8_slice_codeunits(raw, 0, -2)
    else:
        head = pc.utf8_slice_codeunits(pc.utf8_rtrim_whitespace(raw), 0, -1)
    separator: Any = ", "
    if pc.any(pc.less(pc.binary_length(head), 8)).as_py():  # perhaps an empty object
        empty = pc.match_substring_regex(head, r"^\s*\{\s*$")
        separator = pc.if_else(empty, "", ", ")
    return pc.binary_join_element_wise(head, separator, *_interleave(members), "}\n", "")


def _objects(members: dict[str, pa.Array], rows: int) -> pa.Array:
    if not members:
        return pa.array(["{}\n"] * rows, pa.string())
    return pc.binary_join_element_wise("{", *_interleave(members), "}\n", "")


def _interleave(members: dict[str, pa.Array]) -> list[Any]:
    """``"name": `` prefixes (scalars) and value texts, for one join over the whole row."""
    parts: list[Any] = []
    for i, (name, values) in enumerate(members.items()):
        parts += [(", " if i else "") + json.dumps(name) + ": ", values]
    return parts


def _json_values(column: pa.Array, json_text: bool = False) -> pa.Array:
    """Each value of the column as JSON text (null for missing, NaN or infinite)."""
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    kind = column.type
    if json_text:
        text = column
    elif pa.types.is_nested(kind):  # lists and structs from Parquet: rare, so per value
        text = pa.array([json.dumps(v) for v in column.to_pylist()], pa.string())
    elif pa.types.is_floating(kind):
        text = pc.cast(column, pa.string())
        finite = pc.is_finite(column)
        if not pc.all(finite).as_py():
            text = pc.if_else(finite, text, pa.scalar(None, pa.string()))
    elif pa.types.is_integer(kind):
        text = pc.cast(column, pa.string())
    elif pa.types.is_boolean(kind):
        text = pc.if_else(column, "true", "false")
    elif not pc.any(pc.match_substring_regex(column, _NEEDS_ESCAPES)).as_py():
        # Quotes alone make most text JSON; json.dumps per value took 2.3 s of the 1M-row
        # CSV -> JSON Lines job (its ids are all distinct).
        text = pc.binary_join_element_wise('"', column, '"', "")
    else:  # text with quotes, backslashes or control characters: each distinct value once
        values = pc.unique(column)
        encoded = pa.array([json.dumps(v) for v in values.to_pylist()], pa.string())
        text = pc.take(encoded, pc.index_in(column, value_set=values))
    return pc.fill_null(text, "null") if text.null_count else text


def _joined(lines: pa.Array) -> pa.Buffer:
    """The lines' bytes back to back: one slice of the string array's data buffer."""
    lines = lines.cast(pa.string()) if not pa.types.is_string(lines.type) else lines
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1,
                            offset=lines.offset * 4)
    return lines.buffers()[2][int(offsets[0]):int(offsets[-1])]
