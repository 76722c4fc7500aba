"""Text as lines: a stream read in blocks of whole lines, a block cut into its non-blank
lines without copying, and which of them are JSON objects (the only rows a JSON Lines
input may hold)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arq_batch.kernel.errors import DataError

_SPACE = np.frombuffer(b" \t\r\n", dtype=np.uint8)
BOM = b"\xef\xbb\xbf"


def line_blocks(source: Any, size: int, drop_bom: bool = True) -> Iterator[bytes]:
    """Blocks of about ``size`` bytes ending at a line break (a longer line makes a longer
    block; the last may lack its break), a leading byte order mark dropped unless asked."""
    rest, first = b"", True
    while True:
        chunk = bytes(source.read(size))
        if first and drop_bom and chunk.startswith(BOM):
            chunk = chunk[len(BOM):]
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


class NotObject(DataError):
    def __init__(self, index: int, text: str) -> None:
        self.index, self.text = index, text
        super().__init__(f"line {index + 1} is not a JSON object")


def all_objects(lines: pa.StringArray) -> bool:
    objects = pc.starts_with(lines, "{")
    if pc.all(objects).as_py():
        return True
    # leading spaces are allowed too
    return bool(pc.all(pc.match_substring_regex(lines, r"^\s*\{")).as_py())


def require_objects(lines: pa.StringArray) -> None:
    if all_objects(lines):
        return
    objects = pc.match_substring_regex(lines, r"^\s*\{")
    first = pc.index(objects, False).as_py()
    raise NotObject(first, lines[first].as_py())


def sorted_out(lines: pa.StringArray
                ) -> tuple[pa.StringArray, tuple[tuple[int, str, str], ...]]:
    """The lines that are JSON objects, and the others with the reason (one block's
    Python pass, taken only when a block has a bad line)."""
    keep, bad = [], []
    for index, text in enumerate(lines.to_pylist()):
        try:
            value = json.loads(text)
        except ValueError as exc:
            bad.append((index, text, f"not JSON: {exc}"))
            continue
        if isinstance(value, dict):
            keep.append(index)
        else:
            bad.append((index, text, f"a JSON {type(value).__name__}, not an object"))
    return lines.take(pa.array(keep, pa.int64())), tuple(bad)
