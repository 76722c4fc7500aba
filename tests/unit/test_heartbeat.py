"""The heartbeat never undoes a job's own visibility change (moto in-process)."""

from __future__ import annotations

import threading

import boto3
from moto import mock_aws

from arq_batch.aws.sqs import SqsQueue
from arq_batch.kernel.ports import QueueMessage
from arq_batch.worker.heartbeat import Heartbeat


def visible(sqs, url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


@mock_aws
def test_a_release_during_a_beat_wins(tmp_path) -> None:
    # Given a received message whose job still counts as running
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    queue = SqsQueue("q", client=sqs)
    message: QueueMessage = queue.receive(1, 0)[0]
    extending, go = threading.Event(), threading.Event()

    class SlowToExtend:  # the beat's request is in flight for a while, as under load
        def set_visibility(self, messages: list[QueueMessage], seconds: int) -> None:
            extending.set()
            go.wait(5)
            queue.set_visibility(messages, seconds)

    heartbeat = Heartbeat(SlowToExtend(), lambda: [message], visibility_timeout=30,
                          path=tmp_path / "beat")
    beat = threading.Thread(target=heartbeat.beat)
    beat.start()
    extending.wait(5)

    # When the job releases its message while that beat is under way
    def release() -> None:
        heartbeat.hand_over([message])
        queue.set_visibility([message], 0)

    releasing = threading.Thread(target=release)
    releasing.start()
    releasing.join(0.2)  # without the fix, the release lands first and the beat undoes it
    go.set()
    beat.join(5)
    releasing.join(5)

    # Then the release came last: the message is visible, and later beats leave it alone
    assert visible(sqs, url) == 1
    heartbeat.beat()
    assert visible(sqs, url) == 1
