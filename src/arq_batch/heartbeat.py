"""Keeps in-flight messages invisible while their jobs run, and shows the worker is alive."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from arq_batch.errors import ArqError
from arq_batch.ports import Queue, QueueMessage

logger = logging.getLogger(__name__)


class Heartbeat:
    """Every third of the visibility timeout, extend every running job's message.

    It also touches ``path`` so a container HEALTHCHECK can tell a live worker from a hung
    one; the file's age is the signal.
    """

    def __init__(self, queue: Queue, running: Callable[[], list[QueueMessage]],
                 visibility_timeout: int, path: Path) -> None:
        self._queue, self._running = queue, running
        self._timeout = visibility_timeout
        self._interval = max(1.0, visibility_timeout / 3)
        self._path = path
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)

    def start(self) -> None:
        """Beat once now, then in the background."""
        self.beat()
        self._thread.start()

    def stop(self) -> None:
        """Stop beating; the thread ends within one interval at most."""
        self._stopped.set()

    def beat(self) -> None:
        """Extend visibility of every running job; touch the liveness file."""
        messages = self._running()
        if messages:
            try:
                self._queue.set_visibility(messages, self._timeout)
            except ArqError as exc:
                logger.warning("heartbeat failed: %s", exc, extra={"event": "heartbeat_error"})
        # A read-only filesystem just means no file-based health check.
        with contextlib.suppress(OSError):
            self._path.touch()

    def _loop(self) -> None:
        while not self._stopped.wait(self._interval):
            self.beat()
