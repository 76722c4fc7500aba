"""Stream one input through the scoring core into one output, all or nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol

import numpy as np
import pyarrow as pa

from arq_batch.engine.bad_values import bad_rows
from arq_batch.engine.quarantine import NoGoodRows, Quarantine
from arq_batch.engine.scoring import (
    LinearScorer,
    MissingColumns,
    ModelInputs,
    ScoredBatch,
    prediction_columns,
)
from arq_batch.engine.shaping import Shape
from arq_batch.engine.values import InvalidValues
from arq_batch.formats import BatchWriter, FileFormat, Kind, open_writer, read_batches
from arq_batch.formats.compression import CompressingWriter
from arq_batch.formats.csv import is_headerless
from arq_batch.formats.jsonl import Wanted
from arq_batch.kernel.errors import Cancelled, DataError
from arq_batch.kernel.fleet_settings import WorkerSettings
from arq_batch.kernel.ports import ObjectWriter


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
              shape: Shape | None = None, quarantine: Quarantine | None = None) -> int:
    """Score every batch into ``target`` (and the taps); commit only if the whole input
    scored. ``shape`` carries the job's options (formats, filters, join; by default the
    input's format and every column); a ``quarantine`` sets bad rows aside within its
    budget instead of failing the file."""
    shape = _checked(shape, source.fmt, scorer)
    target, writer, rows = compressed(shape.target.compression, options, target), None, 0
    wanted = _wanted(scorer, shape, taps)
    # Committed in this order just before the output; all removed if anything fails.
    finishers: list[Tap | Quarantine] = [*taps, *([quarantine] if quarantine else [])]
    try:
        for batch in read_batches(shape.source, source.open_stream, source.open_seekable,
                                  options.batch_rows, wanted, shape.order, source.row_groups,
                                  quarantine.on_bad if quarantine else None):
            if cancelled():
                raise Cancelled("worker is shutting down")
            batch, scored, out = _scored(scorer, shape, batch, rows, quarantine)
            if quarantine and quarantine.over:
                continue  # the job will fail: only its bad rows are wanted, for the report
            writer = writer or _open(shape, source, target, batch, out.schema)
            if batch.num_rows:
                writer.write(out)
                for tap in taps:
                    tap.write(scored)
            rows += batch.num_rows
            progress(rows)
        _close(writer, rows, source, quarantine)
        for finisher in finishers:
            finisher.close()
        target.close()
    except BaseException:
        target.abort()
        for finisher in finishers:
            finisher.abort()
        raise
    return rows


def _wanted(scorer: LinearScorer, shape: Shape, taps: Sequence[Tap]) -> Wanted:
    """What the reader must parse: the features, the taps' columns, the input filter's."""
    return Wanted(scorer.numeric, (*scorer.categorical, *(c for t in taps for c in t.columns)),
                  tuple(f for f in shape.extra_fields if f not in scorer.features))


def _scored(scorer: LinearScorer, shape: Shape, batch: pa.RecordBatch, rows_before: int,
            quarantine: Quarantine | None
            ) -> tuple[pa.RecordBatch, ScoredBatch, pa.RecordBatch]:
    """One batch scored: the rows kept (bad ones set aside), as the taps and the output
    see them (a ScoredBatch costs a few microseconds: made whether or not there are taps)."""
    numbers = _numbers(quarantine, batch.num_rows)
    batch, inputs, predictions, numbers = _predict(scorer, shape, batch, rows_before, numbers,
                                                   quarantine)
    scored = ScoredBatch(rows_before, _with(batch, predictions), inputs, numbers)
    return batch, scored, shape.output(batch, predictions)


def _numbers(quarantine: Quarantine | None, n: int) -> np.ndarray | None:
    """The input's row numbers of a batch's rows (None: consecutive); TooManyBadRows once
    the budget is spent and the report's bad rows are known."""
    if quarantine is None:
        return None
    quarantine.check()
    return quarantine.row_numbers(n)


def _open(shape: Shape, source: Source, target: ObjectWriter, batch: pa.RecordBatch,
          schema: pa.Schema) -> BatchWriter:
    header = source.header and not is_headerless(batch.schema)
    return open_writer(shape.target, target, schema, shape.classes, header=header)


def _close(writer: BatchWriter | None, rows: int, source: Source,
           quarantine: Quarantine | None) -> None:
    if quarantine:
        quarantine.check(finished=True)
    if (writer is None or rows == 0) and source.part is None:
        if quarantine and quarantine.count:
            raise NoGoodRows(quarantine.budget, quarantine.bad)
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


def _predict(scorer: LinearScorer, shape: Shape, batch: pa.RecordBatch, rows_before: int,
             numbers: np.ndarray | None, quarantine: Quarantine | None
             ) -> tuple[pa.RecordBatch, ModelInputs, dict[str, pa.Array], np.ndarray | None]:
    """The batch's predictions; within a budget, its bad rows set aside first."""
    view = shape.model_view(batch)
    try:
        inputs = scorer.inputs(view)
    except DataError as exc:
        if quarantine is None and isinstance(exc, InvalidValues):
            raise exc.shifted(rows_before) from None  # rows counted from the file's start
        if quarantine is None or isinstance(exc, MissingColumns):
            raise
        batch, view, numbers = _set_aside(scorer, batch, view, numbers, quarantine, exc)
        inputs = scorer.inputs(view)
    return batch, inputs, prediction_columns(scorer, scorer.combine(inputs)), numbers


def _set_aside(scorer: LinearScorer, batch: pa.RecordBatch, view: pa.RecordBatch,
               numbers: np.ndarray | None, quarantine: Quarantine, error: DataError
               ) -> tuple[pa.RecordBatch, pa.RecordBatch, np.ndarray]:
    """The batch without its bad rows, which go to the quarantine (or the job fails)."""
    found = bad_rows(view, scorer.numeric, scorer.categorical, scorer.booleans)
    if not found.mask.any():  # not a bad value after all: a column the model cannot use
        raise error
    assert numbers is not None
    quarantine.set_aside(numbers, found.cells, batch, found.mask)
    quarantine.check()
    keep = pa.array(~found.mask)
    view = view.filter(keep)
    for name, parsed in found.parsed.items():  # read once: not parsed again for scoring
        view = view.set_column(view.schema.get_field_index(name), name, parsed.filter(keep))
    return batch.filter(keep), view, numbers[~found.mask]


def compressed(codec: str, options: WorkerSettings, target: ObjectWriter) -> ObjectWriter:
    """``target`` behind ``codec`` ("" for none) at the configured level."""
    if not codec:
        return target
    level = options.zstd_level if codec == "zstd" else options.gzip_level
    return CompressingWriter(target, codec, level)


def _with(batch: pa.RecordBatch, predictions: dict[str, pa.Array]) -> pa.RecordBatch:
    """The input batch with the prediction columns, as the taps read it."""
    kept = [i for i, n in enumerate(batch.schema.names) if n not in predictions]
    return pa.RecordBatch.from_arrays(
        [*(batch.column(i) for i in kept), *predictions.values()],
        names=[*(batch.schema.names[i] for i in kept), *predictions])
