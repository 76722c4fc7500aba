"""``arq-batch dlq list`` and ``dlq redrive``: inspect and replay dead-lettered jobs."""

from __future__ import annotations

from dataclasses import dataclass

from arq_batch.kernel.ports import ERROR_ATTRIBUTE, DeadLetterQueue

LIST_VISIBILITY = 30  # long enough to page through the DLQ without seeing a message twice


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered message as ``dlq list`` shows it."""

    message_id: str
    error: str
    body: str
    receive_count: int


def list_dead_letters(queue: DeadLetterQueue) -> list[DeadLetter]:
    """Every DLQ message with its error; they are made visible again afterwards."""
    seen = list(queue.drain_dlq(LIST_VISIBILITY))
    queue.release_dlq(seen)
    return [DeadLetter(m.message_id, m.attributes.get(ERROR_ATTRIBUTE, "(no error recorded)"),
                       m.body, m.receive_count) for m in seen]


def redrive(queue: DeadLetterQueue) -> int:
    """Move every DLQ message back to the main queue: send first, then delete.

    An interruption between the two leaves the message in both queues rather than in
    neither; the job it names is idempotent, so running it twice is harmless.
    """
    moved = 0
    for message in queue.drain_dlq(LIST_VISIBILITY):
        attributes = {k: v for k, v in message.attributes.items() if k != ERROR_ATTRIBUTE}
        queue.send(message.body, attributes)
        queue.delete_from_dlq(message)
        moved += 1
    return moved
