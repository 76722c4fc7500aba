"""One job: resolve its output and model, skip it if already done, else transform it."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import BinaryIO, cast

from arq_batch.engine.filestream import Source, Tap, transform
from arq_batch.engine.messages import Job
from arq_batch.engine.predictions import PredictionsTap
from arq_batch.engine.progress import JobProgress, Publisher
from arq_batch.engine.shaping import Shape
from arq_batch.engine.split_plan import part_id
from arq_batch.formats import Kind, detect, renamed
from arq_batch.kernel import layout
from arq_batch.kernel.outcomes import Outcome
from arq_batch.kernel.ports import ObjectInfo, ObjectStore, Queue
from arq_batch.kernel.settings import Settings
from arq_batch.kernel.uris import S3Uri
from arq_batch.models.artifacts import Model
from arq_batch.models.store import ModelStore
from arq_batch.monitoring.checks import Findings
from arq_batch.monitoring.tap import MonitorTap
from arq_batch.worker.counting import CountingReader, CountingWriter
from arq_batch.worker.monitoring import Monitoring
from arq_batch.worker.set_aside import check_owner, job_quarantine, reopen
from arq_batch.worker.splits.assembly import Parts

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"  # in the ledger and progress records


@dataclass(frozen=True)
class JobResult:
    """What a finished job did; ``skipped`` when its output was already there."""

    job: Job
    output: S3Uri
    rows: int
    run_id: str
    seconds: float
    skipped: bool = False
    input_etag: str = ""
    input_size: int = 0
    output_bytes: int = 0
    kind: Outcome = Outcome.DONE  # or SPLIT (planned into parts), PART (one part scored)
    assembled: JobResult | None = None  # the whole job, when this part assembled it
    monitoring: Findings | None = None  # the checks against the model's baseline
    quarantined: int = 0  # bad rows set aside within the job's max_bad_rows

    @property
    def ledger_id(self) -> str:
        """The job id in the ledger: a plan and each part get their own beside the job's."""
        if self.kind == Outcome.PART:
            return part_id(self.job.job_id, self.job.part or 0)
        return f"{self.job.job_id}#plan" if self.kind == Outcome.SPLIT else self.job.job_id


