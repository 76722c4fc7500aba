"""One contract, two implementations: the in-memory store and queue behave as the AWS
adapters do over moto (in this process), so tests on the stand-ins mean what they say."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from arq_batch.aws.s3 import S3Store
from arq_batch.aws.sqs import SqsQueue
from arq_batch.kernel.errors import InputChanged, MissingObject, PermanentError
from arq_batch.kernel.ports import ERROR_ATTRIBUTE
from arq_batch.kernel.settings import Encryption
from arq_batch.kernel.uris import S3Uri
from arq_batch.stores.memory import MemoryStore
from arq_batch.stores.memory_queue import MemoryQueue

BUCKET, REGION = "contract", "us-east-1"


@pytest.fixture(params=["memory", "s3"])
def store(request) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryStore([BUCKET])
        return
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        yield S3Store(Encryption(), client=client)


@pytest.fixture(params=["memory", "sqs"])
def queue(request) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryQueue(visibility_timeout=30, max_receive_count=2)
        return
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        dlq = sqs.create_queue(QueueName="q-dlq")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        sqs.create_queue(QueueName="q", Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": f'{{"deadLetterTargetArn": "{arn}", "maxReceiveCount": "2"}}'})
        yield SqsQueue("q", "q-dlq", client=sqs)


def uri(key: str) -> S3Uri:
    return S3Uri(BUCKET, key)


def test_objects_round_trip_with_metadata_and_an_etag_of_their_bytes(store) -> None:
    store.put_bytes(uri("a/x"), b"hello", {"model-run-id": "r1"})
    first = store.head(uri("a/x"))
    assert store.get_bytes(uri("a/x")) == b"hello"
    assert (first.size, first.metadata) == (5, {"model-run-id": "r1"})
    store.put_bytes(uri("a/y"), b"hello")
    assert store.head(uri("a/y")).etag == first.etag
    store.put_bytes(uri("a/x"), b"hello!")
    assert store.head(uri("a/x")).etag != first.etag


def test_missing_objects_and_buckets_are_missing_objects(store) -> None:
    for missing in (uri("nope"), S3Uri("no-such-bucket", "k")):
        with pytest.raises(MissingObject):
            store.head(missing)
        with pytest.raises(MissingObject):
            store.get_bytes(missing)


def test_a_writer_shows_its_object_whole_on_close_and_never_after_abort(store) -> None:
    writer = store.open_writer(uri("out.csv"), {"k": "v"})
    writer.write(b"a,b\n")
    with pytest.raises(MissingObject):
        store.head(uri("out.csv"))
    writer.write(b"1,2\n")
    writer.close()
    assert store.get_bytes(uri("out.csv")) == b"a,b\n1,2\n"
    aborted = store.open_writer(uri("gone.csv"))
    aborted.write(b"x")
    aborted.abort()
    assert not list(store.list_keys(uri("gone")))


def test_put_new_writes_only_once(store) -> None:
    assert store.put_new(uri("claim"), b"1") is True
    assert store.put_new(uri("claim"), b"2") is False
    assert store.get_bytes(uri("claim")) == b"1"


def test_listings_keep_key_order_and_stay_under_their_prefix(store) -> None:
    for key in ("p/b", "p/a/2", "p/a/1", "q/a", "p/ü"):
        store.put_bytes(uri(key), key.encode())
    assert list(store.list_keys(uri("p/"))) == ["p/a/1", "p/a/2", "p/b", "p/ü"]
    sizes = {k: i.size for k, i in store.list_objects(uri("p/a"))}
    assert sizes == {"p/a/1": 5, "p/a/2": 5}
    store.delete(uri("p/b"))
    store.delete(uri("p/b"))  # a key already gone is no error
    assert "p/b" not in list(store.list_keys(uri("p/")))


def test_a_changed_object_fails_a_conditional_read(store) -> None:
    big = bytes(range(256)) * 36_000  # past the S3 adapter's 8 MB read-ahead window
    store.put_bytes(uri("in.parquet"), big)
    info = store.head(uri("in.parquet"))
    reader = store.open_seekable(uri("in.parquet"), info.size, info.etag)
    assert reader.read(100) == big[:100]
    assert store.open_range(uri("in.parquet"), 10, 20, info.etag).read() == big[10:20]
    store.put_bytes(uri("in.parquet"), big[::-1])
    reader.seek(9_000_000)
    with pytest.raises(InputChanged):
        reader.read(100)
    with pytest.raises(PermanentError):
        store.open_range(uri("in.parquet"), 10, 20, info.etag)


def test_compose_concatenates_sources_with_the_targets_metadata(store) -> None:
    store.put_bytes(uri("parts/1"), b"head,")
    store.put_bytes(uri("parts/2"), b"tail")
    store.compose(uri("whole"), [(uri("parts/1"), 5), (uri("parts/2"), 4)], {"k": "v"})
    assert store.get_bytes(uri("whole")) == b"head,tail"
    assert store.head(uri("whole")).metadata == {"k": "v"}


def test_a_received_message_is_hidden_counted_and_released(queue) -> None:
    queue.send("job-1", {"s3_bucket": "b"})
    (first,) = queue.receive(10, 1)
    assert (first.body, first.attributes, first.receive_count) == ("job-1", {"s3_bucket": "b"}, 1)
    assert first.sent_at > 0
    assert queue.receive(10, 0) == []  # hidden while its job runs
    queue.set_visibility([first], 0)
    (again,) = queue.receive(10, 1)
    assert (again.message_id, again.receive_count) == (first.message_id, 2)
    queue.delete([again])
    queue.set_visibility([again], 0)  # gone: nothing comes back
    assert queue.receive(10, 0) == []


def test_the_redrive_policy_moves_a_message_received_too_often(queue) -> None:
    queue.send("poison")
    for _ in range(2):
        (message,) = queue.receive(10, 1)
        queue.set_visibility([message], 0)
    assert queue.receive(10, 1) == []
    (letter,) = list(queue.drain_dlq(30))
    assert letter.body == "poison"


def test_dead_letters_carry_their_reason_and_can_be_listed_and_removed(queue) -> None:
    queue.send("bad")
    (message,) = queue.receive(10, 1)
    queue.dead_letter(message, "data_error: nope")
    assert queue.receive(10, 0) == []
    (letter,) = list(queue.drain_dlq(30))
    assert (letter.body, letter.attributes[ERROR_ATTRIBUTE]) == ("bad", "data_error: nope")
    queue.release_dlq([letter])
    (again,) = list(queue.drain_dlq(30))
    queue.delete_from_dlq(again)
    queue.release_dlq([again])
    assert list(queue.drain_dlq(30)) == []
