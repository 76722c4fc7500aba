"""The SQS adapter: batch receive and delete, visibility changes, dead-lettering."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from arq_batch.aws import clients
from arq_batch.aws.faults import aws_errors, classify
from arq_batch.kernel.errors import ConfigError
from arq_batch.kernel.ports import ERROR_ATTRIBUTE, QueueMessage

logger = logging.getLogger(__name__)
_SQS_BATCH = 10


class SqsQueue:
    """Queue over one SQS queue, with its dead-letter queue for permanent failures."""

    def __init__(self, name: str, dlq_name: str | None = None, client: Any = None) -> None:
        self._sqs = client or clients.client("sqs")
        self.name = name
        self.url = self._resolve(name)
        self.dlq_name = dlq_name
        self._dlq_url: str | None = None

    def _resolve(self, name: str) -> str:
        try:
            return str(self._sqs.get_queue_url(QueueName=name)["QueueUrl"])
        except self._sqs.exceptions.QueueDoesNotExist as exc:
            raise ConfigError(f"queue {name!r} does not exist (run 'arq-batch provision')") from exc
        except Exception as exc:
            raise classify(exc) from exc

    @property
    def dlq_url(self) -> str:
        """Resolved on first use: most runs never dead-letter anything."""
        if self._dlq_url is None:
            if not self.dlq_name:
                raise ConfigError(f"queue {self.name!r} has no dead-letter queue configured")
            self._dlq_url = self._resolve(self.dlq_name)
        return self._dlq_url

    def receive(self, max_messages: int, wait_seconds: int) -> list[QueueMessage]:
        """Long-poll for up to ``max_messages`` (at most 10)."""
        with aws_errors():
            response = self._sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=min(max_messages, _SQS_BATCH),
                WaitTimeSeconds=wait_seconds, MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"])
        return [_to_message(raw) for raw in response.get("Messages", [])]

    def delete(self, messages: list[QueueMessage]) -> None:
        """Delete in batches of ten."""
        for chunk in _chunks(messages):
            entries = [{"Id": str(i), "ReceiptHandle": m.receipt_handle}
                       for i, m in enumerate(chunk)]
            self._batch("delete_message_batch", entries)

    def set_visibility(self, messages: list[QueueMessage], seconds: int) -> None:
        """Extend (heartbeat), back off (retry) or release (0) messages in batches."""
        for chunk in _chunks(messages):
            entries = [{"Id": str(i), "ReceiptHandle": m.receipt_handle,
                        "VisibilityTimeout": seconds} for i, m in enumerate(chunk)]
            self._batch("change_message_visibility_batch", entries)

    def depth(self, dead_letters: bool = False) -> dict[str, int]:
        """Messages visible, in flight and delayed, in this queue or its dead-letter queue."""
        names = {"visible": "ApproximateNumberOfMessages",
                 "in_flight": "ApproximateNumberOfMessagesNotVisible",
                 "delayed": "ApproximateNumberOfMessagesDelayed"}
        with aws_errors():
            attrs = self._sqs.get_queue_attributes(
                QueueUrl=self.dlq_url if dead_letters else self.url,
                AttributeNames=list(names.values()))["Attributes"]
        return {key: int(attrs.get(name, 0)) for key, name in names.items()}

    def send(self, body: str, attributes: Mapping[str, str] | None = None) -> str:
        """Send one message to this queue; returns its id."""
        return self._send(self.url, body, attributes)

    def dead_letter(self, message: QueueMessage, error: str, body: str | None = None) -> None:
        """Copy the message to the DLQ with the error attached; then delete it. The body
        stays intact unless ``body`` replaces it (a failed part sends its whole job)."""
        attributes = {**message.attributes, ERROR_ATTRIBUTE: error[:1000]}
        self._send(self.dlq_url, message.body if body is None else body, attributes)
        self.delete([message])

    def drain_dlq(self, visibility: int) -> Iterator[QueueMessage]:
        """Receive DLQ messages until it looks empty, hiding each for ``visibility`` seconds."""
        while True:
            with aws_errors():
                response = self._sqs.receive_message(
                    QueueUrl=self.dlq_url, MaxNumberOfMessages=_SQS_BATCH, WaitTimeSeconds=1,
                    VisibilityTimeout=visibility, MessageSystemAttributeNames=["All"],
                    MessageAttributeNames=["All"])
            raw = response.get("Messages", [])
            if not raw:
                return
            yield from (_to_message(m) for m in raw)

    def release_dlq(self, messages: list[QueueMessage]) -> None:
        """Make listed DLQ messages visible again."""
        self._in_dlq("change_message_visibility_batch", [
            {"Id": str(i), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": 0}
            for i, m in enumerate(messages)])

    def delete_from_dlq(self, message: QueueMessage) -> None:
        """Remove one message from the DLQ (after redriving it)."""
        self._in_dlq("delete_message_batch", [{"Id": "0", "ReceiptHandle": message.receipt_handle}])

    def _in_dlq(self, operation: str, entries: list[dict[str, Any]]) -> None:
        for start in range(0, len(entries), _SQS_BATCH):
            self._call(operation, self.dlq_url, entries[start:start + _SQS_BATCH])

    def _send(self, url: str, body: str, attributes: Mapping[str, str] | None) -> str:
        attrs = {k: {"DataType": "String", "StringValue": v} for k, v in (attributes or {}).items()}
        with aws_errors():
            response = self._sqs.send_message(QueueUrl=url, MessageBody=body,
                                              MessageAttributes=attrs)
        return str(response["MessageId"])

    def _batch(self, operation: str, entries: list[dict[str, Any]]) -> None:
        self._call(operation, self.url, entries)

    def _call(self, operation: str, url: str, entries: list[dict[str, Any]]) -> None:
        with aws_errors():
            response = getattr(self._sqs, operation)(QueueUrl=url, Entries=entries)
        for failure in response.get("Failed", []):
            # A stale receipt handle (the message was redelivered meanwhile) fails here. That
            # is harmless: the message comes back and its idempotent job is redone.
            logger.warning("%s failed for one entry: %s", operation, failure.get("Message"),
                           extra={"event": "sqs_batch_failure"})


def _to_message(raw: Mapping[str, Any]) -> QueueMessage:
    attributes = {
        name: str(value.get("StringValue", value.get("BinaryValue", "")))
        for name, value in raw.get("MessageAttributes", {}).items()
    }
    system = raw.get("Attributes", {})
    return QueueMessage(
        message_id=raw["MessageId"], receipt_handle=raw["ReceiptHandle"], body=raw.get("Body", ""),
        attributes=attributes, receive_count=int(system.get("ApproximateReceiveCount", 1)),
        sent_at=int(system.get("SentTimestamp", 0)) / 1000)


def _chunks(messages: list[QueueMessage]) -> Iterator[list[QueueMessage]]:
    for start in range(0, len(messages), _SQS_BATCH):
        yield messages[start:start + _SQS_BATCH]
