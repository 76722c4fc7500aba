"""A job's bad-row budget: the rows it sets aside, where they go, and when it must fail.

With ``max_bad_rows`` N > 0 a job reads past rows it cannot score (``formats.bad_rows``
for whole rows, ``bad_values`` for cells), scores the rest, and writes the bad rows byte
for byte, in the input's format, beside a ``.errors.jsonl`` naming each one (contract
13). Both objects commit just before the job's output and are removed if anything after
fails, as the taps' are: a job leaves all of its objects or none. More than N bad rows
fail the job as a data error whose report lists the first ``MAX_LISTED``.
"""

from __future__ import annotations

import bisect
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from arq_batch.engine.values import BadValue
from arq_batch.formats import FileFormat, Kind, parquet
from arq_batch.formats.bad_rows import BadRow
from arq_batch.formats.quarantine import HEADER, raw_rows
from arq_batch.formats.sink import sink_for
from arq_batch.kernel.errors import DataError
from arq_batch.kernel.ports import ObjectWriter

MAX_LISTED = 100  # bad rows an over-budget report names


class TooManyBadRows(DataError):
    """More bad rows than the job's budget: no output, no quarantine files."""

    def __init__(self, budget: int, bad: Sequence[BadRow], complete: bool) -> None:
        self.budget, self.bad = budget, tuple(sorted(bad, key=lambda b: b.row)[:MAX_LISTED])
        self.complete = complete
        seen = f"{len(bad)}" if complete else f"at least {len(bad)}"
        super().__init__(f"{seen} bad rows, more than max_bad_rows={budget}; first at row "
                         f"{self.bad[0].row} (0-based): {self.bad[0].reason}")


    def shifted(self, offset: int) -> TooManyBadRows:
        """The same error with rows counted ``offset`` further (a split job's part)."""
        return TooManyBadRows(self.budget, [replace(b, row=b.row + offset) for b in self.bad],
                              self.complete)


class NoGoodRows(TooManyBadRows):
    """Every row is bad: a job with nothing to deliver fails like an empty file (with its
    bad rows listed), rather than leaving an output without a row or a header."""

    def __init__(self, budget: int, bad: Sequence[BadRow]) -> None:
        super().__init__(budget, bad, complete=True)
        self.args = (f"no good rows: all {len(bad)} rows are bad; first at row "
                     f"{self.bad[0].row} (0-based): {self.bad[0].reason}",)

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Targets:
    """Where a job's quarantine file and its ``.errors.jsonl`` go, how to remove them, and
    the input they come from."""

    open_rows: Callable[[], ObjectWriter]
    open_errors: Callable[[], ObjectWriter]
    remove: Callable[[], None]
    input_uri: str


class Quarantine:
    """The bad rows of one job (or one part of a split job) and its budget."""

    def __init__(self, budget: int, fmt: FileFormat, reopen: Callable[[], BinaryIO],
                 targets: Targets, compress: Callable[[ObjectWriter], ObjectWriter],
                 header: bool = True) -> None:
        """``header``: whether the quarantine file starts with the CSV's header (a split
        job's parts leave it to the assembly)."""
        self.budget, self._fmt, self._reopen = budget, fmt, reopen
        self._header = header
        self._targets, self._compress = targets, compress
        self.bad: list[BadRow] = []
        self._skipped: list[int] = []  # rows readers left out, sorted
        self._good = 0  # good rows the readers have yielded so far
        self._parquet: list[pa.RecordBatch] = []  # Parquet's bad rows, kept as read
        self._committed = False

    @property
    def count(self) -> int:
        """Rows set aside so far."""
        return len(self.bad)

    @property
    def over(self) -> bool:
        """Whether the budget is spent: the job will fail."""
        return len(self.bad) > self.budget

    def on_bad(self, row: BadRow) -> None:
        """A reader left a row out (``formats.read_batches``' ``on_bad``). A reader that
        reads the input again may name a row twice, and out of order (``formats.csv``)."""
        at = bisect.bisect_left(self._skipped, row.row)
        if at < len(self._skipped) and self._skipped[at] == row.row:
            return
        self._skipped.insert(at, row.row)
        self.bad.append(row)

    def row_numbers(self, n: int) -> np.ndarray:
        """The input's row numbers of the readers' next ``n`` rows (the rows they left out
        are not in their batches, so the rest shift)."""
        good = np.arange(self._good, self._good + n)
        self._good += n
        if not self._skipped:
            return good
        skipped = np.asarray(self._skipped)
        # A good row's number is its good index plus the rows left out before it, and the
        # k-th left-out row has (its number - k) good rows before it.
        return good + np.searchsorted(skipped - np.arange(len(skipped)), good, side="right")

    def set_aside(self, rows: np.ndarray, cells: Sequence[BadValue],
                  batch: pa.RecordBatch, mask: np.ndarray) -> None:
        """Cells the model cannot use: ``cells`` name rows of ``batch``, ``rows`` holds the
        input's number of each of its rows, and ``mask`` flags the bad ones."""
        firsts: dict[int, BadValue] = {}
        for cell in cells:  # one line per bad row: its first bad cell
            firsts.setdefault(cell.row, cell)
        self.bad += [BadRow(int(rows[r]), c.column, c.value, c.reason)
                     for r, c in sorted(firsts.items())]
        if self._fmt.kind == Kind.PARQUET:
            self._parquet.append(batch.filter(pa.array(mask)))

    def check(self, finished: bool = False) -> None:
        """TooManyBadRows once the budget is spent and the report's rows are known: the
        first ``MAX_LISTED`` bad rows, or every one when the input is ``finished``. Until
        then the job reads on for them, writing nothing more (``filestream``)."""
        if self.over and (finished or len(self.bad) >= MAX_LISTED):
            raise TooManyBadRows(self.budget, self.bad, complete=finished)

    def close(self) -> None:
        """Write and commit the quarantine file and its errors (nothing if no row is bad)."""
        if not self.bad:
            return
        self.bad.sort(key=lambda b: b.row)
        rows = self._targets.open_rows()
        try:
            written = self._write_rows(self._compress(rows))
        except BaseException:
            rows.abort()
            raise
        if written != len(self.bad):  # never lose a row silently
            self._targets.remove()
            raise DataError(f"quarantine: {len(self.bad)} bad rows but {written} found "
                            "again in the input")
        self._committed = True
        errors = self._targets.open_errors()
        for row in self.bad:
            errors.write(row.to_json(self._targets.input_uri).encode() + b"\n")
        errors.close()

    def _write_rows(self, target: ObjectWriter) -> int:
        if self._fmt.kind == Kind.PARQUET:
            writer = parquet.Writer(sink_for(target), self._parquet[0].schema)
            for batch in self._parquet:
                writer.write(batch)
            writer.close()  # the format's stream; the target commits on its own close
            target.close()
            return sum(batch.num_rows for batch in self._parquet)
        count = 0
        with contextlib.closing(self._reopen()) as stream:
            for number, record in raw_rows(self._fmt, stream, [b.row for b in self.bad]):
                if number != HEADER or self._header:
                    target.write(record)
                count += number != HEADER
        target.close()
        return count

    def abort(self) -> None:
        """Leave nothing behind, even after ``close``."""
        if self._committed:
            with contextlib.suppress(Exception):  # best effort: lifecycle rules are the net
                self._targets.remove()
