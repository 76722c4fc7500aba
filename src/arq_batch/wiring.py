"""The one place adapters are built from ``Settings``: the object store, the job queue, the
model store and the SQL engine's S3 connection. The CLI, the worker's entry point and
Spark call these; everything else is handed what it needs.

Each function imports its adapter when called, so a command that needs only the queue
(``send``) never loads what the model store needs (numpy, pyarrow).

May import: the kernel, models, stores and the AWS adapters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from arq_batch.kernel.settings import Settings

if TYPE_CHECKING:
    from arq_batch.aws.clients import S3Connection
    from arq_batch.aws.s3 import S3Store
    from arq_batch.aws.sqs import SqsQueue
    from arq_batch.models.store import ModelStore


def object_store(settings: Settings, *, for_jobs: bool = False,
                 upload_threads: int = 4) -> S3Store:
    """The bucket's store: encryption and addressing as configured; ``for_jobs`` writes
    outputs in the worker's part size (``worker.part_size_mb``)."""
    from arq_batch.aws.s3 import DEFAULT_PART, S3Store

    part = settings.worker.part_size_mb * 1024 * 1024 if for_jobs else DEFAULT_PART
    return S3Store(settings.encryption, part, upload_threads=upload_threads,
                   addressing_style=settings.s3.addressing_style)


def job_queue(settings: Settings) -> SqsQueue:
    """The job queue, with its dead-letter queue."""
    from arq_batch.aws.sqs import SqsQueue

    return SqsQueue(settings.queue, settings.dlq_name)


def model_store(settings: Settings, store: S3Store | None = None) -> ModelStore:
    """The models in the bucket, cached by URI and ETag (over ``store``, or a new one)."""
    from arq_batch.models.store import ModelStore

    return ModelStore(store or object_store(settings), settings)


def query_connection(settings: Settings) -> S3Connection:
    """How DuckDB reaches the same store as boto3 does."""
    from arq_batch.aws.clients import s3_connection

    return s3_connection(settings.s3.addressing_style)
