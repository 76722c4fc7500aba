"""A long-running worker's background upkeep: compaction every few minutes.

Any worker may compact (claims keep two from working on one partition); the passes are
spread with jitter so a fleet started together does not list the bucket together. A
fault here is logged and tried again next time: upkeep never touches a job.
"""

from __future__ import annotations

import logging
import random
import threading

from arq_batch.engine.compaction import Compactor
from arq_batch.kernel.ports import ObjectStore
from arq_batch.kernel.settings import Settings

logger = logging.getLogger(__name__)


class Upkeep:
    """Runs compaction passes in a daemon thread until ``stop``."""

    def __init__(self, store: ObjectStore, settings: Settings, worker_id: str) -> None:
        self._compactor = Compactor(store, settings, by=worker_id)
        self._interval = settings.compaction.interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="upkeep", daemon=True)

    def start(self) -> None:
        """Begin; the first pass waits one interval (a fresh fleet scores first)."""
        self._thread.start()

    def stop(self) -> None:
        """Finish (a pass under way completes: it is safe to leave, but tidier to end)."""
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval * random.uniform(0.8, 1.2)):
            try:
                self._compactor.run()
            except Exception as exc:  # upkeep never stops the worker
                logger.warning("compaction pass failed: %s", exc,
                               extra={"event": "compaction_error"})
