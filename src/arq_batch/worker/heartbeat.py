"""Keeps in-flight messages invisible while their jobs run, and shows the worker is alive."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from arq_batch.kernel.errors import ArqError
from arq_batch.kernel.ports import Queue, QueueMessage

logger = logging.getLogger(__name__)


class Heartbeat:
    """Every third of the visibility timeout, extend every running job's message.

    It also touches ``path`` so a container HEALTHCHECK can tell a live worker from a hung
    one; the file's age is the signal.

    A job that settles its own message (release, back off, dead-letter) first hands it over,
    so that no beat can later undo the change: a beat that read the message as running just
    before, and extended it just after a release, would hide it for a whole timeout.
    """

    def __init__(self, queue: Queue, running: Callable[[], list[QueueMessage]],
                 visibility_timeout: int, path: Path) -> None:
        self._queue, self._running = queue, running
        self._timeout = visibility_timeout
        self._interval = max(1.0, visibility_timeout / 3)
        self._path = path
        self._lock = threading.Lock()  # a beat and a hand-over never interleave
        self._handed_over: set[str] = set()  # receipt handles no longer ours to extend
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)

    def start(self) -> None:
        """Beat once now, then in the background."""
        self.beat()
        self._thread.start()

    def stop(self) -> None:
        """Stop beating; the thread ends within one interval at most."""
        self._stopped.set()

    def hand_over(self, messages: list[QueueMessage]) -> None:
        """Never extend ``messages`` again; returns once any beat under way has finished."""
        with self._lock:
            self._handed_over.update(m.receipt_handle for m in messages)

    def beat(self) -> None:
        """Extend visibility of every running job; touch the liveness file."""
        with self._lock:
            running = self._running()
            # Handles of finished jobs can go: a redelivery comes with a new handle.
            self._handed_over &= {m.receipt_handle for m in running}
            messages = [m for m in running if m.receipt_handle not in self._handed_over]
            if messages:
                try:
                    self._queue.set_visibility(messages, self._timeout)
                except ArqError as exc:
                    logger.warning("heartbeat failed: %s", exc,
                                   extra={"event": "heartbeat_error"})
        # A read-only filesystem just means no file-based health check.
        with contextlib.suppress(OSError):
            self._path.touch()

    def _loop(self) -> None:
        while not self._stopped.wait(self._interval):
            self.beat()
