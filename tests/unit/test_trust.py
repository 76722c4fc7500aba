"""Trust boundaries, the pure parts: where outputs may go, prefixes, events, bad values."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from arq_batch.cli.main import main
from arq_batch.engine import messages
from arq_batch.kernel import layout
from arq_batch.kernel.errors import ConfigError, DataError, OutputNotAllowed
from arq_batch.kernel.ports import QueueMessage
from arq_batch.kernel.settings import Prefixes, load_settings
from arq_batch.kernel.uris import S3Uri
from arq_batch.query.engine import _literal

PREFIXES = Prefixes()
BUCKET = "arq-batch-s3"


@pytest.mark.parametrize("prefix", sorted(PREFIXES.owned().values()))
def test_an_output_under_any_owned_prefix_is_refused(prefix) -> None:
    with pytest.raises(OutputNotAllowed, match="owns"):
        layout.check_output(S3Uri(BUCKET, f"{prefix}deep/x.csv"), PREFIXES)


@pytest.mark.parametrize("key", ["data/output/x.csv", "results/2026/x.csv", "x.csv",
                                 "data/outputs-elsewhere/x.csv", "model/other/x.csv"])
def test_an_output_outside_them_is_allowed(key) -> None:
    layout.check_output(S3Uri(BUCKET, key), PREFIXES)


@pytest.mark.parametrize("key", ["data/output/../model/output/latest.json", "a/./b.csv"])
def test_dot_segments_are_refused_since_a_file_store_may_resolve_them(key) -> None:
    with pytest.raises(OutputNotAllowed, match="segment"):
        layout.check_output(S3Uri(BUCKET, key), PREFIXES)


def test_an_output_onto_its_own_input_is_refused() -> None:
    uri = S3Uri(BUCKET, "elsewhere/in.csv")
    with pytest.raises(OutputNotAllowed, match="own input"):
        layout.check_output(uri, PREFIXES, uri)


@pytest.mark.parametrize(("name", "value", "named"), [
    ("input", "data/", "input ('data/')"),
    ("jobs", "data/output/jobs/", "jobs ('data/output/jobs/')"),
    ("monitoring", "model/output/", "model ('model/output/')"),
])
def test_overlapping_prefixes_are_refused_naming_both(tmp_path, name, value, named) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({"prefixes": {name: value}}))
    with pytest.raises(ConfigError, match="overlap") as refused:
        load_settings({"ARQ_BATCH_CONFIG": str(config)})
    assert named in str(refused.value)


def test_only_notifications_are_events_and_own_writes_are_recognised() -> None:
    event = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                          "s3": {"bucket": {"name": BUCKET},
                                 "object": {"key": "data/jobs/x.json"}}}]}
    explicit = {"input": f"s3://{BUCKET}/data/jobs/x.json"}
    (from_event,) = messages.parse(QueueMessage("m", "r", json.dumps(event), {}, 1), {BUCKET})
    (named,) = messages.parse(QueueMessage("m", "r", json.dumps(explicit), {}, 1), {BUCKET})
    assert from_event.event and not named.event
    written = [p for n, p in PREFIXES.written().items()]
    assert all(layout.is_own_write(p + "k", PREFIXES) for p in written)
    assert not layout.is_own_write("data/input/k.csv", PREFIXES)
    assert not layout.is_own_write("incoming/k.csv", PREFIXES)


@pytest.mark.parametrize(("argv", "words"), [
    (["send", "s3://arq-batch-s3/data/input/a.csv", "--output",
      "s3://arq-batch-s3/model/output/latest.json"], "owns"),
    (["send", "s3://another-bucket/a.csv"], "not allowed"),
    (["send", "not-a-uri"], "not an s3:// URI"),
    (["send", "s3://arq-batch-s3/a.csv", "--output", "s3://arq-batch-s3/a.csv"], "own input"),
    (["score", "--input", "s3://arq-batch-s3/a.csv", "--output",
      "s3://arq-batch-s3/data/jobs/x.csv"], "owns"),
    (["score", "--input", "same.csv", "--output", "./same.csv"], "own input"),
    (["query", " "], "needs an SQL statement"),
])
def test_requests_we_would_refuse_exit_2_with_one_line_before_any_aws_call(
        argv, words, capsys, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and words in err, err


def test_values_arrow_refuses_are_data_errors(species_model) -> None:
    _, scorer, x = species_model
    row = pa.Table.from_pandas(x.head(1), preserve_index=False)
    huge = row.set_column(row.schema.get_field_index("year"), "year",
                          pa.array([2**53 + 1], pa.int64()))
    binary = row.set_column(row.schema.get_field_index("island"), "island",
                            pa.array([b"\xff\xfe"], pa.binary()))
    flag = row.set_column(row.schema.get_field_index("year"), "year", pa.array([True]))
    for table, words in ((huge, "year"), (binary, "island"), (flag, "booleans")):
        with pytest.raises(DataError, match=words):
            scorer.decision(table)


@pytest.mark.parametrize(("key", "literal"), [
    ("data/output/a b/ünï #1 %20.csv", True), ("data/output/a?b.csv", False),
    ("data/output/x/../y.csv", False), ("data/output/./y.csv", False),
    ("data/output/q*.csv", False), ("data/output/br[a].csv", False)])
def test_keys_the_sql_engine_would_rewrite_are_told_apart(key, literal) -> None:
    assert _literal(key) is literal
