"""The worker entry point the container starts: wiring, signals, exit codes."""

from __future__ import annotations

import logging
import os
import signal
import sys
from types import FrameType

from arq_batch import wiring
from arq_batch.kernel.errors import EXIT_OK
from arq_batch.kernel.logs import setup_logging
from arq_batch.kernel.settings import Settings, load_settings
from arq_batch.worker.loop import Worker
from arq_batch.worker.runner import WORKER_ID, JobRunner
from arq_batch.worker.upkeep import Upkeep

logger = logging.getLogger(__name__)
EXIT_SECOND_SIGNAL = 130


def build_worker(settings: Settings, concurrency: int, once: bool) -> Worker:
    """Adapters, registry and runner for one worker process."""
    store = wiring.object_store(settings, for_jobs=True, upload_threads=max(4, concurrency * 2))
    queue = wiring.job_queue(settings)
    store.head_bucket(settings.bucket)
    runner = JobRunner(store, wiring.model_store(settings, store), settings, queue)
    return Worker(queue, store, runner, settings, concurrency, once)


def run_worker(settings: Settings, concurrency: int | None = None, once: bool = False,
               metrics_port: int | None = None) -> Worker:
    """Run until the queue is dry (``once``) or a signal arrives; a second signal exits now."""
    concurrency = concurrency or settings.worker.concurrency
    worker = build_worker(settings, concurrency, once)
    port = settings.metrics.port if metrics_port is None else metrics_port
    if port:
        worker.metrics.serve(port, settings.metrics.host)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if worker.stopping:
            os._exit(EXIT_SECOND_SIGNAL)
        logger.info("signal %s: finishing in-flight jobs, then stopping", signum,
                    extra={"event": "stop_requested"})
        worker.request_stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    logger.info("worker started on queue %s", settings.queue,
                extra={"event": "worker_started", "concurrency": concurrency, "once": once})
    # A batch-style run (--once) scores and leaves; a long-running worker keeps the
    # ledger, violations and predictions compacted (docs/query.md).
    upkeep = (Upkeep(wiring.object_store(settings), settings, WORKER_ID)
              if settings.compaction.enabled and not once else None)
    if upkeep:
        upkeep.start()
    try:
        worker.run()
    finally:
        if upkeep:
            upkeep.stop()
    return worker


def main() -> int:
    """``python -m arq_batch.worker.main``: the worker with settings from config and environment."""
    settings = load_settings()
    setup_logging(settings.log)
    run_worker(settings)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
