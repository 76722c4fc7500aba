"""One job: resolve its output and model, skip it if already done, else transform it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO, cast

from arq_batch.aws.model_store import ModelStore
from arq_batch.core import layout
from arq_batch.core.artifacts import Model
from arq_batch.core.errors import PermanentError
from arq_batch.core.formats import detect, renamed
from arq_batch.core.layout import ETAG_META, RUN_ID_META
from arq_batch.core.messages import Job
from arq_batch.core.ports import ObjectInfo, ObjectStore, ObjectWriter
from arq_batch.core.predictions import PredictionsTap
from arq_batch.core.settings import Settings
from arq_batch.core.shaping import Shape
from arq_batch.core.transform import Source, Tap, transform
from arq_batch.core.uris import S3Uri


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


class JobRunner:
    """Runs jobs against the object store with the store's models."""

    def __init__(self, store: ObjectStore, models: ModelStore, settings: Settings) -> None:
        self._store, self._models, self._settings = store, models, settings

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
        fmt = shape.source
        # Parquet is read by ranges and needs a HEAD for its size; the others stream from
        # one GET, whose headers give the ETag: one request less per small job.
        info, stream = ((self._store.head(job.input), None) if fmt.kind == "parquet"
                        else self._store.open_object(job.input))
        done = _Done(job, output, model.card.run_id, info, started)
        try:
            metadata = {RUN_ID_META: model.card.run_id, ETAG_META: info.etag}
            if self._already_done(output, metadata):
                return done.result(0, skipped=True)
            source = Source(fmt, lambda: cast(BinaryIO, stream),
                            lambda: self._store.open_seekable(job.input, info.size))
            target = _Counted(self._store.open_writer(output, metadata))
            taps = self._taps(job, model, enqueued_at or datetime.now(UTC))
            rows = transform(source, target, model.scorer, self._settings.worker, taps,
                             cancelled=cancelled, shape=shape)
        finally:
            if stream is not None:  # read to the end, or not needed after all
                stream.close()
        return done.result(rows, output_bytes=target.count)

    def output_for(self, job: Job) -> S3Uri:
        """The output URI; refuses outputs that would trigger another job.

        A default output whose format the job's options change is named for its format
        (``a.csv`` with ``accept: application/x-parquet`` gives ``a.parquet``)."""
        output = layout.output_uri(job.input, self._settings.prefixes, job.output)
        if job.output is None:
            source = job.options.input_format(detect(job.input.name))
            name = renamed(output.key, source, job.options.output_format(source))
            output = S3Uri(output.bucket, name)
        if output.key.startswith(self._settings.prefixes.input) or output == job.input:
            raise PermanentError(f"output {output} would overwrite or re-trigger an input")
        return output

    def _taps(self, job: Job, model: Model, enqueued_at: datetime) -> list[Tap]:
        predictions = self._settings.predictions
        if not predictions.enabled:
            return []
        uri = layout.predictions_uri(self._settings.bucket, self._settings.prefixes,
                                     model.card.run_id, enqueued_at.strftime("%Y-%m-%d"),
                                     job.job_id)
        return [PredictionsTap(self._store, uri, str(job.input), predictions.id_columns,
                               datetime.now(UTC))]

    def _already_done(self, output: S3Uri, metadata: dict[str, str]) -> bool:
        try:
            existing = self._store.head(output).metadata
        except PermanentError:
            return False
        return all(existing.get(k) == v for k, v in metadata.items())


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


class _Counted:
    """An ObjectWriter that counts the bytes passing through (the bytes-out metric)."""

    def __init__(self, target: ObjectWriter) -> None:
        self._target, self.count = target, 0

    def write(self, data: bytes) -> int:
        self.count += len(data)
        return self._target.write(data)

    def close(self) -> None:
        self._target.close()

    def abort(self) -> None:
        self._target.abort()
