"""Provisioning's queue half: the queue and its dead-letter queue, with their attributes."""

from __future__ import annotations

import json
from typing import Any

from arq_batch.kernel.settings import Settings


def queue(sqs: Any, name: str, attributes: dict[str, str]) -> tuple[str, list[str]]:
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"], [
            f"created queue {name}"]
    return url, set_attributes(sqs, url, name, attributes)


def set_attributes(sqs: Any, url: str, name: str, wanted: dict[str, str]) -> list[str]:
    current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    differ = {k: v for k, v in wanted.items() if not _same_attribute(current.get(k), v)}
    if not differ:
        return []
    sqs.set_queue_attributes(QueueUrl=url, Attributes=differ)
    return [f"set {', '.join(sorted(differ))} on queue {name}"]


def _same_attribute(current: str | None, wanted: str) -> bool:
    if current is None:
        return False
    if wanted.startswith("{"):  # policies compare as JSON, not as text
        return bool(json.loads(current) == json.loads(wanted))
    return current == wanted


def arn(sqs: Any, url: str) -> str:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return str(attrs["QueueArn"])


def dlq_attributes(settings: Settings) -> dict[str, str]:
    return {"MessageRetentionPeriod": str(settings.queue_settings.retention_seconds)}


def queue_attributes(settings: Settings, dlq_arn: str, queue_arn: str) -> dict[str, str]:
    q = settings.queue_settings
    policy = {"Version": "2012-10-17", "Statement": [{
        "Sid": "AllowS3ToSend", "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{settings.bucket}"}}}]}
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": q.max_receive_count}
    return {"VisibilityTimeout": str(q.visibility_timeout),
            "ReceiveMessageWaitTimeSeconds": str(q.wait_time_seconds),
            "MessageRetentionPeriod": str(q.retention_seconds),
            "RedrivePolicy": json.dumps(redrive), "Policy": json.dumps(policy)}
