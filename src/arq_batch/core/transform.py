"""Stream one input through the scoring core into one output, all or nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from arq_batch.core.errors import Cancelled, DataError
from arq_batch.core.formats import FileFormat, open_writer, read_batches
from arq_batch.core.formats.compression import GzipWriter
from arq_batch.core.ports import ObjectWriter
from arq_batch.core.scoring import InvalidValues, LinearScorer, score
from arq_batch.core.settings import WorkerSettings


def transform(fmt: FileFormat, open_stream: Callable[[], BinaryIO],
              open_seekable: Callable[[], BinaryIO], target: ObjectWriter, scorer: LinearScorer,
              batch_rows: int, cancelled: Callable[[], bool] = lambda: False,
              progress: Callable[[int], None] = lambda rows: None,
              gzip_level: int = WorkerSettings.gzip_level) -> int:
    """Score every batch into ``target``; commit it only if the whole input scored."""
    writer, rows = None, 0
    if fmt.gzip:
        target = GzipWriter(target, gzip_level)
    try:
        for batch in read_batches(fmt, open_stream, open_seekable, batch_rows):
            if cancelled():
                raise Cancelled("worker is shutting down")
            try:
                scored = score(batch, scorer)
            except InvalidValues as exc:
                raise exc.shifted(rows) from None
            writer = writer or open_writer(fmt, target, scored.schema)
            writer.write(scored)
            rows += batch.num_rows
            progress(rows)
        if writer is None or rows == 0:
            raise DataError("no data rows (the file is empty or has only a header)")
        writer.close()
        target.close()
    except BaseException:
        target.abort()
        raise
    return rows
