"""Batch Transform's job options on the scoring engine: filters, join, accept, compression."""

from __future__ import annotations

import gzip
import io
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from arq_batch.engine import jsonpath
from arq_batch.engine.messages import parse
from arq_batch.engine.options import JobOptions, parse_options
from arq_batch.engine.shaping import Shape
from arq_batch.formats import FileFormat, detect, recordio, renamed
from arq_batch.formats.record_schema import Record
from arq_batch.kernel.errors import DataError, PoisonMessage
from arq_batch.kernel.ports import QueueMessage
from tests.conftest import run

KINDS = {"csv": "text/csv", "jsonl": "application/jsonlines",
         "parquet": "application/x-parquet", "recordio": "application/x-recordio-protobuf"}
NAMES = {"csv": "in.csv", "jsonl": "in.jsonl", "parquet": "in.parquet", "recordio": "in.recordio"}


@pytest.fixture(scope="module")
def model(numeric_species_model):
    pipeline, scorer, x, card = numeric_species_model
    rows = x.head(40).reset_index(drop=True)
    expected = pd.DataFrame({"predicted_label": pipeline.predict(rows),
                             "score": pipeline.predict_proba(rows).max(axis=1)})
    return scorer, card, rows, expected


def encoded(kind: str, rows: pd.DataFrame) -> bytes:
    """``rows`` (with an ``id`` column first) written in one of the four formats."""
    table = pa.Table.from_pandas(rows, preserve_index=False)
    if kind == "csv":
        return rows.to_csv(index=False).encode()
    if kind == "jsonl":
        return rows.to_json(orient="records", lines=True).encode()
    if kind == "parquet":
        sink = io.BytesIO()
        pq.write_table(table, sink)
        return sink.getvalue()
    features = rows.drop(columns=["id"], errors="ignore").to_numpy(dtype="float32")
    records = []
    for row in features:
        record = Record()
        record.features["values"].float32_tensor.values.extend(row.tolist())
        records.append(recordio.frame(record.SerializeToString()))
    return b"".join(records)


def decoded(kind: str, data: bytes, classes: tuple) -> pd.DataFrame:
    """An output back as a frame; RecordIO labels turned back into class names."""
    if kind == "csv":
        return pd.read_csv(io.BytesIO(data))
    if kind == "jsonl":
        return pd.read_json(io.BytesIO(data), lines=True)
    if kind == "parquet":
        return pq.read_table(io.BytesIO(data)).to_pandas()
    rows = []
    for payload in recordio.frames(io.BytesIO(data)):
        label = Record.FromString(payload).label
        rows.append({"predicted_label": classes[int(label["predicted_label"].float32_tensor
                                                    .values[0])],
                     "score": label["score"].float32_tensor.values[0]})
    return pd.DataFrame(rows)


def job(tmp_path, model, kind, rows, **options) -> pd.DataFrame:
    scorer, card, _, _ = model
    shape = Shape.of(parse_options(options), detect(NAMES[kind]), card.feature_names,
                     card.classes)
    out = run(tmp_path, NAMES[kind], encoded(kind, rows), scorer, shape)
    data = out.read_bytes()
    if shape.target.compression:
        data = gzip.decompress(data)
    return decoded(shape.target.kind, data, card.classes)


