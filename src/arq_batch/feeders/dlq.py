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


def list_dead_letters(queue: DeadLetterQueue, expected: int | None = None) -> list[DeadLetter]:
    """Every DLQ message with its error; they are made visible again afterwards.

    With ``expected`` (the queue's approximate depth), listing stops once that many are
    in hand instead of waiting on one more empty long poll: what a page wants."""
    seen = []
    if expected != 0:
        for message in queue.drain_dlq(LIST_VISIBILITY):
            seen.append(message)
            if expected is not None and len(seen) >= expected:
                break
    queue.release_dlq(seen)
    return [DeadLetter(m.message_id, m.attributes.get(ERROR_ATTRIBUTE, "(no error recorded)"),
                       m.body, m.receive_count) for m in seen]


def redrive(queue: DeadLetterQueue, only: str | None = None) -> int:
    """Move every DLQ message (or only the one with message id ``only``) back to the main
    queue: send first, then delete; the others are made visible again at once.

    An interruption between the two leaves the message in both queues rather than in
    neither; the job it names is idempotent, so running it twice is harmless.
    """
    moved, kept = 0, []
    for message in queue.drain_dlq(LIST_VISIBILITY):
        if only is not None and message.message_id != only:
            kept.append(message)
            continue
        attributes = {k: v for k, v in message.attributes.items() if k != ERROR_ATTRIBUTE}
        queue.send(message.body, attributes)
        queue.delete_from_dlq(message)
        moved += 1
    queue.release_dlq(kept)
    return moved
