"""JSON Lines: only the columns the model needs are parsed; every line passes through as is.

The reader yields the parsed columns plus the raw line (column ``RAW``); the writer
(``jsonl_writer``) emits that line with the prediction fields added before its closing
brace. So every input field keeps its exact bytes and any JSON shape (mixed-type arrays,
nested objects, unicode) without being parsed, and no Python code runs per row. (One
``json.dumps`` per row made the 1M-row job take 22.7 s; see docs/performance.md now.)
"""

from __future__ import annotations

import io
import json
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from arq_batch.kernel.errors import DataError

INTERNAL = "\x00"  # names of reader bookkeeping columns start so; no input column can
RAW = INTERNAL + "line"  # the raw line travels beside the parsed columns to the writer
BLOCK_BYTES = 8 * 1024 * 1024
PARSE_BYTES = 1024 * 1024
_JSON_TYPES = {bool: pa.bool_(), int: pa.int64(), float: pa.float64(), str: pa.string()}
_SPACE = np.frombuffer(b" \t\r\n", dtype=np.uint8)
_BOM = b"\xef\xbb\xbf"
_PREDICTIONS = ("predicted_label", "score")


@dataclass(frozen=True)
class Wanted:
    """The columns a job reads: numeric features, and the rest (categories, ids); ``arrays``
    are fields an input filter names that may hold a features array (``$.features``)."""

    numeric: tuple[str, ...] = ()
    other: tuple[str, ...] = ()
    arrays: tuple[str, ...] = ()


def read(source: Any, wanted: Wanted) -> Iterator[pa.RecordBatch]:
    """Batches of the wanted columns plus ``RAW``, one per block of whole lines.

    The next block is parsed on a second thread while this one is scored and written
    (pyarrow's parser releases the GIL); in-process, 1M rows took 3.5 s without that
    overlap and 2.8 s with it (measured on this 2-core machine).
    """
    rows, types = 0, None
    with ThreadPoolExecutor(1, thread_name_prefix="jsonl") as parser:
        pending: Future[tuple[pa.StringArray, pa.Table]] | None = None
        for block in _blocks(source):
            if types is None:
                types = _probe_types(_first_line(block), wanted)
            upcoming = parser.submit(_prepare, block, types)
            if pending is not None:
                rows = yield from _checked(pending, rows)
            pending = upcoming
        if pending is not None:
            yield from _checked(pending, rows)


def _prepare(block: bytes, types: dict[str, pa.DataType]) -> tuple[pa.StringArray, pa.Table]:
    lines = split_lines(block)
    _refuse_prediction_fields(block, lines)
    table = _drop_absent(_parse(block, lines, types), lines) if len(lines) else pa.table({})
    return lines, table


def _checked(pending: Future[tuple[pa.StringArray, pa.Table]],
             rows: int) -> Generator[pa.RecordBatch, None, int]:
    lines, table = pending.result()
    if not len(lines):
        return rows
    _require_objects(lines, rows)
    start = 0
    for batch in table.to_batches():  # one per parser block: no copy to join them
        raw = lines.slice(start, batch.num_rows)
        start += batch.num_rows
        yield pa.RecordBatch.from_arrays([*batch.columns, raw], [*batch.schema.names, RAW])
    return rows + len(lines)


def _first_line(block: bytes) -> str:
    """The first non-blank line ("{}" if none), for guessing the column types."""
    start = 0
    while start < len(block):
        end = block.find(b"\n", start)
        end = len(block) if end < 0 else end
        if block[start:end].strip():
            return block[start:end].decode("utf-8", errors="replace")
        start = end + 1
    return "{}"


def _blocks(source: Any) -> Iterator[bytes]:
    """Blocks of about BLOCK_BYTES ending at a line break (a longer line makes a longer block)."""
    rest, first = b"", True
    while True:
        chunk = bytes(source.read(BLOCK_BYTES))
        if first and chunk.startswith(_BOM):
            chunk = chunk[len(_BOM):]
        first = False
        if not chunk:
            if rest:
                yield rest
            return
        data = rest + chunk
        cut = data.rfind(b"\n") + 1
        rest = data[cut:]
        if cut:
            yield data[:cut]


