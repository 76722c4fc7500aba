"""The worker loop: long-poll the queue, run jobs concurrently, delete what is done.

What happens to one message is ``handler.MessageHandler``'s business; this module only
receives, dispatches, batches the deletes and shuts down in two stages.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from arq_batch.kernel.errors import ArqError
from arq_batch.kernel.outcomes import Outcome
from arq_batch.kernel.ports import ObjectStore, Queue, QueueMessage
from arq_batch.kernel.settings import Settings
from arq_batch.worker.handler import MessageHandler
from arq_batch.worker.heartbeat import Heartbeat
from arq_batch.worker.ledger import FLUSH_SECONDS, Ledger
from arq_batch.worker.metrics import WorkerMetrics
from arq_batch.worker.runner import JobRunner

logger = logging.getLogger(__name__)

_BUSY_POLL_SECONDS = 1  # short polls while jobs run, so completions are settled promptly
_CANCEL_WAIT_SECONDS = 3.0
# Done messages are deleted in batches of up to ten, at most this long after their jobs (or
# a tenth of the visibility timeout, if shorter); a lost delete only means a redelivery
# that finds its output and skips.
_MAX_DELETE_DELAY_SECONDS = 1.0


class Worker:
    """Competing consumer on one queue; safe to run as many replicas as you like."""

    def __init__(self, queue: Queue, store: ObjectStore, runner: JobRunner, settings: Settings,
                 concurrency: int, once: bool = False,
                 metrics: WorkerMetrics | None = None) -> None:
        self._queue, self._settings = queue, settings
        self._concurrency, self._once = concurrency, once
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="job")
        self._in_flight: dict[Future[str], QueueMessage] = {}
        self._lock = threading.Lock()  # guards _in_flight against the heartbeat's reads
        self._to_delete: list[QueueMessage] = []
        self._drained = False  # the last receive got fewer messages than it asked for
        self._delete_due = 0.0
        self._delete_delay = min(_MAX_DELETE_DELAY_SECONDS,
                                 settings.queue_settings.visibility_timeout / 10)
        self._stop, self._cancel = threading.Event(), threading.Event()
        self._stop_at = 0.0
        self._heartbeat = Heartbeat(queue, self._running,
                                    settings.queue_settings.visibility_timeout,
                                    Path(settings.worker.heartbeat_file))
        self.metrics = metrics or WorkerMetrics()
        self._ledger = Ledger(store, settings, self.metrics)
        self._handler = MessageHandler(queue, store, runner, settings, self._heartbeat,
                                       self._cancel.is_set, self._ledger, self.metrics,
                                       concurrency)
        self.outcomes: Counter[str] = Counter()
        self.history = self._handler.history  # recent job events, newest last

    @property
    def stopping(self) -> bool:
        """True once a stop was requested."""
        return self._stop.is_set()

    def request_stop(self) -> None:
        """First signal: stop receiving; in-flight jobs get the grace period."""
        if not self._stop.is_set():
            self._stop_at = time.monotonic()
            self._stop.set()

    def run(self) -> None:
        """Until a stop is requested (or, with --once, the queue is dry): receive and dispatch."""
        self._heartbeat.start()
        reason = "stop requested"
        try:
            while not self._stop.is_set():
                self._wait_for_free_slot()
                received = self._receive()
                if not received:
                    self._settle(force=True)  # the queue is dry: no batch worth waiting for
                    if self._once and not self._in_flight:
                        reason = "queue is empty"
                        break
                for message in received:
                    self._dispatch(message)
        finally:
            self._shut_down(reason)

    def _wait_for_free_slot(self) -> None:
        while len(self._in_flight) >= self._concurrency and not self._stop.is_set():
            wait(list(self._in_flight), timeout=1.0, return_when=FIRST_COMPLETED)
            self._settle()
        self._settle()

    def _receive(self) -> list[QueueMessage]:
        wait_seconds = self._settings.queue_settings.wait_time_seconds
        if self._drained and (self._in_flight or self._to_delete):
            # The last receive got fewer messages than it asked for, so a job finishing is
            # what comes next: wait for that rather than a long poll. Then look again, at
            # once while jobs still run; else with a long poll of at most a second, since
            # a short poll only samples SQS's servers and `--once` exits on an empty one.
            wait(list(self._in_flight), timeout=_BUSY_POLL_SECONDS, return_when=FIRST_COMPLETED)
            wait_seconds = 0 if self._running() else min(wait_seconds, _BUSY_POLL_SECONDS)
        elif self._in_flight:
            wait_seconds = _BUSY_POLL_SECONDS
        elif self._to_delete:  # a long poll must not hold up the pending deletes
            wait_seconds = min(wait_seconds, _BUSY_POLL_SECONDS)
        wanted = min(10, self._concurrency - len(self._in_flight))
        try:
            received = self._queue.receive(wanted, wait_seconds)
        except ArqError as exc:
            self.metrics.receive_errors.inc()
            logger.warning("receive failed: %s", exc, extra={"event": "receive_error"})
            time.sleep(1.0)
            return []
        self._drained = len(received) < wanted
        if self._stop.is_set() and received:
            self._queue.set_visibility(received, 0)  # arrived after the signal: give back
            return []
        return received

    def _dispatch(self, message: QueueMessage) -> None:
        with self._lock:
            future = self._pool.submit(self._handler.handle_safely, message)
            self._in_flight[future] = message
            self.metrics.in_flight.set(len(self._in_flight))

    def _running(self) -> list[QueueMessage]:
        """Messages whose jobs are still running (finished ones must not be extended)."""
        with self._lock:
            return [m for f, m in self._in_flight.items() if not f.done()]

    def _take_finished(self) -> list[tuple[Future[str], QueueMessage]]:
        with self._lock:
            done = [(f, m) for f, m in self._in_flight.items() if f.done()]
            for future, _ in done:
                del self._in_flight[future]
            self.metrics.in_flight.set(len(self._in_flight))
        return done

    def _settle(self, force: bool = False) -> None:
        """Collect finished jobs; batch-delete the done ones once ten or the delay is up."""
        for future, message in self._take_finished():
            outcome = future.result()
            self.outcomes[outcome] += 1
            if outcome == Outcome.DONE:
                if not self._to_delete:
                    self._delete_due = time.monotonic() + self._delete_delay
                self._to_delete.append(message)
        due = len(self._to_delete) >= 10 or time.monotonic() >= self._delete_due
        if self._to_delete and (force or due):
            batch, self._to_delete = self._to_delete, []
            try:
                self._queue.delete(batch)
            except ArqError as exc:  # they reappear, and their outputs make them no-ops
                self.metrics.delete_errors.inc()
                logger.warning("delete failed: %s", exc, extra={"event": "delete_error"})

    def _shut_down(self, reason: str) -> None:
        """Finish in-flight jobs within the grace period, cancel and release the rest."""
        deadline = (self._stop_at or time.monotonic()) + self._settings.worker.grace_seconds
        if self._in_flight:
            wait(list(self._in_flight), timeout=max(0.0, deadline - time.monotonic()))
        if any(not f.done() for f in self._in_flight):
            self._cancel.set()
            wait(list(self._in_flight), timeout=_CANCEL_WAIT_SECONDS)
        self._settle(force=True)
        stuck = self._running()
        if stuck:
            self._heartbeat.hand_over(stuck)
            self._queue.set_visibility(stuck, 0)
            self.outcomes[Outcome.RELEASED] += len(stuck)
        self._heartbeat.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
        # Pending ledger records get what is left of the grace period (at least a second):
        # an orchestrator's SIGKILL follows soon after it.
        self._ledger.close(min(FLUSH_SECONDS, max(1.0, deadline - time.monotonic())))
        logger.info("worker stopped: %s", reason,
                    extra={"event": "worker_stopped", **dict(self.outcomes)})
