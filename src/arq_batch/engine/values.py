"""Raw cell values as the model's types: numbers, booleans, categories, and what is bad.

One rule for every reader (CSV, JSON Lines, Parquet, RecordIO) and the endpoint: the
missing-value tokens pandas reads as NA, booleans only for features trained from them,
and every value Arrow refuses reported as a data error naming its column.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arq_batch.kernel.errors import DataError

# The same tokens pandas reads as missing, so training and scoring agree on what "NA" is.
NULL_TOKENS = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
               "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")
_NULLS = pa.array(NULL_TOKENS)
MAX_REPORTED = 100  # bad values a report lists (contract 13: the first 100)


@dataclass(frozen=True)
class BadValue:
    """One cell that cannot be used, with its 0-based row within the batch."""

    row: int
    column: str
    value: str
    reason: str


class InvalidValues(DataError):
    """Cells that are not numbers where the model needs numbers."""

    def __init__(self, bad: list[BadValue], row_offset: int = 0) -> None:
        self.bad = bad
        self.row_offset = row_offset
        first = bad[0]
        super().__init__(f"non-numeric value in a numeric column, first at row "
                         f"{first.row + row_offset + 1}: column {first.column!r}: {first.reason}")

    def shifted(self, offset: int) -> InvalidValues:
        """The same error with rows counted from the start of the file."""
        return InvalidValues(self.bad, self.row_offset + offset)


@contextlib.contextmanager
def values_of(name: str) -> Iterator[None]:
    """Arrow's refusals of a column's values are the input's fault, never transient: an
    integer beyond float64's exact range (2^53), text that is not UTF-8."""
    try:
        yield
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"column {name!r} holds values the model cannot use: {first}") from exc


def numbers(column: pa.Array | pa.ChunkedArray, name: str, boolean: bool) -> np.ndarray:
    """One rule in every format: a boolean serves only a feature trained from booleans,
    and an infinite number (``inf``, ``-inf``, ``1e400``) serves none: scored, it would
    give a NaN score with a confident label, silently."""
    kind, given = column.type, column
    if boolean:
        column = _booleans(column, name)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        column = _parse_numbers(column, name)
    elif pa.types.is_boolean(kind):
        raise DataError(f"column {name!r} holds booleans, but the model was trained on "
                        "numbers there")
    elif not (pa.types.is_integer(kind) or pa.types.is_floating(kind)
              or pa.types.is_decimal(kind) or pa.types.is_null(kind)):
        raise DataError(f"column {name!r} has type {kind}, but the model needs numbers")
    kind = column.type
    values = column if kind == pa.float64() else pc.cast(column, pa.float64())
    infinite = pc.is_inf(values)
    if pc.any(infinite).as_py():
        raise InvalidValues(_infinite(given, infinite, name))
    if values.null_count:
        values = pc.fill_null(values, np.nan)
    array: np.ndarray = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
    return array


def _infinite(given: pa.Array | pa.ChunkedArray, infinite: pa.Array | pa.ChunkedArray,
              name: str) -> list[BadValue]:
    flags = pa.concat_arrays(infinite.chunks) if isinstance(infinite, pa.ChunkedArray) \
        else infinite
    rows = pc.indices_nonzero(flags).to_pylist()[:MAX_REPORTED]
    shown = [str(given[r].as_py()) for r in rows]
    return [BadValue(r, name, text, f"{text[:40]!r} is not a finite number")
            for r, text in zip(rows, shown, strict=True)]


# How a boolean feature's values may be spelled as text (lower-cased first), everywhere.
BOOLEAN_SPELLINGS = {"true": True, "1": True, "1.0": True, "false": False, "0": False,
                     "0.0": False}
_TRUE = pa.array([k for k, v in BOOLEAN_SPELLINGS.items() if v])
_FALSE = pa.array([k for k, v in BOOLEAN_SPELLINGS.items() if not v])


def _booleans(column: pa.Array | pa.ChunkedArray, name: str) -> pa.Array | pa.ChunkedArray:
    """A boolean feature's values as 1.0/0.0: booleans, true/false in any case, 1/0."""
    if pa.types.is_boolean(column.type):
        return column
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
            or pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
            or pa.types.is_null(column.type)):
        raise DataError(f"column {name!r} has type {column.type}, but the model needs "
                        "booleans there")
    text = pc.utf8_lower(pc.utf8_trim_whitespace(pc.cast(column, pa.string())))
    text = pc.if_else(pc.is_in(text, value_set=pc.utf8_lower(_NULLS)),
                      pa.scalar(None, pa.string()), text)
    true, false = pc.is_in(text, value_set=_TRUE), pc.is_in(text, value_set=_FALSE)
    bad = pc.and_(pc.is_valid(text), pc.invert(pc.or_(true, false)))
    if pc.any(bad).as_py():
        rows = pc.indices_nonzero(bad).to_pylist()[:MAX_REPORTED]
        raise InvalidValues([BadValue(r, name, str(column[r].as_py()),
                                      f"{str(column[r].as_py())[:40]!r} is not a boolean")
                             for r in rows])
    return pc.if_else(pc.is_valid(text), true, pa.scalar(None, pa.bool_()))


def _parse_numbers(column: pa.Array | pa.ChunkedArray, name: str) -> pa.Array | pa.ChunkedArray:
    """Text to float64, with pandas' missing-value tokens as nulls and spaces ignored."""
    try:  # A clean column parses in one pass; "nan" becomes NaN, which counts as missing.
        return pc.cast(column, pa.float64())
    except pa.ArrowInvalid:
        pass
    text = pc.utf8_trim_whitespace(column)
    column = pc.if_else(pc.is_in(text, value_set=_NULLS), pa.scalar(None, column.type), text)
    try:
        return pc.cast(column, pa.float64())
    except pa.ArrowInvalid:
        raise InvalidValues(_bad_numbers(column, name)) from None


# What Arrow's text-to-float64 cast accepts, so bad values are found without a cast
# failing (a Python pass per value, as this was, ran 0.4 s per 1M values); a value this
# lets through that the cast still refuses is found by ``bad_values`` in Python.
NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|infinity|nan)$"


def not_numbers(text: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Which values of trimmed text with missing values as nulls are not numbers."""
    return pc.invert(pc.match_substring_regex(text, NUMBER, ignore_case=True))


def _bad_numbers(column: pa.Array | pa.ChunkedArray, name: str) -> list[BadValue]:
    flags = pc.fill_null(not_numbers(column), False)
    if isinstance(flags, pa.ChunkedArray):
        flags = pa.concat_arrays(flags.chunks)
    rows = pc.indices_nonzero(flags).to_pylist()[:MAX_REPORTED]
    bad = [BadValue(r, name, str(column[r].as_py()), f"{str(column[r].as_py())[:40]!r} is not "
                                                     "a number") for r in rows]
    return bad or [BadValue(0, name, "", "values could not be read as numbers")]


def categories(column: pa.Array | pa.ChunkedArray, name: str) -> pa.Array | pa.ChunkedArray:
    """Category text with pandas' missing-value tokens as nulls."""
    if pa.types.is_nested(column.type):  # a JSON list or object where a category belongs
        raise DataError(f"column {name!r} holds lists or objects, but the model needs text")
    text = pc.cast(column, pa.string())
    return pc.if_else(pc.is_in(text, value_set=_NULLS), pa.scalar(None, pa.string()), text)
