"""A queue and its dead-letter queue in memory, kept as SQS keeps them where arq-batch
relies on it: a received message is hidden for a visibility timeout and counted, one
received too often moves to the dead-letter queue (the redrive policy), and a stale
receipt handle changes nothing. ``tests/unit/test_store_contract.py`` holds it and the SQS
adapter to the same behaviours.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace

from arq_batch.kernel.ports import ERROR_ATTRIBUTE, QueueMessage


@dataclass
class _Message:
    message_id: str
    body: str
    attributes: dict[str, str]
    sent_at: float
    visible_at: float = 0.0
    receive_count: int = 0
    receipt: str = ""


class MemoryQueue:
    """A queue and its dead-letter queue as SQS keeps them: a received message is hidden
    for ``visibility_timeout`` seconds and counted; one received more than
    ``max_receive_count`` times moves to the dead-letter queue instead (the redrive
    policy). A stale receipt handle (the message was received again since) is ignored,
    as SQS's batch calls report it failed."""

    def __init__(self, visibility_timeout: int = 60, max_receive_count: int = 3,
                 clock: Callable[[], float] = time.time) -> None:
        self.visibility_timeout, self.max_receive_count = visibility_timeout, max_receive_count
        self._main: list[_Message] = []
        self._dlq: list[_Message] = []
        self._clock, self._lock = clock, threading.Lock()
        self._receipts = itertools.count(1)

    def send(self, body: str, attributes: Mapping[str, str] | None = None) -> str:
        """Enqueue one message; returns its id."""
        return self._append(self._main, body, attributes)

    def receive(self, max_messages: int, wait_seconds: int) -> list[QueueMessage]:
        """Up to ``max_messages`` (at most 10) visible messages; a short wait for some."""
        deadline = self._clock() + min(wait_seconds, 1)
        while True:
            with self._lock:
                taken = self._take(self._main, min(max_messages, 10), self.visibility_timeout)
            if taken or self._clock() >= deadline:
                return taken
            time.sleep(0.01)

    def delete(self, messages: list[QueueMessage]) -> None:
        """Remove messages whose receipt handles are current."""
        with self._lock:
            self._remove(self._main, messages)

    def set_visibility(self, messages: list[QueueMessage], seconds: int) -> None:
        """Hide (heartbeat, backoff) or release (0) messages from now on."""
        with self._lock:
            for found in self._current(self._main, messages):
                found.visible_at = self._clock() + seconds

    def dead_letter(self, message: QueueMessage, error: str, body: str | None = None) -> None:
        """Copy to the dead-letter queue with its reason, then delete it here."""
        attributes = {**message.attributes, ERROR_ATTRIBUTE: error[:1000]}
        self._append(self._dlq, message.body if body is None else body, attributes)
        self.delete([message])

    def depth(self, dead_letters: bool = False) -> dict[str, int]:
        """Messages visible and in flight (nothing is ever delayed here)."""
        now = self._clock()
        with self._lock:
            queue = self._dlq if dead_letters else self._main
            visible = sum(1 for m in queue if m.visible_at <= now)
        return {"visible": visible, "in_flight": len(queue) - visible, "delayed": 0}

    def drain_dlq(self, visibility: int) -> Iterator[QueueMessage]:
        """Every visible dead letter, each hidden for ``visibility`` seconds."""
        while True:
            with self._lock:
                taken = self._take(self._dlq, 10, visibility, redrive=False)
            if not taken:
                return
            yield from taken

    def release_dlq(self, messages: list[QueueMessage]) -> None:
        """Make dead letters visible again."""
        with self._lock:
            for found in self._current(self._dlq, messages):
                found.visible_at = 0.0

    def delete_from_dlq(self, message: QueueMessage) -> None:
        """Remove one dead letter."""
        with self._lock:
            self._remove(self._dlq, [message])

    def _append(self, queue: list[_Message], body: str,
                attributes: Mapping[str, str] | None) -> str:
        message_id = str(uuid.uuid4())
        with self._lock:
            queue.append(_Message(message_id, body, dict(attributes or {}), self._clock()))
        return message_id

    def _take(self, queue: list[_Message], count: int, hide: int,
              redrive: bool = True) -> list[QueueMessage]:
        now, taken = self._clock(), list[QueueMessage]()
        for found in [m for m in queue if m.visible_at <= now]:
            if redrive and found.receive_count >= self.max_receive_count:
                queue.remove(found)  # the redrive policy: as it was, no reason attached
                self._dlq.append(replace(found, visible_at=0.0, receive_count=0))
                continue
            if len(taken) == count:
                break
            found.receive_count += 1
            found.visible_at, found.receipt = now + hide, f"r{next(self._receipts)}"
            taken.append(QueueMessage(found.message_id, found.receipt, found.body,
                                      dict(found.attributes), found.receive_count,
                                      found.sent_at))
        return taken

    def _current(self, queue: list[_Message], messages: list[QueueMessage]) -> list[_Message]:
        handles = {m.receipt_handle for m in messages}
        return [m for m in queue if m.receipt in handles]

    def _remove(self, queue: list[_Message], messages: list[QueueMessage]) -> None:
        for found in self._current(queue, messages):
            queue.remove(found)
