"""Which rows of a batch hold a value the model cannot use, and why: every one of them.

``values`` reads a clean batch in one vectorised pass and, at the first bad value, stops
the file. A job with a bad-row budget asks here instead, only for a batch that failed:
each feature's bad cells as a mask over the batch's rows, still vectorised (a Python pass
per value ran 3 ms per 10k-row column, which a file with a bad row in every batch paid
for each of its columns).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arq_batch.engine import values
from arq_batch.engine.values import BadValue
from arq_batch.kernel.errors import DataError

_EXACT = 2.0 ** 53  # integers beyond this lose digits as float64
_NULLS = pa.array(values.NULL_TOKENS)
_Reason = Callable[[str], str]  # a bad value's text -> why it is bad


@dataclass(frozen=True)
class BadRows:
    """The bad rows of one batch."""

    mask: np.ndarray  # rows with at least one bad feature value
    cells: list[BadValue]  # each bad cell (its row within the batch), row by row
    # Text features already read as numbers here (nulls where missing or bad): the good
    # rows are scored from these rather than parsed a second time.
    parsed: dict[str, pa.Array]


def bad_rows(batch: pa.RecordBatch, numeric: tuple[str, ...], categorical: tuple[str, ...],
             booleans: frozenset[str]) -> BadRows:
    """Every bad feature value of ``batch``."""
    mask = np.zeros(batch.num_rows, bool)
    cells: list[BadValue] = []
    parsed: dict[str, pa.Array] = {}
    for name in (*numeric, *categorical):
        column = batch.column(name)
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if name in categorical:
            bad, reason = _bad_categories(column)
        elif name in booleans:
            bad, reason = _bad_booleans(column)
        else:
            bad, reason, numbers = _bad_numbers(column)
            if numbers is not None:
                parsed[name] = numbers
        rows = np.flatnonzero(bad)
        mask[rows] = True
        cells += [BadValue(int(r), name, _text(column[int(r)]), reason(_text(column[int(r)])))
                  for r in rows]
    cells.sort(key=lambda cell: cell.row)
    return BadRows(mask, cells, parsed)


def _text(value: pa.Scalar) -> str:
    plain = value.as_py()
    return plain.decode("utf-8", errors="replace") if isinstance(plain, bytes) else str(plain)


def _bad_numbers(column: pa.Array) -> tuple[np.ndarray, _Reason, pa.Array | None]:
    kind = column.type
    if pa.types.is_integer(kind):
        magnitude = pc.abs_checked(pc.cast(column, pa.float64(), safe=False))
        return _flags(pc.greater(magnitude, _EXACT)), _reason(
            "is an integer beyond what a float64 holds exactly"), None
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return _flags(pc.is_inf(pc.cast(column, pa.float64()))), _reason(
            "is not a finite number"), None
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return _flags(pc.is_valid(column)), _reason(f"is a {kind}, not a number"), None
    try:  # the usual column of a batch with a bad row elsewhere: clean
        numbers = pc.cast(column, pa.float64())
        return _flags(pc.is_inf(numbers)), _reason("is not a finite number"), numbers
    except pa.ArrowInvalid:
        pass
    text = pc.utf8_trim_whitespace(column)
    missing = pc.is_in(text, value_set=_NULLS)
    looks = pc.invert(values.not_numbers(text))
    bad = _flags(pc.and_(pc.and_(pc.is_valid(text), pc.invert(missing)), pc.invert(looks)))
    text = pc.if_else(pc.and_(looks, pc.invert(missing)), text, pa.scalar(None, text.type))
    try:
        numbers = pc.cast(text, pa.float64())
        infinite = _flags(pc.is_inf(numbers))
    except pa.ArrowInvalid:  # the pattern let through something the cast refuses
        numbers = None
        infinite = np.array([_not_finite(v) for v in text.to_pylist()], bool)
    return bad | infinite, lambda value: (
        f"{value[:40]!r} is not a finite number" if _is_float(value)
        else f"{value[:40]!r} is not a number"), numbers


def _bad_booleans(column: pa.Array) -> tuple[np.ndarray, _Reason]:
    try:
        values.numbers(column, "", True)
    except values.InvalidValues:
        pass
    except (DataError, pa.ArrowInvalid):  # a type no boolean is spelled in: all bad
        return _flags(pc.is_valid(column)), _reason(f"is a {column.type}, not a boolean")
    else:
        return np.zeros(len(column), bool), _reason("")
    text = pc.utf8_lower(pc.utf8_trim_whitespace(pc.cast(column, pa.string())))
    known = pc.is_in(text, value_set=pa.array([*values.BOOLEAN_SPELLINGS,
                                                *(t.lower() for t in values.NULL_TOKENS)]))
    return _flags(pc.and_(pc.is_valid(text), pc.invert(known))), _reason("is not a boolean")


def _bad_categories(column: pa.Array) -> tuple[np.ndarray, _Reason]:
    if pa.types.is_nested(column.type):
        return _flags(pc.is_valid(column)), _reason("is a list or object, not text")
    try:
        pc.cast(column, pa.string())
    except pa.ArrowInvalid:  # bytes that are not UTF-8 text
        return np.array([v is not None and not _utf8(v) for v in column.to_pylist()], bool), \
            _reason("is not UTF-8 text")
    return np.zeros(len(column), bool), _reason("")


def _reason(why: str) -> _Reason:
    return lambda value: f"{value[:40]!r} {why}"


def _flags(condition: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(condition, False).to_numpy(zero_copy_only=False), bool)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _not_finite(text: str | None) -> bool:
    return text is not None and (not _is_float(text) or not np.isfinite(float(text)))


def _utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
