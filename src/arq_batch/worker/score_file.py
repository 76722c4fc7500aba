"""``arq-batch score``: the worker's engine on local paths as well as s3:// URIs."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import BinaryIO, cast

from arq_batch.engine.filestream import Source, Tap, compressed, transform
from arq_batch.engine.options import JobOptions
from arq_batch.engine.quarantine import Quarantine, Targets
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


@dataclass(frozen=True)
class Scored:
    """What ``score_file`` did: rows scored, and rows set aside within the budget."""

    rows: int
    quarantined: int = 0


def score_file(source: str, destination: str, model: Model, store: ObjectStore,
               settings: Settings, progress: Progress = lambda rows, done: None,
               options: JobOptions | None = None, monitor: Tap | None = None,
               max_bad_rows: int = 0) -> Scored:
    """``arq-batch score``: the worker's engine on local paths or s3:// URIs; ``options``
    as a job message has them (the output is written to ``destination`` as named), and
    ``monitor`` checks the input in the same pass. Within ``max_bad_rows``, bad rows go
    to ``destination + ".quarantine"`` and their reasons beside it (contract 13)."""
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

    meta = {RUN_ID_META: model.card.run_id}
    quarantine = None
    if max_bad_rows:
        quarantine = Quarantine(max_bad_rows, fmt, open_stream,
                                _beside(source, destination, store, meta),
                                partial(compressed, fmt.compression, settings.worker))
    rows = transform(Source(fmt, counted, open_seekable), _writer(destination, store, meta),
                     model.scorer, settings.worker, [monitor] if monitor else [],
                     progress=report, shape=shape, quarantine=quarantine)
    return Scored(rows, quarantine.count if quarantine else 0)


def _writer(destination: str, store: ObjectStore, meta: dict[str, str]) -> ObjectWriter:
    if is_s3(destination):
        return store.open_writer(S3Uri.parse(destination), meta)
    return LocalWriter(destination)


def _beside(source: str, destination: str, store: ObjectStore, meta: dict[str, str]
            ) -> Targets:
    """``DST.quarantine`` and ``DST.errors.jsonl``, on S3 or a local disk."""
    rows, errors = destination + ".quarantine", destination + ".errors.jsonl"

    def remove() -> None:
        for name in (rows, errors):
            if is_s3(name):
                store.delete(S3Uri.parse(name))
            elif os.path.exists(name):
                os.remove(name)

    return Targets(partial(_writer, rows, store, meta), partial(_writer, errors, store, meta),
                   remove, source)


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
