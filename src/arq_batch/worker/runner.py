"""One job: resolve its output and model, skip it if already done, else transform it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, cast

from arq_batch.aws.model_store import ModelStore
from arq_batch.core import layout
from arq_batch.core.errors import PermanentError
from arq_batch.core.formats import detect
from arq_batch.core.layout import ETAG_META, RUN_ID_META
from arq_batch.core.messages import Job
from arq_batch.core.ports import ObjectStore
from arq_batch.core.settings import Settings
from arq_batch.core.transform import transform
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


class JobRunner:
    """Runs jobs against the object store with the registry's models."""

    def __init__(self, store: ObjectStore, registry: ModelStore, settings: Settings) -> None:
        self._store, self._registry, self._settings = store, registry, settings

    def run(self, job: Job, cancelled: Callable[[], bool] = lambda: False) -> JobResult:
        """Score one job; idempotent: a redelivered job finds its output and skips."""
        started = time.monotonic()
        output = self.output_for(job)
        model = self._registry.get(job.model)
        fmt = detect(job.input.name)
        # Parquet is read by ranges and needs a HEAD for its size; the others stream from
        # one GET, whose headers give the ETag: one request less per small job.
        info, stream = ((self._store.head(job.input), None) if fmt.kind == "parquet"
                        else self._store.open_object(job.input))
        try:
            metadata = {RUN_ID_META: model.card.run_id, ETAG_META: info.etag}
            if self._already_done(output, metadata):
                return JobResult(job, output, 0, model.card.run_id,
                                 time.monotonic() - started, True)
            rows = transform(
                fmt, open_stream=lambda: cast(BinaryIO, stream),
                open_seekable=lambda: self._store.open_seekable(job.input, info.size),
                target=self._store.open_writer(output, metadata), scorer=model.scorer,
                batch_rows=self._settings.worker.batch_rows, cancelled=cancelled,
                gzip_level=self._settings.worker.gzip_level)
        finally:
            if stream is not None:  # read to the end, or not needed after all
                stream.close()
        return JobResult(job, output, rows, model.card.run_id, time.monotonic() - started)

    def output_for(self, job: Job) -> S3Uri:
        """The output URI; refuses outputs that would trigger another job."""
        output = layout.output_uri(job.input, self._settings.prefixes, job.output)
        if output.key.startswith(self._settings.prefixes.input) or output == job.input:
            raise PermanentError(f"output {output} would overwrite or re-trigger an input")
        return output

    def _already_done(self, output: S3Uri, metadata: dict[str, str]) -> bool:
        try:
            existing = self._store.head(output).metadata
        except PermanentError:
            return False
        return all(existing.get(k) == v for k, v in metadata.items())
