"""Trust boundaries end to end (issue: a job could write anywhere in the bucket).

A real moto server and real worker processes: hostile outputs are refused at ``send`` and
in the worker, one output belongs to one input, a new request is a new output, and a
notification for our own writes never becomes a job."""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

import pytest

from arq_batch.kernel.settings import Prefixes

from .conftest import cli
from .helpers import (
    BUCKET,
    dead_letter_bodies,
    penguins_csv,
    provision_and_train,
    queue_depth,
    send_job,
)

LATEST = "model/output/latest.json"


@pytest.fixture
def trained(config_file) -> str:
    return provision_and_train()


def _hostile_outputs(run_id: str) -> list[str]:
    """The model pointer, a model folder's files, the ledger, and every owned prefix."""
    owned = [f"s3://{BUCKET}/{prefix}x.csv" for prefix in Prefixes().owned().values()]
    return [f"s3://{BUCKET}/{LATEST}", f"s3://{BUCKET}/model/output/{run_id}/model.json",
            f"s3://{BUCKET}/model/output/forged/scorer.json",
            f"s3://{BUCKET}/data/jobs/dt=2026-01-01/evil.json",
            f"s3://{BUCKET}/data/output/../model/output/latest.json", *owned]


def test_send_refuses_every_hostile_output_with_exit_2(s3, trained) -> None:
    s3.put_object(Bucket=BUCKET, Key="data/input/a.csv", Body=penguins_csv())
    for output in _hostile_outputs(trained):
        result = cli("send", f"s3://{BUCKET}/data/input/a.csv", "--output", output, check=False)
        assert result.returncode == 2, (output, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    other = cli("send", "s3://someone-elses-bucket/a.csv", check=False)
    malformed = cli("send", "not-a-uri", check=False)
    assert (other.returncode, malformed.returncode) == (2, 2), (other.stderr, malformed.stderr)
    assert "not allowed" in other.stderr and "s3://" in malformed.stderr


def test_the_worker_dead_letters_hostile_outputs_and_leaves_model_and_ledger_alone(
        s3, sqs, trained) -> None:
    # Given messages sent straight to the queue (bypassing send's checks)
    s3.put_object(Bucket=BUCKET, Key="data/input/a.csv", Body=penguins_csv())
    latest = s3.get_object(Bucket=BUCKET, Key=LATEST)["Body"].read()
    hostile = _hostile_outputs(trained)
    for output in hostile:
        send_job(sqs, input=f"s3://{BUCKET}/data/input/a.csv", output=output)
    # When a worker works the queue dry
    cli("worker", "--once")
    # Then each is dead-lettered with a report naming the output, nothing was written there
    letters = dead_letter_bodies(sqs)
    assert sorted(b["output"] for b in letters) == sorted(hostile)
    reports = s3.list_objects_v2(Bucket=BUCKET, Prefix="data/errors/")["Contents"]
    report = json.loads(s3.get_object(Bucket=BUCKET, Key=reports[0]["Key"])["Body"].read())
    assert report["error"] == "output_not_allowed", report
    assert "owns" in report["detail"] or "segment" in report["detail"], report
    assert s3.get_object(Bucket=BUCKET, Key=LATEST)["Body"].read() == latest
    assert json.loads(cli("status", "--json").stdout)["model_run"] == trained
    assert cli("query", "SELECT count(*) AS n FROM jobs").returncode == 0
    assert cli("models", "list").returncode == 0


def _output_meta(s3, key: str) -> dict[str, str]:
    return s3.head_object(Bucket=BUCKET, Key=key)["Metadata"]


def test_two_inputs_never_share_an_output(s3, sqs, trained) -> None:
    # Given coll.csv outside data/input/ scored first (its default output is data/output/coll.csv)
    s3.put_object(Bucket=BUCKET, Key="coll.csv", Body=penguins_csv())
    send_job(sqs, input=f"s3://{BUCKET}/coll.csv")
    cli("worker", "--once")
    first = s3.get_object(Bucket=BUCKET, Key="data/output/coll.csv")["Body"].read()
    # When data/input/coll.csv, which maps to the same key, is scored
    s3.put_object(Bucket=BUCKET, Key="data/input/coll.csv", Body=penguins_csv(2))
    cli("worker", "--once")
    # Then its job fails as permanent, naming the owner, and the first output is untouched
    (letter,) = dead_letter_bodies(sqs)
    assert unquote_plus(letter["Records"][0]["s3"]["object"]["key"]) == "data/input/coll.csv"
    report = json.loads(s3.get_object(Bucket=BUCKET, Key="data/errors/coll.csv.json")["Body"]
                        .read())
    assert report["error"] == "output_not_allowed", report
    assert "another input (s3://arq-batch-s3/coll.csv)" in report["detail"], report
    assert s3.get_object(Bucket=BUCKET, Key="data/output/coll.csv")["Body"].read() == first
    assert _output_meta(s3, "data/output/coll.csv")["input-uri"] == f"s3://{BUCKET}/coll.csv"


def test_a_request_with_other_options_is_rescored_and_an_identical_one_skipped(
        s3, sqs, trained) -> None:
    s3.put_object(Bucket=BUCKET, Key="in.csv", Body=penguins_csv())
    out = f"s3://{BUCKET}/results/in.csv"
    send_job(sqs, input=f"s3://{BUCKET}/in.csv", output=out)
    cli("worker", "--once")
    joined = s3.get_object(Bucket=BUCKET, Key="results/in.csv")["Body"].read()
    # When the same input is sent again with join_source None, then once more the same way
    send_job(sqs, input=f"s3://{BUCKET}/in.csv", output=out, join_source="None")
    cli("worker", "--once")
    alone = s3.get_object(Bucket=BUCKET, Key="results/in.csv")["Body"].read()
    send_job(sqs, input=f"s3://{BUCKET}/in.csv", output=out, join_source="None")
    cli("worker", "--once")
    # Then the new request was scored (predictions only) and its repeat skipped
    assert alone.splitlines()[0] == b"predicted_label,score" != joined.splitlines()[0]
    ledger = json.loads(cli("query", "SELECT outcome FROM jobs ORDER BY finished_at",
                            "--format", "json").stdout)
    assert [r["outcome"] for r in ledger] == ["done", "done", "skipped"]


def test_outputs_written_before_this_change_are_rescored_and_foreign_objects_kept(
        s3, sqs, trained) -> None:
    # Given an output as today's code wrote it (run id and input ETag, nothing else) ...
    s3.put_object(Bucket=BUCKET, Key="old.csv", Body=penguins_csv())
    etag = s3.head_object(Bucket=BUCKET, Key="old.csv")["ETag"].strip('"')
    s3.put_object(Bucket=BUCKET, Key="data/output/old.csv", Body=b"stale",
                  Metadata={"model-run-id": trained, "input-etag": etag})
    # ... and an object arq-batch did not write where another job's output would go
    s3.put_object(Bucket=BUCKET, Key="mine.csv", Body=penguins_csv())
    s3.put_object(Bucket=BUCKET, Key="data/output/mine.csv", Body=b"precious")
    send_job(sqs, input=f"s3://{BUCKET}/old.csv")
    send_job(sqs, input=f"s3://{BUCKET}/mine.csv")
    cli("worker", "--once")
    # Then the old output is scored again (an unknown request), the foreign one kept
    assert _output_meta(s3, "data/output/old.csv")["input-uri"] == f"s3://{BUCKET}/old.csv"
    assert s3.get_object(Bucket=BUCKET, Key="data/output/mine.csv")["Body"].read() == b"precious"
    (letter,) = dead_letter_bodies(sqs)
    assert letter["input"] == f"s3://{BUCKET}/mine.csv"


def test_events_for_our_own_writes_are_dropped_without_a_report(s3, sqs, trained) -> None:
    # Given notifications for keys the worker itself writes (a notification too broad)
    for key in ("data/output/a.csv", "data/jobs/dt=2026-01-01/x-1.json",
                "data/errors/a.csv.json", "model/output/latest.json"):
        event = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                              "s3": {"bucket": {"name": BUCKET}, "object": {"key": key}}}]}
        send_job(sqs, **event)
    # When a worker works the queue dry
    cli("worker", "--once")
    # Then nothing was scored, recorded, reported or dead-lettered, and the queue is empty
    for prefix in ("data/errors/", "data/jobs/", "data/output/data/"):
        assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix), prefix
    assert queue_depth(sqs) == 0
    assert dead_letter_bodies(sqs) == []


