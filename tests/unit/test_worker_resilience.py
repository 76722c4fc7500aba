"""The worker outlives failures of its own bookkeeping (moto in-process)."""

from __future__ import annotations

import dataclasses

import boto3
from moto import mock_aws

from arq_batch.aws.s3 import S3Store
from arq_batch.aws.sqs import SqsQueue
from arq_batch.kernel.outcomes import Outcome
from arq_batch.models.store import ModelStore
from arq_batch.worker.loop import Worker
from arq_batch.worker.runner import JobRunner


@mock_aws
def test_a_message_whose_error_report_cannot_be_written_is_kept_for_later(settings,
                                                                          tmp_path) -> None:
    # Given queues but no bucket, so the poison message's report cannot be written
    sqs = boto3.client("sqs", region_name="us-east-1")
    dlq = sqs.create_queue(QueueName=settings.dlq_name)["QueueUrl"]
    url = sqs.create_queue(QueueName=settings.queue)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="garbage")
    settings = settings.replace(worker=dataclasses.replace(
        settings.worker, heartbeat_file=str(tmp_path / "beat")),
        queue_settings=dataclasses.replace(settings.queue_settings, wait_time_seconds=0))
    store = S3Store(settings.encryption, client=boto3.client("s3", region_name="us-east-1"))
    queue = SqsQueue(settings.queue, settings.dlq_name, client=sqs)
    worker = Worker(queue, store, JobRunner(store, ModelStore(store, settings), settings),
                    settings, concurrency=1, once=True)
    # When the worker runs the queue dry
    worker.run()
    # Then it did not crash, and the message was neither lost nor dead-lettered
    assert worker.outcomes[Outcome.RETRY] >= 1
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]) == 1  # waiting to be redelivered
    dlq_attrs = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["All"])["Attributes"]
    assert int(dlq_attrs["ApproximateNumberOfMessages"]) == 0
