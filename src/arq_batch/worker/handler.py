"""One message, one outcome: run every job it names, then settle it in the queue.

``done`` (deleted later, in a batch), ``retry`` (hidden for a growing backoff), ``dead``
(error report, then the dead-letter queue) or ``released`` (shutdown: visible at once).
Every job attempt is also logged, counted and appended to the ledger.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from arq_batch.aws.faults import classify
from arq_batch.engine import messages
from arq_batch.engine.cost import attempt_cost_usd
from arq_batch.engine.ledger import LedgerRecord
from arq_batch.engine.messages import Job
from arq_batch.engine.split_plan import part_id
from arq_batch.kernel import layout
from arq_batch.kernel.errors import ArqError, Cancelled, PermanentError
from arq_batch.kernel.outcomes import Outcome
from arq_batch.kernel.ports import ObjectStore, Queue, QueueMessage
from arq_batch.kernel.settings import Settings
from arq_batch.monitoring.checks import Findings
from arq_batch.worker import error_reports as reports
from arq_batch.worker.heartbeat import Heartbeat
from arq_batch.worker.ledger import Ledger
from arq_batch.worker.metrics import WorkerMetrics, emf_fields
from arq_batch.worker.runner import WORKER_ID, JobResult, JobRunner

logger = logging.getLogger(__name__)


def backoff_seconds(receive_count: int, base: int, cap: int) -> int:
    """Visibility delay before retry number ``receive_count``: doubling, capped."""
    return int(min(cap, base * 2 ** max(0, receive_count - 1)))


@dataclass(frozen=True)
class Attempt:
    """One job (or an unparseable message) in one delivery."""

    message: QueueMessage
    job: Job | None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # The attempt runs on one job thread from start to settle: its CPU time is this one's.
    cpu_started: float = field(default_factory=time.thread_time)

    def record(self, outcome: str, result: JobResult | None = None,
               error: ArqError | None = None) -> LedgerRecord:
        """The ledger record of this attempt, settled now."""
        job, done = self.job, result
        return LedgerRecord(
            job_id=done.ledger_id if done else job.job_id if job else self.message.message_id,
            message_id=self.message.message_id, receive_count=self.message.receive_count,
            worker_id=WORKER_ID, outcome=outcome, started_at=self.started_at,
            finished_at=datetime.now(UTC), input=str(job.input) if job else None,
            input_etag=done.input_etag if done else None,
            input_size=done.input_size if done else None,
            output=str(done.output) if done else None, rows=done.rows if done else None,
            rows_quarantined=done.quarantined if done else None,
            run_id=done.run_id if done else None,
            error_class=error.kind if error else None,
            error_message=str(error)[:2000] if error else None,
            cpu_seconds=round(time.thread_time() - self.cpu_started, 6),
            **_monitoring(done))


def _monitoring(result: JobResult | None) -> dict[str, Any]:
    """The ledger's monitoring fields of a job that was checked."""
    findings = result.monitoring if result else None
    if findings is None:
        return {}
    worst = findings.worst
    return {"violations": len(findings.violations),
            "worst_feature": worst[0] if worst else None,
            "worst_distance": round(worst[1], 6) if worst else None}


