"""What a job's options do to each batch: the model's view (``input_filter``) and the
output's columns (``join_source``, ``output_filter``), as Batch Transform defines them.

SageMaker applies the input filter to what the model sees, joins the *unfiltered* input
with the predictions, then applies the output filter to the joined record; so do we.
The model reads its features by name; a filter that leaves exactly as many unnamed
columns as the model has features (``$[1:]`` on a table whose header is not the model's,
a ``$.features`` array) hands them over by position, in model.json order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arq_batch.engine.jsonpath import Selector
from arq_batch.engine.options import JobOptions
from arq_batch.engine.scoring import PREDICTION_COLUMNS
from arq_batch.engine.values import NULL_TOKENS
from arq_batch.formats import FileFormat, Kind
from arq_batch.formats.csv import is_headerless
from arq_batch.formats.jsonl import RAW
from arq_batch.formats.jsonl_objects import objects_table
from arq_batch.kernel.errors import DataError

_NULLS = pa.array(NULL_TOKENS)


@dataclass(frozen=True)
class Shape:
    """A job's formats, filters and join, ready to apply to each batch."""

    source: FileFormat
    target: FileFormat
    order: tuple[str, ...]  # the model's raw features in model.json order
    classes: tuple[object, ...] = ()  # RecordIO outputs give a label as its index here
    input_filter: Selector | None = None
    output_filter: Selector | None = None
    joined: bool = True
    # CSV columns are text; converted to another format, the columns that hold numbers in
    # the first batch become numbers (as pyarrow's CSV reader infers them), kept per job.
    types: dict[str, pa.DataType] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, options: JobOptions, source: FileFormat, order: tuple[str, ...],
           classes: tuple[object, ...] = ()) -> Shape:
        """The Shape of a job with these options reading ``source`` (detected by name)."""
        source = options.input_format(source)
        keep, pick = options.selectors()
        if source.kind == Kind.JSONL and keep and keep.positions:
            raise DataError(f"input_filter {keep.text} selects by position; JSON Lines "
                            "inputs select fields by name ($.name or $['a','b'])")
        return cls(source, options.output_format(source), order, classes, keep, pick,
                   options.joined)

    @property
    def raw_json(self) -> bool:
        """JSON Lines in and out, joined, unfiltered: lines pass through as bytes."""
        return (self.source.kind == self.target.kind == Kind.JSONL and self.joined
                and self.output_filter is None)

    @property
    def extra_fields(self) -> tuple[str, ...]:
        """JSON fields the reader must parse for the input filter."""
        return self.input_filter.names if self.input_filter else ()

    def model_view(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The columns the model reads, by name or, failing that, by position."""
        keep = self.input_filter
        if keep is None and not is_headerless(batch.schema):
            return batch  # by name; the scorer names any feature that is missing
        names = [n for n in batch.schema.names if n != RAW]
        view = batch.select(keep.pick(names, "input_filter")) if keep else batch
        if set(self.order) <= set(view.schema.names):
            return view
        if keep and view.num_columns == 1 and pa.types.is_list(view.column(0).type):
            return _spread(view.column(0), self.order, keep.text)
        if view.num_columns == len(self.order):
            return pa.RecordBatch.from_arrays(view.columns, names=list(self.order))
        what = f"input_filter {keep.text} selects" if keep else "the headerless CSV has"
        raise DataError(f"{what} {view.num_columns} column(s) {view.schema.names[:8]}; the "
                        f"model needs {len(self.order)}: {list(self.order)}")

    def output(self, batch: pa.RecordBatch, predictions: Mapping[str, pa.Array]
               ) -> pa.RecordBatch:
        """The joined (or predictions-only) batch, through the output filter."""
        if self.raw_json:
            return _appended(batch, predictions)
        if self.joined and RAW in batch.schema.names:
            batch = objects_table(batch.column(RAW))
        elif self.joined and self.source.kind == Kind.CSV and self.target.kind != Kind.CSV:
            batch = self._typed(batch)
        out = _appended(batch, predictions) if self.joined else _appended(None, predictions)
        if self.output_filter is None:
            return out
        return out.select(self.output_filter.pick(out.schema.names, "output_filter"))

    def _typed(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if not self.types:
            self.types.update({n: _inferred(batch.column(n)) for n in batch.schema.names})
        columns = []
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            kind = self.types[name]
            try:
                columns.append(column if kind == pa.string() else pc.cast(_nulled(column), kind))
            except pa.ArrowInvalid:
                raise DataError(f"column {name!r} held {kind} values in the first rows, then "
                                "text: converting a CSV needs one type per column") from None
        return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _nulled(column: pa.Array) -> pa.Array:
    text = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.is_in(text, value_set=_NULLS), pa.scalar(None, pa.string()), text)


def _inferred(column: pa.Array) -> pa.DataType:
    """int64, float64 or text: the narrowest that holds every value of the column."""
    values = _nulled(column)
    if values.null_count == len(values):
        return pa.string()
    for kind in (pa.int64(), pa.float64()):
        try:
            pc.cast(values, kind)
            return kind
        except pa.ArrowInvalid:
            pass
    return pa.string()


def _appended(batch: pa.RecordBatch | None, predictions: Mapping[str, pa.Array]
              ) -> pa.RecordBatch:
    fields = list(batch.schema) if batch is not None else []
    clash = [f.name for f in fields if f.name in PREDICTION_COLUMNS]
    if clash:
        raise DataError(f"input already has a column named {clash[0]!r}")
    arrays = [*(batch.columns if batch is not None else []), *predictions.values()]
    fields += [pa.field(name, values.type) for name, values in predictions.items()]
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def _spread(column: pa.Array, order: tuple[str, ...], text: str) -> pa.RecordBatch:
    """A column of arrays, one value per model feature, as one column per feature."""
    lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False)
    wrong = np.flatnonzero(lengths != len(order))
    if len(wrong):
        raise DataError(f"input_filter {text}: row {int(wrong[0]) + 1} has "
                        f"{int(lengths[wrong[0]])} values, the model needs {len(order)}")
    values = pc.list_flatten(column)
    rows = len(column)
    return pa.RecordBatch.from_arrays(
        [pc.take(values, pa.array(np.arange(rows) * len(order) + j)) for j in range(len(order))],
        names=list(order))
