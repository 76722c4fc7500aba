"""Writes the job ledger in the background: a slow or failing PUT never holds up a job.

A record is written after its job's outcome is settled in the queue; one that cannot be
written is logged and counted, and the job's outcome stands. The price of never
blocking: a worker killed with SIGKILL can lose the records still queued here (at most
the last few jobs' records, never a job).
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor, wait

from arq_batch.engine.ledger import LedgerRecord
from arq_batch.kernel import layout
from arq_batch.kernel.ports import ObjectStore
from arq_batch.kernel.settings import Settings
from arq_batch.worker.metrics import WorkerMetrics

logger = logging.getLogger(__name__)
FLUSH_SECONDS = 10.0


class Ledger:
    """Appends records to ``data/jobs/dt=<date>/<job_id>-<attempt>.json``."""

    def __init__(self, store: ObjectStore, settings: Settings, metrics: WorkerMetrics) -> None:
        self._store, self._settings, self._metrics = store, settings, metrics
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="ledger")
        self._pending: set[Future[None]] = set()

    def append(self, record: LedgerRecord) -> None:
        """Queue one record for writing."""
        future = self._pool.submit(self._put, record)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    def close(self, timeout: float = FLUSH_SECONDS) -> None:
        """Write what is queued (within ``timeout``), then stop."""
        wait(list(self._pending), timeout=timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _put(self, record: LedgerRecord) -> None:
        uri = layout.ledger_uri(self._settings.bucket, self._settings.prefixes, record.dt,
                                record.job_id, record.receive_count)
        try:
            self._store.put_bytes(uri, record.to_json(), {"content-type": "application/json"})
        except Exception as exc:  # the job's outcome stands whatever happens here
            self._metrics.ledger_failures.inc()
            logger.warning("ledger record %s not written: %s", uri, exc,
                           extra={"event": "ledger_error", "job_id": record.job_id})
