"""``dlq list`` shows dead-lettered jobs with their errors; ``dlq redrive`` puts them back."""

from __future__ import annotations

import json

from .conftest import cli
from .helpers import DLQ, QUEUE, provision_and_train, queue_depth, queue_url


def test_list_then_redrive_returns_the_original_messages(sqs, config_file, start_worker) -> None:
    # Given two poison messages that a worker has dead-lettered
    provision_and_train()
    sqs.purge_queue(QueueUrl=queue_url(sqs))
    bodies = {"not a job", '{"input": "file:///etc/passwd"}'}
    for body in bodies:
        sqs.send_message(QueueUrl=queue_url(sqs), MessageBody=body)
    assert start_worker("--once").process.wait(timeout=60) == 0
    assert queue_depth(sqs, DLQ) == 2
    # When they are listed (twice: listing must not hide or consume them)
    listed = [json.loads(cli("dlq", "list", "--json").stdout)["messages"] for _ in range(2)]
    # Then both show their body and why they failed
    assert len(listed[0]) == len(listed[1]) == 2
    assert {m["body"] for m in listed[1]} == bodies
    assert all(m["error"].startswith("poison_message: ") for m in listed[1])
    # When they are redriven
    assert json.loads(cli("dlq", "redrive", "--json").stdout) == {"redriven": 2}
    # Then the DLQ is empty and the main queue has the original bodies, without the error
    assert queue_depth(sqs, DLQ) == 0
    back = sqs.receive_message(QueueUrl=queue_url(sqs, QUEUE), MaxNumberOfMessages=10,
                               MessageAttributeNames=["All"], WaitTimeSeconds=1)["Messages"]
    assert {m["Body"] for m in back} == bodies
    assert not any("arq_error" in m.get("MessageAttributes", {}) for m in back)