class MessageHandler:
    """Settles messages for one worker; safe to call from its job threads."""

    def __init__(self, queue: Queue, store: ObjectStore, runner: JobRunner, settings: Settings,
                 heartbeat: Heartbeat, cancelled: Callable[[], bool], ledger: Ledger,
                 metrics: WorkerMetrics, concurrency: int = 1) -> None:
        self._queue, self._store, self._runner, self._settings = queue, store, runner, settings
        self._heartbeat, self._cancelled = heartbeat, cancelled
        self._ledger, self._metrics = ledger, metrics
        self._concurrency = concurrency  # jobs sharing the task: each attempt's cost share
        self.history: deque[dict[str, object]] = deque(maxlen=1000)  # recent job events

    def handle_safely(self, message: QueueMessage) -> str:
        """The worker outlives any message: if even settling it fails, it comes back later."""
        try:
            return self._handle(message)
        except Exception:
            logger.exception("could not settle message %s; it will be redelivered",
                             message.message_id, extra={"event": "settle_error",
                                                        "outcome": Outcome.RETRY})
            return Outcome.RETRY

    def _handle(self, message: QueueMessage) -> str:
        try:
            jobs = messages.parse(message, self._settings.buckets)
        except PermanentError as exc:
            return self._dead_letter(Attempt(message, None), exc)
        if not jobs:
            logger.info("test event acknowledged",
                        extra={"event": "test_event", "outcome": Outcome.DONE})
        for job in self._own_writes_dropped(jobs):
            outcome = self._run_job(Attempt(message, job))
            if outcome != Outcome.DONE:
                return outcome
        return Outcome.DONE

    def _own_writes_dropped(self, jobs: tuple[Job, ...]) -> list[Job]:
        """Events for keys we wrote ourselves (a notification broader than the input prefix)
        are our own output coming back: scoring them would feed the queue from itself."""
        kept = []
        for job in jobs:
            if job.event and layout.is_own_write(job.input.key, self._settings.prefixes):
                logger.info("event for our own write %s ignored", job.input,
                            extra={"event": "own_write_ignored", "input": str(job.input)})
            else:
                kept.append(job)
        return kept

    def _run_job(self, attempt: Attempt) -> str:
        assert attempt.job is not None
        sent_at = attempt.message.sent_at
        sent = datetime.fromtimestamp(sent_at, UTC) if sent_at else None
        try:
            result = self._runner.run(attempt.job, self._cancelled, sent)
        except Cancelled as exc:
            self._record(attempt, attempt.record(Outcome.RELEASED, error=exc))
            self._heartbeat.hand_over([attempt.message])
            self._queue.set_visibility([attempt.message], 0)
            return Outcome.RELEASED
        except Exception as exc:
            error = classify(exc)
            final = attempt.message.receive_count >= self._settings.queue_settings.max_receive_count
            if isinstance(error, PermanentError) or final:
                return self._dead_letter(attempt, error)
            return self._retry(attempt, error)
        # Plans and parts always settle as such; "skipped" is a whole job found done.
        outcome = Outcome.SKIPPED if result.skipped and result.kind == Outcome.DONE else result.kind
        self._record(attempt, attempt.record(outcome, result), output_bytes=result.output_bytes,
                     findings=result.monitoring)
        if result.assembled is not None:  # this part was the last: the split job is done
            whole = result.assembled
            self._record(attempt, attempt.record(Outcome.DONE, whole),
                         output_bytes=whole.output_bytes, findings=whole.monitoring)
        return Outcome.DONE

    def _retry(self, attempt: Attempt, error: ArqError) -> str:
        q = self._settings.queue_settings
        delay = backoff_seconds(attempt.message.receive_count, q.backoff_base_seconds,
                                q.backoff_max_seconds)
        self._record(attempt, attempt.record(Outcome.RETRY, error=error), logging.WARNING,
                     retry_in=delay)
        self._heartbeat.hand_over([attempt.message])
        self._queue.set_visibility([attempt.message], delay)
        return Outcome.RETRY

    def _dead_letter(self, attempt: Attempt, error: ArqError) -> str:
        message, job, body = attempt.message, attempt.job, None
        if job is not None and job.part is not None:
            # A part that fails fails its job: the DLQ gets the whole job, to redrive as one.
            body = replace(job, part=None).to_body()
            if not self._runner.abandon(job):  # another part failed it and reported first
                self._heartbeat.hand_over([message])
                self._queue.delete([message])
                record = replace(attempt.record(Outcome.PART, error=error),
                                 job_id=part_id(job.job_id, job.part))
                self._record(attempt, record, logging.WARNING)
                return Outcome.DEAD
        report = reports.write_report(self._store, self._settings, message, job, error)
        self._heartbeat.hand_over([message])
        self._queue.dead_letter(message, reports.describe(error), body)
        self._record(attempt, attempt.record(Outcome.DEAD, error=error), logging.ERROR,
                     report=str(report))
        return Outcome.DEAD

    def _record(self, attempt: Attempt, record: LedgerRecord, level: int = logging.INFO,
                output_bytes: int = 0, findings: Findings | None = None,
                **fields: object) -> None:
        """One log line (with EMF metrics when on), one ledger record, the counters."""
        record = replace(record, cost_usd=attempt_cost_usd(
            record.seconds, self._concurrency, self._settings.cost))
        event: dict[str, Any] = {
            "job_id": record.job_id, "message_id": record.message_id, "input": record.input,
            "output": record.output, "rows": record.rows, "seconds": record.seconds,
            "run_id": record.run_id, "outcome": record.outcome, **fields}
        if findings is not None:
            event |= {"violations": record.violations, "worst_feature": record.worst_feature,
                      "worst_distance": record.worst_distance,
                      "drifted": sorted({v.feature_name for v in findings.violations})}
        if record.error_class:
            event["error"] = f"{record.error_class}: {record.error_message}"
        event = {k: v for k, v in event.items() if v is not None}
        if self._settings.metrics.emf:
            event |= emf_fields(record, self._settings.metrics.namespace, output_bytes,
                                findings)
        self.history.append(event)
        what = "poison message" if attempt.job is None else f"job {record.job_id}"
        logger.log(level, "%s %s", what, record.outcome, extra=event)
        self._metrics.observe(record, output_bytes, findings)
        self._ledger.append(record)
