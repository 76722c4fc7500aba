"""``watch``: each new object enqueued once, state in the bucket (moto's S3 and SQS)."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from moto import mock_aws

from arq_batch.aws.provision import provision
from arq_batch.aws.s3 import S3Store
from arq_batch.aws.sqs import SqsQueue
from arq_batch.feeders.watch import CLAIMED, STALE_SECONDS, Watcher
from arq_batch.kernel.errors import RetryableError
from arq_batch.kernel.uris import S3Uri


@pytest.fixture
def cloud(settings):
    with mock_aws():
        provision(settings)
        s3 = boto3.client("s3", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        # As on a store that cannot notify SQS: only the watcher makes jobs.
        s3.put_bucket_notification_configuration(Bucket=settings.bucket,
                                                 NotificationConfiguration={})
        url = sqs.get_queue_url(QueueName=settings.queue)["QueueUrl"]
        sqs.purge_queue(QueueUrl=url)  # the s3:TestEvent of provisioning
        yield s3, sqs, url


def bodies(sqs, url) -> list[dict]:
    found = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       VisibilityTimeout=60).get("Messages", []):
        found += [json.loads(m["Body"]) for m in batch]
    return found


def watcher(settings, clock=lambda: 1e10) -> Watcher:
    return Watcher(S3Store(settings.encryption), SqsQueue(settings.queue), settings, clock)


def test_passes_enqueue_each_object_and_etag_once(settings, cloud):
    s3, sqs, url = cloud
    for key in ("data/input/a.csv", "data/input/deeper/b.csv", "data/input/folder/",
                "data/other/c.csv"):
        s3.put_object(Bucket=settings.bucket, Key=key, Body=b"x,y\n1,2\n")
    first = watcher(settings).run_pass()
    assert sorted(first.enqueued) == ["data/input/a.csv", "data/input/deeper/b.csv"]
    assert watcher(settings).run_pass().enqueued == ()  # a restarted watcher repeats nothing
    sent = bodies(sqs, url)
    assert sorted(b["input"] for b in sent) == [
        f"s3://{settings.bucket}/data/input/a.csv", f"s3://{settings.bucket}/data/input/deeper/b.csv"]
    s3.put_object(Bucket=settings.bucket, Key="data/input/a.csv", Body=b"x,y\n3,4\n")
    again = watcher(settings).run_pass()
    assert again.enqueued == ("data/input/a.csv",)  # overwritten: a new ETag, a new job
    assert bodies(sqs, url)[0]["job_id"] != next(b for b in sent
                                                if b["input"].endswith("a.csv"))["job_id"]


def test_a_claim_held_by_another_watcher_is_left_until_it_is_stale(settings, cloud):
    s3, sqs, url = cloud
    s3.put_object(Bucket=settings.bucket, Key="data/input/a.csv", Body=b"x\n1\n")
    etag = s3.head_object(Bucket=settings.bucket, Key="data/input/a.csv")["ETag"].strip('"')
    # Another watcher claimed it and has not sent it yet (or died before sending).
    s3.put_object(Bucket=settings.bucket,
                  Key=f"{settings.prefixes.watch}data/input/a.csv@{etag}{CLAIMED}", Body=b"{}")
    claimed = s3.head_object(Bucket=settings.bucket, Key=f"{settings.prefixes.watch}"
                             f"data/input/a.csv@{etag}{CLAIMED}")["LastModified"].timestamp()
    assert watcher(settings, lambda: claimed + 1).run_pass().enqueued == ()
    assert bodies(sqs, url) == []
    late = watcher(settings, lambda: claimed + STALE_SECONDS + 1).run_pass()
    assert late.enqueued == ("data/input/a.csv",)
    assert watcher(settings, lambda: claimed + 2 * STALE_SECONDS).run_pass().enqueued == ()


def test_of_two_watchers_claiming_at_once_one_wins(settings, cloud):
    store = S3Store(settings.encryption)
    marker = S3Uri(settings.bucket, f"{settings.prefixes.watch}x@1{CLAIMED}")
    assert store.put_new(marker, b"{}") is True
    assert store.put_new(marker, b"{}") is False


def test_a_long_key_gets_a_hashed_marker_and_one_failure_does_not_stop_a_pass(settings, cloud):
    s3, sqs, url = cloud
    long_key = "data/input/" + "k" * 990 + ".csv"  # its marker would pass S3's 1,024 bytes
    for key in (long_key, "data/input/a.csv", "data/input/b.csv"):
        s3.put_object(Bucket=settings.bucket, Key=key, Body=b"x\n1\n")

    class Flaky(SqsQueue):
        def send(self, body, attributes=None):
            if "a.csv" in body:
                raise RetryableError("throttled")
            return super().send(body, attributes)

    flaky = Watcher(S3Store(settings.encryption), Flaky(settings.queue), settings)
    assert sorted(flaky.run_pass().enqueued) == ["data/input/b.csv", long_key]
    # Its claim was released: the next pass sends it at once, and no pass after that.
    now = watcher(settings, clock=time.time)
    assert now.run_pass().enqueued == ("data/input/a.csv",)
    assert now.run_pass().enqueued == ()
    assert len(bodies(sqs, url)) == 3
