"""RecordIO-protobuf at the endpoint's edge: Linear Learner's responses, clear 400s."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest

from arq_batch.formats import recordio
from arq_batch.formats.record_schema import Record
from arq_batch.serving.invocations import RECORDIO, RequestError, invocations


def records(rows, sparse: bool = False) -> bytes:
    out = []
    for row in rows:
        record = Record()
        tensor = record.features["values"].float32_tensor
        if sparse:
            keys = [i for i, v in enumerate(row) if v]
            tensor.values.extend([row[i] for i in keys])
            tensor.keys.extend(keys)
            tensor.shape.append(len(row))
        else:
            tensor.values.extend(row)
        out.append(recordio.frame(record.SerializeToString()))
    return b"".join(out)


def labels(body: bytes) -> list[dict[str, list[float]]]:
    return [{k: list(v.float32_tensor.values) for k, v in Record.FromString(p).label.items()}
            for p in recordio.frames(io.BytesIO(body))]


@pytest.fixture
def numeric(numeric_species_model):
    pipeline, scorer, x, card = numeric_species_model
    rows = x.dropna().head(4)
    return scorer, card, rows, pipeline


def test_dense_and_sparse_records_get_linear_learners_answer(numeric):
    scorer, card, rows, pipeline = numeric
    values = rows.to_numpy(dtype="float32").tolist()
    for body in (records(values), records(values, sparse=True)):
        data, media = invocations(body, RECORDIO, RECORDIO, scorer, card.feature_names)
        assert media == RECORDIO
        answer = labels(data)
        want = pipeline.predict_proba(rows.astype("float32").astype("float64"))
        assert [card.classes[int(a["predicted_label"][0])] for a in answer] == \
            list(pipeline.predict(rows.astype("float32").astype("float64")))
        assert np.asarray([a["score"] for a in answer]) == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize(("body", "message"), [
    (b"\x00\x01\x02\x03\x04\x05\x06\x07", "record 1: bad magic number"),
    (recordio.frame(b"\xff\xff"), "record 1: not a Record protobuf"),
    (recordio.frame(Record().SerializeToString()), "record 1: no 'values' feature"),
    (recordio.frame(b"") + struct.pack("<II", recordio.MAGIC, 400_000_000),
     "record 2 is 400,000,000 bytes"),
])
def test_broken_records_are_a_400_naming_the_record(numeric, body, message):
    scorer, card, _, _ = numeric
    with pytest.raises(RequestError, match=message) as caught:
        invocations(body, RECORDIO, "application/json", scorer, card.feature_names)
    assert caught.value.status == 400


def test_too_few_values_and_text_features_are_a_400(numeric, species_model):
    scorer, card, _, _ = numeric
    with pytest.raises(RequestError, match="record 2: 3 values, the model needs 5"):
        invocations(records([[1, 2, 3, 4, 5], [1, 2, 3]]), RECORDIO, "", scorer,
                    card.feature_names)
    _, text_scorer, _ = species_model
    with pytest.raises(RequestError, match=r"numbers only.*island") as caught:
        invocations(records([[1, 2, 3]]), RECORDIO, "", text_scorer, ("a", "b", "c"))
    assert caught.value.status == 400


def test_records_of_one_layout_and_of_many_read_the_same():
    # One layout: read all at once with numpy. Permuted sparse keys, or records of other
    # lengths: one message at a time. Both must give the same values.
    permuted = Record()
    tensor = permuted.features["values"].float32_tensor
    tensor.values.extend([1.0, 2.0, 3.0])
    tensor.keys.extend([2, 0, 1])
    alike = [permuted.SerializeToString()] * 3
    assert recordio.feature_rows(alike, 3, 1).tolist() == [[2, 3, 1]] * 3
    mixed = records([[1.5, 0, 2], [1, 2, 3]], sparse=True) + records([[4, 5, 6]])
    payloads = list(recordio.frames(io.BytesIO(mixed)))
    assert recordio.feature_rows(payloads, 3, 1).tolist() == [[1.5, 0, 2], [1, 2, 3], [4, 5, 6]]


def test_frames_larger_than_a_read_block_and_across_blocks():
    rng = np.random.default_rng(1)
    rows = rng.normal(size=(5, 150_000)).astype("float32")  # 600 KB each: blocks are 1 MB
    body = records(rows.tolist())
    payloads = list(recordio.frames(io.BytesIO(body)))
    assert np.array_equal(recordio.feature_rows(payloads, 150_000, 1), rows.astype("float64"))
    scores = rng.random((3, 4))
    labels = [Record.FromString(p).label for p in recordio.frames(io.BytesIO(
        recordio.encode_predictions(scores, np.array([0, 3, 1]))))]
    assert [list(label["score"].float32_tensor.values) for label in labels] == \
        scores.astype("float32").tolist()
    assert [label["predicted_label"].float32_tensor.values[0] for label in labels] == [0, 3, 1]
