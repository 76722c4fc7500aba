"""Every message shape of contract section 6, with realistic bodies."""

from __future__ import annotations

import json

import pytest

from arq_batch.engine.messages import Job, parse
from arq_batch.kernel.errors import BucketNotAllowed, PoisonMessage
from arq_batch.kernel.uris import S3Uri

from ..stories import BUCKETS, message, s3_event


def test_job_message_with_every_field() -> None:
    body = {"input": "s3://arq-batch-s3/data/input/a.csv", "output": "s3://arq-batch-s3/x/y.csv",
            "model": "s3://arq-batch-s3/model/output/run-1/", "job_id": "j-7"}
    assert parse(message(body), BUCKETS) == (Job(
        "j-7", S3Uri("arq-batch-s3", "data/input/a.csv"), S3Uri("arq-batch-s3", "x/y.csv"),
        S3Uri("arq-batch-s3", "model/output/run-1/")),)


def test_job_message_defaults_job_id_to_message_id() -> None:
    (job,) = parse(message({"input": "s3://arq-batch-s3/data/input/a.csv"}), BUCKETS)
    assert job.job_id == "msg-1" and job.output is None and job.model is None


def test_s3_event_decodes_plus_and_percent_encoded_keys() -> None:
    jobs = parse(message(s3_event("data/input/my+file%282%29.csv", "data%2Finput%2Fb.csv")),
                 BUCKETS)
    assert [j.input.key for j in jobs] == ["data/input/my file(2).csv", "data/input/b.csv"]
    assert [j.job_id for j in jobs] == ["msg-1-0", "msg-1-1"]


def test_sns_envelope_around_an_s3_event() -> None:
    envelope = {"Type": "Notification", "MessageId": "sns-1", "TopicArn": "arn:aws:sns:x",
                "Message": json.dumps(s3_event("data/input/a.csv"))}
    (job,) = parse(message(envelope), BUCKETS)
    assert job.input == S3Uri("arq-batch-s3", "data/input/a.csv")


def test_sns_envelope_around_a_job_message() -> None:
    envelope = {"Type": "Notification",
                "Message": json.dumps({"input": "s3://arq-batch-s3/data/input/a.csv"})}
    assert parse(message(envelope), BUCKETS)[0].input.key == "data/input/a.csv"


def test_eventbridge_object_created_keeps_the_key_literal() -> None:
    event = {"version": "0", "id": "eb-1", "detail-type": "Object Created", "source": "aws.s3",
             "detail": {"version": "0", "bucket": {"name": "arq-batch-s3"},
                        "object": {"key": "data/input/a+b 2026:01.csv", "size": 5},
                        "reason": "PutObject"}}
    (job,) = parse(message(event), BUCKETS)
    assert job.input.key == "data/input/a+b 2026:01.csv" and job.job_id == "eb-1"


def test_legacy_attributes_with_model() -> None:
    attrs = {"s3_bucket": "arq-batch-s3", "s3_bucket_file": "data/input/old.csv",
             "s3_bucket_model": "model/output/run-1/model.joblib"}
    (job,) = parse(message("anything at all", attrs), BUCKETS)
    assert job.input.key == "data/input/old.csv"
    assert job.model == S3Uri("arq-batch-s3", "model/output/run-1/")


def test_s3_test_event_yields_no_jobs() -> None:
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "arq-batch-s3",
                  "Time": "2026-11-22T00:00:00.000Z", "RequestId": "r", "HostId": "h"}
    assert parse(message(test_event), BUCKETS) == ()


@pytest.mark.parametrize("body", [
    "not json at all", "[1, 2]", {"hello": "world"}, {"Records": []},
    {"input": "file:///etc/passwd"}, {"input": "s3://arq-batch-s3/data/input/"},
    {"input": "s3://arq-batch-s3/a.csv", "surprise": 1},
    {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectRemoved:Delete",
                  "s3": {"bucket": {"name": "arq-batch-s3"}, "object": {"key": "k"}}}]},
])
def test_garbage_is_poison(body: object) -> None:
    with pytest.raises(PoisonMessage):
        parse(message(body), BUCKETS)


@pytest.mark.parametrize("body", [
    s3_event("data/input/a.csv", bucket="someone-elses"),
    {"input": "s3://arq-batch-s3/data/input/a.csv", "output": "s3://elsewhere/out.csv"},
])
def test_other_buckets_are_refused(body: object) -> None:
    with pytest.raises(BucketNotAllowed):
        parse(message(body), BUCKETS)