def same_predictions(out: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert out["predicted_label"].tolist() == expected["predicted_label"].tolist()
    assert out["score"].to_numpy() == pytest.approx(expected["score"].to_numpy(), rel=1e-5)


@pytest.mark.parametrize("source", KINDS)
@pytest.mark.parametrize("target", KINDS)
def test_accept_converts_between_every_pair_of_formats(tmp_path, model, source, target):
    _, _, rows, expected = model
    out = job(tmp_path, model, source, rows, accept=KINDS[target])
    same_predictions(out, expected)
    if target != "recordio":  # RecordIO carries the predictions alone, as Linear Learner's
        assert list(out.columns) == [*rows.columns, "predicted_label", "score"]
        assert out["flipper_length_mm"].astype(float).tolist() == pytest.approx(
            rows["flipper_length_mm"].astype(float).tolist(), nan_ok=True)


@pytest.mark.parametrize("kind", ["csv", "jsonl", "parquet"])
def test_join_source_none_gives_predictions_only(tmp_path, model, kind):
    _, _, rows, expected = model
    out = job(tmp_path, model, kind, rows.assign(id=range(len(rows))), join_source="None")
    assert list(out.columns) == ["predicted_label", "score"]
    same_predictions(out, expected)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
@pytest.mark.parametrize(("input_filter", "output_filter", "columns"), [
    ("$", "$[0,-1]", ["id", "score"]),
    ("$", "$[0,2,-1]", ["id", "bill_depth_mm", "score"]),
    ("$[1:]", "$[0,-2:]", ["id", "predicted_label", "score"]),
    ("$[1,2,3,4,5]", "$['id','predicted_label']", ["id", "predicted_label"]),
    ("$[1:6]", "$.score", ["score"]),
])
def test_position_filters_on_tables(tmp_path, model, kind, input_filter, output_filter, columns):
    _, _, rows, expected = model
    # Column names the model does not know: the input filter hands columns over by position.
    anonymous = rows.set_axis([f"c{i}" for i in range(rows.shape[1])], axis=1)
    table = anonymous.assign(id=[f"r{i}" for i in range(len(rows))])[["id", *anonymous]]
    if input_filter == "$":
        table = rows.assign(id=[f"r{i}" for i in range(len(rows))])[["id", *rows]]
    out = job(tmp_path, model, kind, table, input_filter=input_filter,
              output_filter=output_filter)
    assert list(out.columns) == columns
    if "id" in columns:
        assert out["id"].tolist() == table["id"].tolist()
    if "predicted_label" in columns:
        assert out["predicted_label"].tolist() == expected["predicted_label"].tolist()
    if "score" in columns:
        assert out["score"].tolist() == pytest.approx(expected["score"].tolist(), rel=1e-9)


def test_json_filters_select_fields_and_spread_a_features_array(tmp_path, model):
    _, _, rows, expected = model
    lines = [{"id": i, "features": row, "meta": {"source": "lab"}}
             for i, row in enumerate(rows.to_numpy().tolist())]
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    scorer, card, _, _ = model
    shape = Shape.of(parse_options({"input_filter": "$.features",
                                    "output_filter": "$['id','meta','predicted_label']"}),
                     detect("in.jsonl"), card.feature_names, card.classes)
    out = [json.loads(line) for line in run(tmp_path, "in.jsonl", data, scorer,
                                            shape).read_text().splitlines()]
    assert out[0] == {"id": 0, "meta": {"source": "lab"},
                      "predicted_label": expected["predicted_label"][0]}
    assert [o["predicted_label"] for o in out] == expected["predicted_label"].tolist()

    named = Shape.of(parse_options({"input_filter": "$['bill_length_mm','bill_depth_mm',"
                                    "'flipper_length_mm','body_mass_g','year']",
                                    "output_filter": "$.score"}),
                     detect("in.jsonl"), card.feature_names, card.classes)
    out2 = run(tmp_path, "in.jsonl", encoded("jsonl", rows), scorer, named)
    scores = [json.loads(line)["score"] for line in out2.read_text().splitlines()]
    assert scores == pytest.approx(expected["score"].tolist())


def test_a_filter_that_leaves_out_a_feature_is_a_data_error(tmp_path, model):
    scorer, card, rows, _ = model
    shape = Shape.of(parse_options({"input_filter": "$[0,1]"}), detect("a.csv"),
                     card.feature_names, card.classes)
    with pytest.raises(DataError, match=r"input_filter \$\[0,1\] selects 2 column"):
        run(tmp_path, "a.csv", encoded("csv", rows), scorer, shape)
    with pytest.raises(DataError, match="position 9 is out of range"):
        run(tmp_path, "b.csv", encoded("csv", rows), scorer,
            Shape.of(parse_options({"output_filter": "$[9]"}), detect("b.csv"),
                     card.feature_names, card.classes))
    with pytest.raises(DataError, match="selects by position"):
        Shape.of(parse_options({"input_filter": "$[1:]"}), detect("c.jsonl"), (), ())


def test_gzip_output_and_the_default_name_follows_the_format(tmp_path, model):
    _, _, rows, expected = model
    out = job(tmp_path, model, "csv", rows, accept="application/jsonlines", compression="Gzip")
    same_predictions(out, expected)
    assert renamed("data/output/a.csv", FileFormat("csv"), FileFormat("jsonl", "gzip")) == \
        "data/output/a.jsonl.gz"
    assert renamed("a.csv.gz", FileFormat("csv", "gzip"), FileFormat("parquet")) == "a.parquet"
    assert renamed("part-1", FileFormat("csv"), FileFormat("csv", "gzip")) == "part-1.csv.gz"


def test_content_type_overrides_the_name(tmp_path, model):
    scorer, card, rows, expected = model
    shape = Shape.of(parse_options({"content_type": "application/jsonlines"}), detect("part-1"),
                     card.feature_names, card.classes)
    out = run(tmp_path, "part-1", encoded("jsonl", rows), scorer, shape)
    same_predictions(decoded("jsonl", out.read_bytes(), ()), expected)


@pytest.mark.parametrize(("text", "names", "positions"), [
    ("$", (), ()), ("$.features", ("features",), ()),
    ("$['id','features']", ("id", "features"), ()),
    ('$["a"]', ("a",), ()), ("$[1:]", (), ((1, None),)), ("$[0,2,-1]", (), (0, 2, -1)),
    ("$[:-1]", (), ((None, -1),)), ("$[0, 3:5]", (), (0, (3, 5))),
])
def test_the_jsonpath_subset(text, names, positions):
    selector = jsonpath.parse(text)
    assert (selector.names, selector.positions) == (names, positions)


@pytest.mark.parametrize("text", ["", "features", "$..a", "$.a.b", "$[a]", "$[*]", "$[1:2:3]"])
def test_jsonpath_outside_the_subset_is_refused(text):
    with pytest.raises(ValueError, match=r"unsupported JSONPath|must"):
        parse_options({"input_filter": text}) if text else jsonpath.parse(text)


def test_job_messages_carry_the_options_and_refuse_bad_ones():
    body = {"input": "s3://b/data/input/a.csv", "accept": "text/csv", "join_source": "None",
            "output_filter": "$[0]"}
    (one,) = parse(QueueMessage("m", "r", json.dumps(body), {}, 1), {"b"})
    assert one.options == JobOptions(accept="text/csv", join_source="None", output_filter="$[0]")
    assert json.loads(one.to_body()) == {"job_id": "m", **body}
    for bad in ({"accept": "image/png"}, {"join_source": "Output"}, {"input_filter": "$..x"},
                {"compression": 1}, {"split": "Line"}):
        with pytest.raises(PoisonMessage):
            body = json.dumps({"input": "s3://b/a.csv", **bad})
            parse(QueueMessage("m", "r", body, {}, 1), {"b"})


def test_a_model_with_text_features_refuses_recordio_inputs(tmp_path, species_model):
    _, scorer, _ = species_model
    with pytest.raises(DataError, match=r"carry numbers only.*island"):
        run(tmp_path, "x.recordio", b"", scorer)


def test_broken_recordio_names_the_record(tmp_path, model):
    scorer, card, rows, _ = model
    good = encoded("recordio", rows.head(3))
    shape = Shape.of(JobOptions(), detect("a.recordio"), card.feature_names, card.classes)
    cases = {b"\0" * 8 + good: "record 1: bad magic number",
             good + good[:10]: "record 4: the file ends inside the record",
             good + recordio.frame(b"\xff\xff\xff"): "record 4: not a Record protobuf",
             good[:-5]: "record 3: the file ends inside the record"}
    for data, message in cases.items():
        with pytest.raises(DataError, match=message):
            run(tmp_path, "a.recordio", data, scorer, shape)


def test_a_headerless_csv_is_read_by_position_and_written_without_a_header(tmp_path, model):
    scorer, card, rows, expected = model
    body = rows.to_csv(index=False, header=False).encode()
    out = run(tmp_path, "plain.csv", body, scorer).read_text().splitlines()
    assert len(out) == len(rows)  # no header row in, none out
    assert out[0].startswith("39.1,18.7,181")
    assert [line.split(",")[-2] for line in out] == expected["predicted_label"].tolist()

    with_ids = rows.assign(id=range(len(rows)))[["id", *rows]]
    shape = Shape.of(parse_options({"input_filter": "$[1:]", "join_source": "None"}),
                     detect("ids.csv"), card.feature_names, card.classes)
    out = run(tmp_path, "ids.csv", with_ids.to_csv(index=False, header=False).encode(),
              scorer, shape).read_text().splitlines()
    assert [line.split(",")[0] for line in out] == expected["predicted_label"].tolist()
    with pytest.raises(DataError, match="the headerless CSV has 6 column"):
        run(tmp_path, "ids.csv", with_ids.to_csv(index=False, header=False).encode(), scorer)