def split_lines(block: bytes) -> pa.StringArray:
    """The block's non-blank lines, each with its line break, over the block's own bytes."""
    data = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(data == 10) + 1
    if not block.endswith(b"\n"):
        ends = np.append(ends, len(block))
    offsets = np.concatenate([[0], ends]).astype(np.int32)
    lines = pa.StringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(block))
    # Only a line that starts with white space can be blank: test those alone, so the usual
    # block is not copied by a trim (that copy was a tenth of the JSON Lines job).
    starts = data[offsets[:-1]] if len(block) else np.zeros(0, np.uint8)
    suspects = np.flatnonzero(np.isin(starts, _SPACE))
    if not len(suspects):
        return lines
    blank = [i for i in suspects.tolist() if not block[offsets[i]:offsets[i + 1]].strip()]
    if not blank:
        return lines
    keep = np.ones(len(lines), dtype=bool)
    keep[blank] = False
    return pc.filter(lines, pa.array(keep))


def _require_objects(lines: pa.StringArray, rows_before: int) -> None:
    objects = pc.starts_with(lines, "{")
    if not pc.all(objects).as_py():  # leading spaces are allowed too
        objects = pc.match_substring_regex(lines, r"^\s*\{")
    if not pc.all(objects).as_py():
        first = pc.index(objects, False).as_py()
        raise DataError(f"cannot read JSONL: line {rows_before + first + 1} is not a JSON "
                        f"object: {lines[first].as_py()[:80]!r}")


def _refuse_prediction_fields(block: bytes, lines: pa.StringArray) -> None:
    """An input with its own ``score`` or ``predicted_label`` would get the key twice."""
    for name in _PREDICTIONS:
        if f'"{name}"'.encode() not in block:  # one memchr-speed scan of the whole block
            continue
        suspects = pc.filter(lines, pc.match_substring(lines, f'"{name}"'))
        if any(isinstance(row, dict) and name in row
               for row in (_loads(text) for text in suspects.to_pylist())):
            raise DataError(f"input already has a field named {name!r}")


def _probe_types(first: str, wanted: Wanted) -> dict[str, pa.DataType]:
    """Column types from the first line's values; the model's kinds where it has none."""
    try:
        row = json.loads(first)
    except ValueError:  # the parser will say what is wrong with it
        row = {}
    values = row if isinstance(row, dict) else {}
    return {name: _probe(values.get(name), name in wanted.numeric, name in wanted.arrays)
            for name in (*wanted.numeric, *wanted.other, *wanted.arrays)}


def _probe(value: Any, numeric: bool, array: bool) -> pa.DataType:
    if array and isinstance(value, list):  # a features array, named by an input filter
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        return pa.list_(pa.float64() if numbers else pa.string())
    return _JSON_TYPES.get(type(value), pa.float64() if numeric else pa.string())


def _parse(block: bytes, lines: pa.StringArray, types: dict[str, pa.DataType]) -> pa.Table:
    options = pajson.ParseOptions(explicit_schema=pa.schema(list(types.items())),
                                  unexpected_field_behavior="ignore")
    try:  # 1 MB parser blocks: a block is parsed on every core (4 MB: 75 -> 36 ms on two)
        table = pajson.read_json(io.BytesIO(block), parse_options=options,
                                 read_options=pajson.ReadOptions(block_size=_parse_bytes(lines)))
    except pa.ArrowInvalid as exc:
        if "changed from" not in str(exc):  # not a type change: the JSON itself is bad
            raise
        return _parse_slowly(lines, types)
    if table.num_rows != len(lines):
        raise DataError(f"cannot read JSONL: {len(lines)} lines but {table.num_rows} objects")
    return table


def _parse_bytes(lines: pa.StringArray) -> int:
    """The parser's block size: PARSE_BYTES, or more for a longer line (it must fit one)."""
    return max(PARSE_BYTES, int(pc.max(pc.binary_length(lines)).as_py() or 0) + 1)


def _parse_slowly(lines: pa.StringArray, types: dict[str, pa.DataType]) -> pa.Table:
    """A column whose JSON type varies from line to line: every value as text."""
    rows = [_loads(text) for text in lines.to_pylist()]
    columns = {name: pa.array([_text(r.get(name)) if isinstance(r, dict) else None
                               for r in rows], pa.string()) for name in types}
    return pa.table(columns) if columns else pa.table({"_": pa.nulls(len(rows))})


def _drop_absent(table: pa.Table, lines: pa.StringArray) -> pa.Table:
    """A wanted field no line names is missing (a data error for a feature), not null."""
    absent = [name for name in table.column_names if table.column(name).null_count
              == table.num_rows and not pc.any(pc.match_substring(lines, f'"{name}"')).as_py()]
    return table.drop_columns(absent) if absent else table


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise DataError(f"cannot read JSONL: {exc}: {text[:80]!r}") from exc


def _text(value: Any) -> str | None:
    return None if value is None else value if isinstance(value, str) else json.dumps(value)
