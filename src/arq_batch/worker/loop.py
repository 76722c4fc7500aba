"""The worker: long-poll the queue, run jobs concurrently, settle each message exactly once.

Every message ends with one outcome: ``done`` (deleted after its output is complete),
``retry`` (left to reappear after a growing backoff), ``dead`` (error report written,
moved to the dead-letter queue) or ``released`` (shutdown: visible again at once).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from arq_batch.aws.faults import classify
from arq_batch.core import messages
from arq_batch.core.errors import ArqError, Cancelled, PermanentError
from arq_batch.core.messages import Job
from arq_batch.core.ports import ObjectStore, Queue, QueueMessage
from arq_batch.core.settings import Settings
from arq_batch.worker import reports
from arq_batch.worker.heartbeat import Heartbeat
from arq_batch.worker.runner import JobRunner

logger = logging.getLogger(__name__)

DONE, RETRY, DEAD, RELEASED = "done", "retry", "dead", "released"
_BUSY_POLL_SECONDS = 1  # short polls while jobs run, so completions are settled promptly
_CANCEL_WAIT_SECONDS = 3.0
# Done messages are deleted in batches of up to ten, at most this long after their jobs (or
# a tenth of the visibility timeout, if shorter); a lost delete only means a redelivery
# that finds its output and skips.
_MAX_DELETE_DELAY_SECONDS = 1.0
HISTORY = 1000


def backoff_seconds(receive_count: int, base: int, cap: int) -> int:
    """Visibility delay before retry number ``receive_count``: doubling, capped."""
    return int(min(cap, base * 2 ** max(0, receive_count - 1)))


class Worker:
    """Competing consumer on one queue; safe to run as many replicas as you like."""

    def __init__(self, queue: Queue, store: ObjectStore, runner: JobRunner, settings: Settings,
                 concurrency: int, once: bool = False) -> None:
        self._queue, self._store, self._runner, self._settings = queue, store, runner, settings
        self._concurrency, self._once = concurrency, once
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="job")
        self._in_flight: dict[Future[str], QueueMessage] = {}
        self._lock = threading.Lock()  # guards _in_flight against the heartbeat's reads
        self._to_delete: list[QueueMessage] = []
        self._delete_due = 0.0
        self._delete_delay = min(_MAX_DELETE_DELAY_SECONDS,
                                 settings.queue_settings.visibility_timeout / 10)
        self._stop = threading.Event()
        self._cancel = threading.Event()
        self._stop_at = 0.0
        self._heartbeat = Heartbeat(queue, self._running,
                                    settings.queue_settings.visibility_timeout,
                                    Path(settings.worker.heartbeat_file))
        self.outcomes: Counter[str] = Counter()
        self.history: deque[dict[str, object]] = deque(maxlen=HISTORY)  # recent job events

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
        if self._in_flight:
            wait_seconds = _BUSY_POLL_SECONDS
        elif self._to_delete:  # a long poll must not hold up the pending deletes
            wait_seconds = min(wait_seconds, _BUSY_POLL_SECONDS)
        free = self._concurrency - len(self._in_flight)
        try:
            received = self._queue.receive(min(10, free), wait_seconds)
        except ArqError as exc:
            logger.warning("receive failed: %s", exc, extra={"event": "receive_error"})
            time.sleep(1.0)
            return []
        if self._stop.is_set() and received:
            self._queue.set_visibility(received, 0)  # arrived after the signal: give back
            return []
        return received

    def _dispatch(self, message: QueueMessage) -> None:
        with self._lock:
            self._in_flight[self._pool.submit(self._handle_safely, message)] = message

    def _running(self) -> list[QueueMessage]:
        """Messages whose jobs are still running (finished ones must not be extended)."""
        with self._lock:
            return [m for f, m in self._in_flight.items() if not f.done()]

    def _take_finished(self) -> list[tuple[Future[str], QueueMessage]]:
        with self._lock:
            done = [(f, m) for f, m in self._in_flight.items() if f.done()]
            for future, _ in done:
                del self._in_flight[future]
        return done

    def _settle(self, force: bool = False) -> None:
        """Collect finished jobs; batch-delete the done ones once ten or the delay is up."""
        for future, message in self._take_finished():
            outcome = future.result()
            self.outcomes[outcome] += 1
            if outcome == DONE:
                if not self._to_delete:
                    self._delete_due = time.monotonic() + self._delete_delay
                self._to_delete.append(message)
        due = len(self._to_delete) >= 10 or time.monotonic() >= self._delete_due
        if self._to_delete and (force or due):
            batch, self._to_delete = self._to_delete, []
            try:
                self._queue.delete(batch)
            except ArqError as exc:  # they reappear, and their outputs make them no-ops
                logger.warning("delete failed: %s", exc, extra={"event": "delete_error"})

    def _handle_safely(self, message: QueueMessage) -> str:
        """The worker outlives any message: if even settling it fails, it comes back later."""
        try:
            return self._handle(message)
        except Exception:
            logger.exception("could not settle message %s; it will be redelivered",
                             message.message_id, extra={"event": "settle_error",
                                                        "outcome": RETRY})
            return RETRY

    def _handle(self, message: QueueMessage) -> str:
        """Run every job a message names; return the message's outcome."""
        try:
            jobs = messages.parse(message, self._settings.buckets)
        except PermanentError as exc:
            return self._dead_letter(message, None, exc)
        if not jobs:
            logger.info("test event acknowledged", extra={"event": "test_event", "outcome": DONE})
        for job in jobs:
            outcome = self._run_job(message, job)
            if outcome != DONE:
                return outcome
        return DONE

    def _run_job(self, message: QueueMessage, job: Job) -> str:
        try:
            result = self._runner.run(job, cancelled=self._cancel.is_set)
        except Cancelled:
            self._record(job, RELEASED, error="shutdown")
            self._heartbeat.hand_over([message])
            self._queue.set_visibility([message], 0)
            return RELEASED
        except Exception as exc:
            error = classify(exc)
            final = message.receive_count >= self._settings.queue_settings.max_receive_count
            if isinstance(error, PermanentError) or final:
                return self._dead_letter(message, job, error)
            return self._retry(message, job, error)
        self._record(job, DONE, output=str(result.output), rows=result.rows,
                     seconds=round(result.seconds, 3), run_id=result.run_id,
                     skipped=result.skipped)
        return DONE

    def _retry(self, message: QueueMessage, job: Job, error: ArqError) -> str:
        q = self._settings.queue_settings
        delay = backoff_seconds(message.receive_count, q.backoff_base_seconds,
                                q.backoff_max_seconds)
        self._record(job, RETRY, logging.WARNING, error=reports.describe(error), retry_in=delay)
        self._heartbeat.hand_over([message])
        self._queue.set_visibility([message], delay)
        return RETRY

    def _dead_letter(self, message: QueueMessage, job: Job | None, error: ArqError) -> str:
        report = reports.write_report(self._store, self._settings, message, job, error)
        self._heartbeat.hand_over([message])
        self._queue.dead_letter(message, reports.describe(error))
        extra = {"message_id": message.message_id, "report": str(report)}
        if job:
            self._record(job, DEAD, logging.ERROR, error=reports.describe(error), **extra)
        else:
            logger.error("poison message: %s", reports.describe(error),
                         extra={"outcome": DEAD, "error": reports.describe(error), **extra})
        return DEAD

    def _record(self, job: Job, outcome: str, level: int = logging.INFO, **fields: object) -> None:
        """One log line and one history entry per job event."""
        event = {"job_id": job.job_id, "input": str(job.input), "outcome": outcome, **fields}
        self.history.append(event)
        logger.log(level, "job %s %s", job.job_id, outcome, extra=event)

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
            self.outcomes[RELEASED] += len(stuck)
        self._heartbeat.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
        logger.info("worker stopped: %s", reason,
                    extra={"event": "worker_stopped", **dict(self.outcomes)})

