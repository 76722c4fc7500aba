"""``arq-batch score``: the worker's engine on local paths as well as s3:// URIs."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import BinaryIO, cast

from arq_batch.engine.filestream import Source, Tap, transform
from arq_batch.engine.options import JobOptions
from arq_batch.engine.shaping import Shape
from arq_batch.formats import Kind, detect
from arq_batch.kernel.layout import RUN_ID_META
from arq_batch.kernel.ports import ObjectStore, ObjectWriter
from arq_batch.kernel.settings import Settings
from arq_batch.kernel.uris import S3Uri, is_s3
from arq_batch.models.artifacts import Model
from arq_batch.stores.local import LocalWriter, file_size, open_file
from arq_batch.worker.counting import CountingReader

Progress = Callable[[int, float | None], None]  # rows scored, fraction of input read


def score_file(source: str, destination: str, model: Model, store: ObjectStore,
               settings: Settings, progress: Progress = lambda rows, done: None,
               options: JobOptions | None = None, monitor: Tap | None = None) -> int:
    """``arq-batch score``: the worker's engine on local paths or s3:// URIs; ``options``
    as a job message has them (the output is written to ``destination`` as named), and
    ``monitor`` checks the input in the same pass."""
    shape = Shape.of(options or JobOptions(), detect(source.rsplit("/", 1)[-1]),
                     model.card.feature_names, model.card.classes)
    fmt = shape.source
    size, open_stream, open_seekable = _readers(source, store)
    reading: list[CountingReader] = []  # the stream the parser consumes, for the fraction

    def counted() -> BinaryIO:
        reading.append(CountingReader(open_stream()))
        return cast(BinaryIO, reading[-1])

    def report(rows: int) -> None:
        read = reading[-1].count if reading else 0
        progress(rows, min(1.0, read / size) if size and fmt.kind != Kind.PARQUET else None)

    target: ObjectWriter = (
        store.open_writer(S3Uri.parse(destination), {RUN_ID_META: model.card.run_id})
        if is_s3(destination) else LocalWriter(destination))
    return transform(Source(fmt, counted, open_seekable), target, model.scorer,
                     settings.worker, [monitor] if monitor else [], progress=report,
                     shape=shape)


def _readers(source: str, store: ObjectStore) -> tuple[int, Callable[[], BinaryIO],
                                                       Callable[[], BinaryIO]]:
    """The input's size, and how to open it as a stream and as a seekable file (Parquet)."""
    if not is_s3(source):
        opener = partial(open_file, source)
        return file_size(source), opener, opener
    uri = S3Uri.parse(source)
    info = store.head(uri)
    return (info.size, partial(store.open_stream, uri),
            partial(store.open_seekable, uri, info.size, info.etag))
