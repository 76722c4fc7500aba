"""Where a job's bad rows go (``data/quarantine/``), and who may write a job's keys."""

from __future__ import annotations

from functools import partial
from typing import BinaryIO
from urllib.parse import unquote

from arq_batch.engine.filestream import compressed
from arq_batch.engine.messages import Job
from arq_batch.engine.quarantine import Quarantine, Targets
from arq_batch.engine.shaping import Shape
from arq_batch.kernel import layout
from arq_batch.kernel.errors import MissingObject, OutputNotAllowed
from arq_batch.kernel.layout import INPUT_META, RUN_ID_META
from arq_batch.kernel.ports import ObjectInfo, ObjectStore, ObjectWriter
from arq_batch.kernel.settings import Settings
from arq_batch.kernel.uris import S3Uri


def job_quarantine(store: ObjectStore, settings: Settings, job: Job, shape: Shape,
                   info: ObjectInfo, metadata: dict[str, str]) -> Quarantine | None:
    """The job's bad-row budget and where its bad rows go (None: all or nothing). The
    quarantine objects carry the output's metadata, so they name their input too."""
    budget = settings.worker.budget(job.max_bad_rows)
    if not budget:
        return None
    rows, errors = layout.quarantine_uris(settings.bucket, settings.prefixes, job.input)

    def open_rows() -> ObjectWriter:
        check_owner(store, rows, metadata)  # one input, one key, as for outputs
        return store.open_writer(rows, metadata)

    def remove() -> None:
        for uri in (rows, errors):
            store.delete(uri)

    return Quarantine(budget, shape.source, partial(reopen, store, job, info),
                      Targets(open_rows, partial(store.open_writer, errors, metadata), remove,
                              str(job.input)),
                      partial(compressed, shape.source.compression, settings.worker))


def reopen(store: ObjectStore, job: Job, info: ObjectInfo) -> BinaryIO:
    """The input read again from its start: the same version, or a permanent error."""
    return store.open_range(job.input, 0, max(info.size, 1), info.etag)


def check_owner(store: ObjectStore, uri: S3Uri, metadata: dict[str, str]
                ) -> dict[str, str] | None:
    """The metadata of the object at ``uri`` (None if there is none); OutputNotAllowed if
    another input's job, or something other than arq-batch, wrote it."""
    try:
        existing = store.head(uri).metadata
    except MissingObject:
        return None
    owner = existing.get(INPUT_META)
    if owner is None and RUN_ID_META not in existing:
        raise OutputNotAllowed(f"output {uri} exists and was not written by arq-batch; "
                               "delete it or choose another output")
    if owner is not None and owner != metadata[INPUT_META]:
        raise OutputNotAllowed(f"output {uri} already holds the output of another "
                               f"input ({unquote(owner)}); choose another output")
    return dict(existing)
