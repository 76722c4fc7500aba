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

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from arq_batch.formats.bad_rows import BadRow, OnBad, shown
from arq_batch.formats.jsonl_lines import (
    NotObject,
    all_objects,
    line_blocks,
    require_objects,
    sorted_out,
    split_lines,
)
from arq_batch.kernel.errors import DataError

INTERNAL = "\x00"  # names of reader bookkeeping columns start so; no input column can
RAW = INTERNAL + "line"  # the raw line travels beside the parsed columns to the writer
BLOCK_BYTES = 8 * 1024 * 1024
PARSE_BYTES = 1024 * 1024
_JSON_TYPES = {bool: pa.bool_(), int: pa.int64(), float: pa.float64(), str: pa.string()}
_PREDICTIONS = ("predicted_label", "score")


@dataclass(frozen=True)
class Wanted:
    """The columns a job reads: numeric features, and the rest (categories, ids); ``arrays``
    are fields an input filter names that may hold a features array (``$.features``)."""

    numeric: tuple[str, ...] = ()
    other: tuple[str, ...] = ()
    arrays: tuple[str, ...] = ()


def read(source: Any, wanted: Wanted, on_bad: OnBad | None = None
         ) -> Iterator[pa.RecordBatch]:
    """Batches of the wanted columns plus ``RAW``, one per block of whole lines.

    The next block is parsed on a second thread while this one is scored and written
    (pyarrow's parser releases the GIL); in-process, 1M rows took 3.5 s without that
    overlap and 2.8 s with it (measured on this 2-core machine). With ``on_bad``, a line
    that is not a JSON object is reported and left out instead of failing the file.
    """
    rows, types = 0, None
    with ThreadPoolExecutor(1, thread_name_prefix="jsonl") as parser:
        pending: Future[_Block] | None = None
        for block in line_blocks(source, BLOCK_BYTES):
            if types is None:
                types = _probe_types(_first_line(block), wanted)
            upcoming = parser.submit(_prepare, block, types, on_bad is not None)
            if pending is not None:
                rows = yield from _checked(pending, rows, on_bad)
            pending = upcoming
        if pending is not None:
            yield from _checked(pending, rows, on_bad)


@dataclass(frozen=True)
class _Block:
    lines: pa.StringArray  # the lines that are objects
    table: pa.Table  # their wanted columns
    count: int  # every non-blank line, bad ones too
    bad: tuple[tuple[int, str, str], ...] = ()  # (line in the block, text, reason)


def _prepare(block: bytes, types: dict[str, pa.DataType], lenient: bool) -> _Block:
    lines = split_lines(block)
    _refuse_prediction_fields(block, lines)
    count = len(lines)
    if not count:
        return _Block(lines, pa.table({}), 0)
    if not lenient:
        require_objects(lines)
    elif not all_objects(lines):
        return _lenient(lines, types, count)
    try:
        table = _parse(block, lines, types)
    except (pa.ArrowInvalid, DataError):
        if not lenient:
            raise
        return _lenient(lines, types, count)
    return _Block(lines, _drop_absent(table, lines), count)


def _lenient(lines: pa.StringArray, types: dict[str, pa.DataType], count: int) -> _Block:
    """A block with bad lines: the good ones parsed, the bad ones named."""
    lines, bad = sorted_out(lines)
    block = b"".join(lines.cast(pa.binary()).to_pylist())
    table = _drop_absent(_parse(block, lines, types), lines) if len(lines) else pa.table({})
    return _Block(lines, table, count, bad)


def _checked(pending: Future[_Block], rows: int, on_bad: OnBad | None
             ) -> Generator[pa.RecordBatch, None, int]:
    try:
        block = pending.result()
    except NotObject as exc:  # lines are numbered from the start of the file here
        raise DataError(f"cannot read JSONL: line {rows + exc.index + 1} is not a JSON "
                        f"object: {exc.text[:80]!r}") from None
    for index, text, reason in block.bad:
        assert on_bad is not None
        on_bad(BadRow(rows + index, None, shown(text), reason))
    start = 0
    for batch in block.table.to_batches():  # one per parser block: no copy to join them
        raw = block.lines.slice(start, batch.num_rows)
        start += batch.num_rows
        yield pa.RecordBatch.from_arrays([*batch.columns, raw], [*batch.schema.names, RAW])
    return rows + block.count


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
