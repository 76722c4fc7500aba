"""Stream one input through the scoring core into one output, all or nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol

import pyarrow as pa

from arq_batch.core.errors import Cancelled, DataError
from arq_batch.core.formats import FileFormat, open_writer, read_batches
from arq_batch.core.formats.compression import CompressingWriter
from arq_batch.core.formats.jsonl import Wanted
from arq_batch.core.ports import ObjectWriter
from arq_batch.core.scoring import InvalidValues, LinearScorer, score
from arq_batch.core.settings import WorkerSettings


@dataclass(frozen=True)
class Source:
    """An input: its format, and how to open it as a stream or (Parquet) a seekable file."""

    fmt: FileFormat
    open_stream: Callable[[], BinaryIO]
    open_seekable: Callable[[], BinaryIO]


class Tap(Protocol):
    """A second consumer of every scored batch (the predictions dataset, statistics).

    Taps commit before the output and are aborted if anything fails, the output's own
    commit included, so a job leaves all of its objects or none. ``columns`` are the input
    columns a tap reads besides the model's features.
    """

    columns: tuple[str, ...]

    def write(self, first_row: int, scored: pa.RecordBatch) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


def transform(source: Source, target: ObjectWriter, scorer: LinearScorer,
              options: WorkerSettings, taps: Sequence[Tap] = (),
              cancelled: Callable[[], bool] = lambda: False,
              progress: Callable[[int], None] = lambda rows: None) -> int:
    """Score every batch into ``target`` (and the taps); commit only if the whole input scored."""
    writer, rows = None, 0
    if source.fmt.compression:
        level = options.zstd_level if source.fmt.compression == "zstd" else options.gzip_level
        target = CompressingWriter(target, source.fmt.compression, level)
    wanted = Wanted(scorer.numeric, (*scorer.categorical, *(c for t in taps for c in t.columns)))
    try:
        for batch in read_batches(source.fmt, source.open_stream, source.open_seekable,
                                  options.batch_rows, wanted):
            if cancelled():
                raise Cancelled("worker is shutting down")
            try:
                scored = score(batch, scorer)
            except InvalidValues as exc:
                raise exc.shifted(rows) from None
            writer = writer or open_writer(source.fmt, target, scored.schema)
            writer.write(scored)
            for tap in taps:
                tap.write(rows, scored)
            rows += batch.num_rows
            progress(rows)
        if writer is None or rows == 0:
            raise DataError("no data rows (the file is empty or has only a header)")
        writer.close()
        for tap in taps:
            tap.close()
        target.close()
    except BaseException:
        target.abort()
        for tap in taps:
            tap.abort()
        raise
    return rows