def test_overlapping_prefixes_stop_the_worker_with_exit_2(config_file) -> None:
    config_file(prefixes={"input": "data/"})
    result = cli("worker", "--once", check=False)
    assert result.returncode == 2
    assert "input ('data/')" in result.stderr and "overlap" in result.stderr


def test_odd_keys_are_data_and_never_break_a_view_for_everyone(s3, trained) -> None:
    # Given inputs (and one bad input, for an error report) whose keys hold '..', '.',
    # '?', '#', '%', spaces and unicode, scored through the S3 notification
    odd = ["x/../y.csv", "./z.csv", "a?b.csv", "c#d.csv", "e%20f.csv", "g h/ünï.csv"]
    for name in odd:
        s3.put_object(Bucket=BUCKET, Key=f"data/input/{name}", Body=penguins_csv())
    s3.put_object(Bucket=BUCKET, Key="data/input/bad?#.csv", Body=b"species\nAdelie\n")
    cli("worker", "--once")
    assert all("Contents" in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"data/output/{n}")
               for n in odd)
    # When the views over outputs and errors are queried
    outputs = cli("query", "SELECT count(DISTINCT key) AS n FROM outputs", "--format", "json")
    errors = cli("query", "SELECT count(*) AS n FROM errors", "--format", "json")
    # Then each answers: the keys it reads literally, a warning naming what it skipped
    assert json.loads(outputs.stdout) == [{"n": 3}]  # c#d, e%20f, g h/ünï
    assert "skips 3 object(s)" in outputs.stderr
    assert json.loads(errors.stdout) == [{"n": 0}] and "skips 1 object(s)" in errors.stderr
    keys = json.loads(cli("query", "SELECT DISTINCT key FROM outputs ORDER BY key", "--format",
                          "json").stdout)
    assert [k["key"].rsplit("/output/", 1)[1] for k in keys] == ["c#d.csv", "e%20f.csv",
                                                                  "g h/ünï.csv"]
    # And with only keys it reads literally left, the view's glob reads them too
    for name in ("x/../y.csv", "./z.csv", "a?b.csv"):
        s3.delete_object(Bucket=BUCKET, Key=f"data/output/{name}")
    again = cli("query", "SELECT count(DISTINCT key) AS n FROM outputs", "--format", "json")
    assert json.loads(again.stdout) == [{"n": 3}] and "skips" not in again.stderr


def test_an_input_replaced_while_read_by_ranges_fails_the_read_as_retryable(s3, aws) -> None:
    # Given a Parquet-sized object opened for ranged reads with its first ETag
    from arq_batch.aws.s3 import S3Store
    from arq_batch.kernel.errors import InputChanged, RetryableError
    from arq_batch.kernel.settings import load_settings
    from arq_batch.kernel.uris import S3Uri

    cli("provision")
    body = bytes(range(256)) * 80_000  # 20 MB: more than one read-ahead window
    s3.put_object(Bucket=BUCKET, Key="in.parquet", Body=body)
    store, uri = S3Store(load_settings().encryption), S3Uri(BUCKET, "in.parquet")
    info = store.head(uri)
    reader = store.open_seekable(uri, info.size, info.etag)
    assert reader.read(1000) == body[:1000]
    # When the object is replaced before the next window is read
    s3.put_object(Bucket=BUCKET, Key="in.parquet", Body=body[::-1])
    reader.seek(15_000_000)
    # Then the read fails as retryable, never mixing two versions
    with pytest.raises(InputChanged) as changed:
        reader.read(1000)
    assert isinstance(changed.value, RetryableError)