class JobRunner:
    """Runs jobs against the object store with the store's models."""

    def __init__(self, store: ObjectStore, models: ModelStore, settings: Settings,
                 queue: Queue | None = None) -> None:
        """Without a ``queue`` jobs are never split (there is nowhere to send parts)."""
        self._store, self._models, self._settings = store, models, settings
        self._monitor = Monitoring(store, settings)
        self._parts = Parts(store, queue, settings, self._monitor)

    def run(self, job: Job, cancelled: Callable[[], bool] = lambda: False,
            enqueued_at: datetime | None = None) -> JobResult:
        """Score one job; idempotent: a redelivered job finds its output and skips.

        ``enqueued_at`` (the message's send time) dates the predictions file, so every
        delivery of one job writes the same key.
        """
        started = time.monotonic()
        output = self.output_for(job)
        model = self._models.get(job.model)
        shape = Shape.of(job.options, detect(job.input.name), model.card.feature_names,
                         model.card.classes)
        if job.part is not None:
            return self._part(job, model, shape, cancelled, started)
        fmt = shape.source
        # Parquet is read by ranges and needs a HEAD for its size; the others stream from
        # one GET, whose headers give the ETag: one request less per small job.
        info, stream = ((self._store.head(job.input), None) if fmt.kind == Kind.PARQUET
                        else self._store.open_object(job.input))
        done = _Done(job, output, model.card.run_id, info, started)
        try:
            metadata = job.output_metadata(model.card.run_id, info.etag)
            if self._already_done(output, metadata):
                return done.result(0, skipped=True)
            splitter = self._parts.splitter
            if splitter.wanted(job, shape, info.size) and splitter.plan(
                    job, shape, info, model, output, enqueued_at or datetime.now(UTC)):
                return replace(done.result(0), kind=Outcome.SPLIT)
            return self._score(done, model, shape, stream, metadata, cancelled, enqueued_at)
        finally:
            if stream is not None:  # read to the end, or not needed after all
                stream.close()

    def _score(self, done: _Done, model: Model, shape: Shape, stream: BinaryIO | None,
               metadata: dict[str, str], cancelled: Callable[[], bool],
               enqueued_at: datetime | None) -> JobResult:
        """The scoring pass of a whole job, its progress published while it runs."""
        job, info = done.job, done.info
        read = CountingReader(stream) if stream is not None else None
        opened: list[BinaryIO] = []

        def open_stream() -> BinaryIO:  # the GET already made, then (a CSV read again) anew
            opened.append(cast(BinaryIO, read) if not opened else reopen(self._store, job, info))
            return opened[-1]

        source = Source(shape.source, open_stream,
                        lambda: self._store.open_seekable(job.input, info.size, info.etag))
        target = CountingWriter(self._store.open_writer(done.output, metadata))
        monitor, taps = self._taps(job, model, _day(enqueued_at))
        quarantine = job_quarantine(self._store, self._settings, job, shape, info, metadata)
        publisher = self._publisher(job, info)
        try:
            rows = transform(source, target, model.scorer, self._settings.worker, taps,
                             cancelled=cancelled, shape=shape, progress=lambda n: publisher.update(
                                 n, read.count if read is not None else 0),
                             quarantine=quarantine)
        finally:
            publisher.close()
            for extra in opened[1:]:
                extra.close()
        return replace(done.result(rows, output_bytes=target.count),
                       monitoring=monitor.findings if monitor else None,
                       quarantined=quarantine.count if quarantine else 0)

    def _publisher(self, job: Job, info: ObjectInfo) -> Publisher:
        """Where this job's live progress goes (``data/progress/``)."""
        now = time.time()
        about = JobProgress(job.job_id, str(job.input), WORKER_ID, now, now, 0, 0, info.size)
        uri = layout.progress_uri(self._settings.bucket, self._settings.prefixes, job.job_id)
        return Publisher(self._store, uri, about, self._settings.progress.interval_seconds)

    def _part(self, job: Job, model: Model, shape: Shape, cancelled: Callable[[], bool],
              started: float) -> JobResult:
        """One part of a split job; the result carries the whole job's if it assembled."""
        outcome = self._parts.run(job, model, shape, cancelled)
        keys = self._parts.splitter.keys(job)
        assert job.part is not None
        result = JobResult(job, keys.output(job.part), outcome.rows, model.card.run_id,
                           time.monotonic() - started, outcome.skipped, kind=Outcome.PART)
        if outcome.total_rows is None:
            return result
        whole = replace(job, part=None)
        return replace(result, assembled=JobResult(
            whole, self.output_for(whole), outcome.total_rows, model.card.run_id,
            result.seconds, input_etag=outcome.input_etag, input_size=outcome.input_size,
            output_bytes=outcome.output_bytes, monitoring=outcome.monitoring,
            quarantined=outcome.quarantined))

    def abandon(self, job: Job) -> bool:
        """A part failed for good: fail its job (once; True for the first part to fail)."""
        return self._parts.splitter.fail(job)

    def output_for(self, job: Job) -> S3Uri:
        """The output URI; OutputNotAllowed under a prefix the system owns or onto the input.

        A default output whose format the job's options change is named for its format
        (``a.csv`` with ``accept: application/x-parquet`` gives ``a.parquet``)."""
        output = layout.output_uri(job.input, self._settings.prefixes, job.output)
        if job.output is None:
            source = job.options.input_format(detect(job.input.name))
            name = renamed(output.key, source, job.options.output_format(source))
            output = S3Uri(output.bucket, name)
        layout.check_output(output, self._settings.prefixes, job.input, job.output is not None)
        return output

    def _taps(self, job: Job, model: Model, day: str) -> tuple[MonitorTap | None, list[Tap]]:
        """Monitoring's tap (closed first: a ``fail_on`` violation then fails the job
        before anything else is committed), then the predictions dataset's."""
        monitor = self._monitor.tap(job, model, day)
        taps: list[Tap] = [monitor] if monitor else []
        predictions = self._settings.predictions
        if predictions.enabled:
            uri = layout.predictions_uri(self._settings.bucket, self._settings.prefixes,
                                         model.card.run_id, day, job.job_id)
            taps.append(PredictionsTap(self._store, uri, str(job.input),
                                       predictions.id_columns, datetime.now(UTC)))
        return monitor, taps

    def _already_done(self, output: S3Uri, metadata: dict[str, str]) -> bool:
        """True if this very request (model run, input version, options) wrote ``output``.

        An output of another input is never overwritten, nor an object arq-batch did not
        write; one written before outputs named their input (no ``input-uri``) came from
        an unknown request and is scored again (docs/reliability.md, trust boundaries)."""
        existing = check_owner(self._store, output, metadata)
        return existing is not None and all(existing.get(k) == v for k, v in metadata.items())


def _day(enqueued_at: datetime | None) -> str:
    """The date a job's dataset files go under: the day its message was sent."""
    return (enqueued_at or datetime.now(UTC)).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class _Done:
    """What is known of a job before it runs, to build its result from."""

    job: Job
    output: S3Uri
    run_id: str
    info: ObjectInfo
    started: float

    def result(self, rows: int, skipped: bool = False, output_bytes: int = 0) -> JobResult:
        return JobResult(self.job, self.output, rows, self.run_id,
                         time.monotonic() - self.started, skipped, self.info.etag,
                         self.info.size, output_bytes)
