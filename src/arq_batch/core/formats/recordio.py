"""RecordIO-protobuf, SageMaker's binary format: ``aialgs.data.Record`` messages in frames.

Each frame is the uint32 (little-endian) magic 0xCED7230A, the uint32 payload length, the
payload, and zero padding to a multiple of four bytes, as the SDK's ``write_recordio``
writes them. Features come as a ``float32_tensor`` (or float64 / int32) under the
``values`` key: dense, or sparse with ``keys`` and ``shape``. They are the model's raw
features in ``model.json`` order, so RecordIO carries models with numeric features only.
Predictions go back as Linear Learner returns them: ``score`` and, for classifiers,
``predicted_label`` (the class's index in ``model.json`` ``classes``), float32 tensors.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from google.protobuf.message import DecodeError

from arq_batch.core.errors import DataError
from arq_batch.core.formats.record_schema import Record

MEDIA = "application/x-recordio-protobuf"
MAGIC = 0xCED7230A
_HEAD = struct.Struct("<II")
_LENGTH_BITS = (1 << 29) - 1  # the top three bits flag records split over frames
_TENSORS = ("float32_tensor", "float64_tensor", "int32_tensor")


def require_numbers(categorical: Sequence[str]) -> None:
    """DataError if the model reads text features: RecordIO records carry numbers only."""
    if categorical:
        raise DataError(f"RecordIO-protobuf records carry numbers only, and this model reads "
                        f"text features: {', '.join(categorical)}")


def frames(source: Any) -> Iterator[bytes]:
    """The payload of every frame in a stream; DataError naming the record if broken."""
    number = 0
    while head := source.read(_HEAD.size):
        number += 1
        if len(head) < _HEAD.size:
            raise DataError(f"RecordIO record {number}: truncated frame header")
        magic, length = _HEAD.unpack(head)
        if magic != MAGIC:
            raise DataError(f"RecordIO record {number}: bad magic number {magic:#010x}, "
                            f"expected {MAGIC:#010x}")
        if length > _LENGTH_BITS:
            raise DataError(f"RecordIO record {number}: records split over several frames "
                            "are not supported")
        payload = _read_exactly(source, length + (-length % 4), number)
        yield payload[:length]


def frame(payload: bytes) -> bytes:
    """One payload in its frame."""
    return _HEAD.pack(MAGIC, len(payload)) + payload + b"\0" * (-len(payload) % 4)


def feature_rows(payloads: Sequence[bytes], width: int, first_number: int) -> np.ndarray:
    """The ``values`` feature of each record as a (records, width) float64 matrix."""
    rows = np.zeros((len(payloads), width))
    for i, payload in enumerate(payloads):
        number = first_number + i
        try:
            record = Record.FromString(payload)
        except DecodeError as exc:
            raise DataError(f"RecordIO record {number}: not a Record protobuf: {exc}") from None
        rows[i] = _dense(record, width, number)
    return rows


def read(source: Any, features: Sequence[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Record batches with one float64 column per model feature, in model.json order."""
    pending: list[bytes] = []
    done = 0
    for payload in frames(source):
        pending.append(payload)
        if len(pending) == batch_rows:
            yield _batch(feature_rows(pending, len(features), done + 1), features)
            done += len(pending)
            pending = []
    if pending:
        yield _batch(feature_rows(pending, len(features), done + 1), features)


def encode_predictions(scores: np.ndarray, labels: np.ndarray | None) -> bytes:
    """Framed Records whose ``label`` map holds ``score`` (a row of ``scores``) and, for
    classifiers, ``predicted_label`` (a class index)."""
    scores = scores.reshape(len(scores), -1)
    out = []
    for i in range(len(scores)):
        record = Record()
        record.label["score"].float32_tensor.values.extend(scores[i].tolist())
        if labels is not None:
            record.label["predicted_label"].float32_tensor.values.append(float(labels[i]))
        out.append(frame(record.SerializeToString()))
    return b"".join(out)


class Writer:
    """Scored batches as Linear Learner's RecordIO responses: predictions only."""

    def __init__(self, sink: Any, classes: Sequence[Any]) -> None:
        self._sink = sink
        self._classes = pa.array([str(c) for c in classes], pa.string())

    def write(self, batch: pa.RecordBatch) -> None:
        scores = batch.column("score").to_numpy(zero_copy_only=False)
        labels = None
        if "predicted_label" in batch.schema.names:
            text = batch.column("predicted_label").cast(pa.string())
            labels = pc.index_in(text, value_set=self._classes).to_numpy(
                zero_copy_only=False)
        self._sink.write(encode_predictions(np.asarray(scores, np.float64), labels))

    def close(self) -> None:
        self._sink.close()


def _dense(record: Any, width: int, number: int) -> np.ndarray:
    if "values" not in record.features:
        raise DataError(f"RecordIO record {number}: no 'values' feature "
                        f"(keys: {sorted(record.features)[:5]})")
    value = record.features["values"]
    kind = value.WhichOneof("value")
    if kind not in _TENSORS:
        raise DataError(f"RecordIO record {number}: 'values' is {kind}, not a number tensor")
    tensor = getattr(value, kind)
    values = np.asarray(tensor.values, np.float64)
    if not len(tensor.keys):
        if len(values) != width:
            raise DataError(f"RecordIO record {number}: {len(values)} values, the model "
                            f"needs {width}")
        return values
    shape = list(tensor.shape)
    if (shape and shape[-1] != width) or len(tensor.keys) != len(values):
        raise DataError(f"RecordIO record {number}: sparse shape {shape} with "
                        f"{len(tensor.keys)} keys does not fit the model's {width} features")
    keys = np.asarray(tensor.keys, np.int64)
    if len(keys) and keys.max() >= width:
        raise DataError(f"RecordIO record {number}: key {int(keys.max())} is out of range "
                        f"for {width} features")
    dense = np.zeros(width)
    dense[keys] = values
    return dense


def _batch(rows: np.ndarray, features: Sequence[str]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array(rows[:, j]) for j in range(len(features))],
                                      names=list(features))


def _read_exactly(source: Any, size: int, number: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = source.read(size - len(data))
        if not chunk:
            raise DataError(f"RecordIO record {number}: the file ends inside the record")
        data += chunk
    return bytes(data)
