"""Stream one input through the scoring core into one output, all or nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol

import pyarrow as pa

from arq_batch.engine.scoring import LinearScorer, ModelInputs, ScoredBatch, prediction_columns
from arq_batch.engine.shaping import Shape
from arq_batch.engine.values import InvalidValues
from arq_batch.formats import BatchWriter, FileFormat, Kind, open_writer, read_batches
from arq_batch.formats.compression import CompressingWriter
from arq_batch.formats.csv import is_headerless
from arq_batch.formats.jsonl import Wanted
from arq_batch.kernel.errors import Cancelled, DataError
from arq_batch.kernel.ports import ObjectWriter
from arq_batch.kernel.settings import WorkerSettings


@dataclass(frozen=True)
class Source:
    """An input: its format, and how to open it as a stream or (Parquet) a seekable file."""

    fmt: FileFormat
    open_stream: Callable[[], BinaryIO]
    open_seekable: Callable[[], BinaryIO]
    part: int | None = None  # one part of a split file: no CSV header after the first
    row_groups: tuple[int, int] | None = None  # a split Parquet part's row groups

    @property
    def header(self) -> bool:
        """Whether a CSV output of this source starts with a header row."""
        return not self.part


class Tap(Protocol):
    """A second consumer of every scored batch (the predictions dataset, statistics).

    Taps commit before the output and are aborted if anything fails, the output's own
    commit included, so a job leaves all of its objects or none. ``columns`` are the input
    columns a tap reads besides the model's features.
    """

    columns: tuple[str, ...]

    def write(self, scored: ScoredBatch) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


def transform(source: Source, target: ObjectWriter, scorer: LinearScorer,
              options: WorkerSettings, taps: Sequence[Tap] = (),
              cancelled: Callable[[], bool] = lambda: False,
              progress: Callable[[int], None] = lambda rows: None,
              shape: Shape | None = None) -> int:
    """Score every batch into ``target`` (and the taps); commit only if the whole input scored.

    ``shape`` carries the job's options (formats, filters, join); without one, the output
    has the input's format and every input column."""
    shape = _checked(shape, source.fmt, scorer)
    writer, rows = None, 0
    target = _compressed(target, shape.target.compression, options)
    wanted = Wanted(scorer.numeric, (*scorer.categorical, *(c for t in taps for c in t.columns)),
                    tuple(f for f in shape.extra_fields if f not in scorer.features))
    try:
        for batch in read_batches(shape.source, source.open_stream, source.open_seekable,
                                  options.batch_rows, wanted, shape.order, source.row_groups):
            if cancelled():
                raise Cancelled("worker is shutting down")
            inputs, predictions = _predict(scorer, shape.model_view(batch), rows)
            out = shape.output(batch, predictions)
            writer = writer or _open(shape, source, target, batch, out.schema)
            writer.write(out)
            if taps:
                scored = ScoredBatch(rows, _with(batch, predictions), inputs)
                for tap in taps:
                    tap.write(scored)
            rows += batch.num_rows
            progress(rows)
        _close(writer, rows, source)
        for tap in taps:
            tap.close()
        target.close()
    except BaseException:
        target.abort()
        for tap in taps:
            tap.abort()
        raise
    return rows


def _open(shape: Shape, source: Source, target: ObjectWriter, batch: pa.RecordBatch,
          schema: pa.Schema) -> BatchWriter:
    header = source.header and not is_headerless(batch.schema)
    return open_writer(shape.target, target, schema, shape.classes, header=header)


def _close(writer: BatchWriter | None, rows: int, source: Source) -> None:
    if (writer is None or rows == 0) and source.part is None:
        raise DataError("no data rows (the file is empty or has only a header)")
    if writer is not None:  # a part may hold no rows (one line longer than its range)
        writer.close()


def _checked(shape: Shape | None, fmt: FileFormat, scorer: LinearScorer) -> Shape:
    """The job's shape (by default: the input's format, every column), if it can run."""
    shape = shape or Shape(fmt, fmt, scorer.features, scorer.classes)
    if shape.source.kind == Kind.RECORDIO:
        from arq_batch.formats import recordio  # protobuf: only for RecordIO jobs

        recordio.require_numbers(scorer.categorical)
    return shape


def _predict(scorer: LinearScorer, view: pa.RecordBatch, rows_before: int
             ) -> tuple[ModelInputs, dict[str, pa.Array]]:
    try:
        inputs = scorer.inputs(view)
        return inputs, prediction_columns(scorer, scorer.combine(inputs))
    except InvalidValues as exc:  # rows counted from the start of the file
        raise exc.shifted(rows_before) from None


def _compressed(target: ObjectWriter, codec: str, options: WorkerSettings) -> ObjectWriter:
    if not codec:
        return target
    level = options.zstd_level if codec == "zstd" else options.gzip_level
    return CompressingWriter(target, codec, level)


def _with(batch: pa.RecordBatch, predictions: dict[str, pa.Array]) -> pa.RecordBatch:
    """The input batch with the prediction columns, as the taps read it."""
    names = [n for n in batch.schema.names if n not in predictions]
    return pa.RecordBatch.from_arrays([*batch.select(names).columns, *predictions.values()],
                                      names=[*names, *predictions])
