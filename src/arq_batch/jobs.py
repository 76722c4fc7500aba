"""One job: stream an input through the scoring core into an atomically written output."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import BinaryIO, cast

from arq_batch import layout, local
from arq_batch.compress import GzipWriter
from arq_batch.errors import Cancelled, DataError, PermanentError
from arq_batch.formats import FileFormat, detect, open_writer, read_batches
from arq_batch.messages import Job
from arq_batch.model import Model
from arq_batch.ports import ObjectStore, ObjectWriter
from arq_batch.registry import ModelRegistry
from arq_batch.scoring import InvalidValues, LinearScorer, score
from arq_batch.settings import Settings, WorkerSettings
from arq_batch.uris import S3Uri, is_s3

RUN_ID_META = "model-run-id"
ETAG_META = "input-etag"


@dataclass(frozen=True)
class JobResult:
    """What a finished job did; ``skipped`` when its output was already there."""

    job: Job
    output: S3Uri
    rows: int
    run_id: str
    seconds: float
    skipped: bool = False


def transform(fmt: FileFormat, open_stream: Callable[[], BinaryIO],
              open_seekable: Callable[[], BinaryIO], target: ObjectWriter, scorer: LinearScorer,
              batch_rows: int, cancelled: Callable[[], bool] = lambda: False,
              progress: Callable[[int], None] = lambda rows: None,
              gzip_level: int = WorkerSettings.gzip_level) -> int:
    """Score every batch into ``target``; commit it only if the whole input scored."""
    writer, rows = None, 0
    if fmt.gzip:
        target = GzipWriter(target, gzip_level)
    try:
        for batch in read_batches(fmt, open_stream, open_seekable, batch_rows):
            if cancelled():
                raise Cancelled("worker is shutting down")
            try:
                scored = score(batch, scorer)
            except InvalidValues as exc:
                raise exc.shifted(rows) from None
            writer = writer or open_writer(fmt, target, scored.schema)
            writer.write(scored)
            rows += batch.num_rows
            progress(rows)
        if writer is None or rows == 0:
            raise DataError("no data rows (the file is empty or has only a header)")
        writer.close()
        target.close()
    except BaseException:
        target.abort()
        raise
    return rows


class JobRunner:
    """Runs jobs against the object store with the registry's models."""

    def __init__(self, store: ObjectStore, registry: ModelRegistry, settings: Settings) -> None:
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


Progress = Callable[[int, float | None], None]  # rows scored, fraction of input read


def score_file(source: str, destination: str, model: Model, store: ObjectStore,
               settings: Settings, progress: Progress = lambda rows, done: None) -> int:
    """``arq-batch score``: the worker's engine on local paths or s3:// URIs."""
    fmt = detect(source.rsplit("/", 1)[-1])
    size, open_stream, open_seekable = _readers(source, store)
    read = [0]  # bytes the parser has consumed, for the progress fraction

    def counted() -> BinaryIO:
        return cast(BinaryIO, _Counting(open_stream(), read))

    def report(rows: int) -> None:
        progress(rows, min(1.0, read[0] / size) if size and fmt.kind != "parquet" else None)

    target: ObjectWriter = (
        store.open_writer(S3Uri.parse(destination), {RUN_ID_META: model.card.run_id})
        if is_s3(destination) else local.LocalWriter(destination))
    return transform(fmt, counted, open_seekable, target, model.scorer,
                     settings.worker.batch_rows, progress=report,
                     gzip_level=settings.worker.gzip_level)


def _readers(source: str, store: ObjectStore) -> tuple[int, Callable[[], BinaryIO],
                                                       Callable[[], BinaryIO]]:
    """The input's size, and how to open it as a stream and as a seekable file (Parquet)."""
    if not is_s3(source):
        opener = partial(local.open_file, source)
        return local.size(source), opener, opener
    uri = S3Uri.parse(source)
    size = store.head(uri).size
    return size, partial(store.open_stream, uri), partial(store.open_seekable, uri, size)


class _Counting(io.RawIOBase):
    """Passes reads through, adding their length to ``total[0]``."""

    def __init__(self, stream: BinaryIO, total: list[int]) -> None:
        self._stream, self._total = stream, total

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._total[0] += len(data)
        return data
