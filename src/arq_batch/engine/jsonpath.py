"""SageMaker Batch Transform's JSONPath subset, for ``input_filter`` and ``output_filter``.

Forms (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-data-processing.html):
``$`` (everything), ``$[1:]`` / ``$[:-1]`` / ``$[2:5]`` (slices), ``$[0,2,-1]`` (indices, mixed
with slices too: ``$[0,3:]``), by column position; ``$.features`` and ``$['id','features']``
by name. Positions count the columns of a table (CSV, Parquet); names select the fields of
JSON objects, or columns by their header name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from arq_batch.kernel.errors import DataError

_NAME = re.compile(r"^\$\.([A-Za-z_][A-Za-z0-9_]*)$")
_BRACKETS = re.compile(r"^\$\[(.+)\]$")
_QUOTED = re.compile(r"""^\s*(?:'([^']*)'|"([^"]*)")\s*$""")
_INDEX = re.compile(r"^\s*(-?\d+)\s*$")
_SLICE = re.compile(r"^\s*(-?\d+)?\s*:\s*(-?\d+)?\s*$")


@dataclass(frozen=True)
class Selector:
    """A parsed filter: ``names`` or ``positions`` (ints and (start, stop) slices), or all."""

    text: str
    names: tuple[str, ...] = ()
    positions: tuple[int | tuple[int | None, int | None], ...] = ()

    @property
    def everything(self) -> bool:
        return not self.names and not self.positions

    def pick(self, columns: Sequence[str], role: str) -> list[int]:
        """The positions of the selected columns; DataError for one that is not there."""
        if self.names:
            missing = [n for n in self.names if n not in columns]
            if missing:
                raise DataError(f"{role} {self.text} names {missing[0]!r}, which is not one "
                                f"of the columns {list(columns)[:12]}")
            return [list(columns).index(n) for n in self.names]
        if not self.positions:
            return list(range(len(columns)))
        picked: list[int] = []
        for item in self.positions:
            if isinstance(item, tuple):
                picked += range(len(columns))[slice(*item)]
            elif -len(columns) <= item < len(columns):
                picked.append(item % len(columns))
            else:
                raise DataError(f"{role} {self.text}: position {item} is out of range for "
                                f"{len(columns)} columns")
        return picked


def parse(text: str) -> Selector:
    """A Selector; ValueError naming the problem for anything outside the subset."""
    text = text.strip()
    if text == "$":
        return Selector(text)
    if match := _NAME.match(text):
        return Selector(text, names=(match.group(1),))
    match = _BRACKETS.match(text)
    if not match:
        raise ValueError(f"unsupported JSONPath {text!r}: use $, $[1:], $[0,2,-1], "
                         "$.name or $['a','b']")
    items = match.group(1).split(",")
    quoted = [_QUOTED.match(item) for item in items]
    if all(quoted):
        return Selector(text, names=tuple(q.group(1) or q.group(2) or "" for q in quoted if q))
    return Selector(text, positions=tuple(_position(item, text) for item in items))


def _position(item: str, text: str) -> int | tuple[int | None, int | None]:
    if match := _INDEX.match(item):
        return int(match.group(1))
    if match := _SLICE.match(item):
        start, stop = match.groups()
        return (int(start) if start else None, int(stop) if stop else None)
    raise ValueError(f"unsupported JSONPath {text!r}: {item.strip()!r} is neither an index, "
                     "a slice nor a quoted name")
