"""Bad rows: what a reader sets aside instead of failing the file, when a job has a budget.

Readers report the rows they cannot turn into a record (a CSV line with the wrong number
of fields, a JSON Lines line that is not an object, a RecordIO record that is not a
Record) through an ``OnBad`` callback, in input order, and leave them out of their
batches. Without a callback they fail the file, as they always have.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

MAX_VALUE_CHARS = 200  # a bad line can be megabytes: errors.jsonl quotes its start


@dataclass(frozen=True)
class BadRow:
    """One row of the input that is not scored, and why."""

    row: int  # 0-based data row of the input (the CSV header is not a row)
    column: str | None  # None when the row as a whole is unreadable
    value: str
    reason: str

    def to_json(self, input_uri: str) -> str:
        """Its line in ``.errors.jsonl``, which also names the input (so the lines of many
        files read together, as the ``quarantine`` view reads them, say whose they are)."""
        return json.dumps(self.to_dict() | {"input": input_uri}, ensure_ascii=False)

    def to_dict(self) -> dict[str, object]:
        """The fields of contract 13: row, column, value, reason."""
        return {"row": self.row, "column": self.column, "value": self.value[:MAX_VALUE_CHARS],
                "reason": self.reason}


OnBad = Callable[[BadRow], None]


def shown(raw: bytes | str) -> str:
    """A bad line's text for a report: decoded leniently, without its line break."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return text.rstrip("\r\n")[:MAX_VALUE_CHARS]
