"""The two small interfaces everything depends on; their adapters are ``aws`` (S3, SQS) and
``stores`` (in memory, local files)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from arq_batch.kernel.errors import MissingObject
from arq_batch.kernel.uris import S3Uri


@dataclass(frozen=True)
class ObjectInfo:
    """What a HEAD tells us about an object."""

    size: int
    etag: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    modified: float = 0.0  # last modified, epoch seconds (from a listing)


class ObjectWriter(Protocol):
    """A sink whose object appears atomically on ``close`` and never after ``abort``."""

    def write(self, data: bytes) -> int: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


class ObjectStore(Protocol):
    """The object-store operations arq-batch needs."""

    def head(self, uri: S3Uri) -> ObjectInfo: ...
    def open_stream(self, uri: S3Uri) -> BinaryIO: ...
    def open_object(self, uri: S3Uri) -> tuple[ObjectInfo, BinaryIO]: ...
    def open_seekable(self, uri: S3Uri, size: int, etag: str = "") -> BinaryIO: ...
    def open_range(self, uri: S3Uri, start: int, end: int, etag: str) -> BinaryIO: ...
    def compose(self, target: S3Uri, sources: Sequence[tuple[S3Uri, int]],
                metadata: Mapping[str, str]) -> None: ...
    def get_bytes(self, uri: S3Uri) -> bytes: ...
    def put_bytes(
        self, uri: S3Uri, data: bytes, metadata: Mapping[str, str] | None = None
    ) -> None: ...
    def open_writer(
        self, uri: S3Uri, metadata: Mapping[str, str] | None = None
    ) -> ObjectWriter: ...
    def put_new(self, uri: S3Uri, data: bytes) -> bool: ...
    def list_keys(self, uri: S3Uri) -> Iterator[str]: ...
    def list_objects(self, uri: S3Uri) -> Iterator[tuple[str, ObjectInfo]]: ...
    def delete(self, uri: S3Uri) -> None: ...


def exists(store: ObjectStore, uri: S3Uri) -> bool:
    """Whether an object is there (a HEAD; any other error is raised)."""
    try:
        store.head(uri)
    except MissingObject:
        return False
    return True


@dataclass(frozen=True)
class QueueMessage:
    """One received message: the raw body and attributes stay opaque until messages.py."""

    message_id: str
    receipt_handle: str
    body: str
    attributes: Mapping[str, str]
    receive_count: int
    sent_at: float = 0.0  # when it was first sent (epoch seconds); 0 if unknown


ERROR_ATTRIBUTE = "arq_error"  # the message attribute a dead letter's reason travels in


class Queue(Protocol):
    """The queue operations the worker needs."""

    def receive(self, max_messages: int, wait_seconds: int) -> list[QueueMessage]: ...
    def delete(self, messages: list[QueueMessage]) -> None: ...
    def set_visibility(self, messages: list[QueueMessage], seconds: int) -> None: ...
    def send(self, body: str, attributes: Mapping[str, str] | None = None) -> str: ...
    def dead_letter(self, message: QueueMessage, error: str,
                    body: str | None = None) -> None: ...


class DeadLetterQueue(Queue, Protocol):
    """A queue with its dead-letter queue, as ``dlq list|redrive`` and ``status`` use it."""

    def depth(self, dead_letters: bool = False) -> dict[str, int]: ...
    def drain_dlq(self, visibility: int) -> Iterator[QueueMessage]: ...
    def release_dlq(self, messages: list[QueueMessage]) -> None: ...
    def delete_from_dlq(self, message: QueueMessage) -> None: ...
