"""``arq-batch watch``: jobs from new objects, for stores that cannot notify SQS.

Each pass lists ``data/input/`` (the notification's prefix; keys ending in ``/`` are
folders, not files) and enqueues every object it has not enqueued before, as the S3
notification would: one job per object and ETag, so an overwritten object is scored again.

The state lives in the bucket, one small marker per object and ETag under
``data/watch/``, so a restarted watcher carries on and a second one does not repeat the
first. A marker is first *claimed* (a conditional write, ``If-None-Match: *``: of two
watchers at once, one wins), then the job is sent, then the marker is marked *sent*. A
send that fails releases its claim; a claim never sent (its watcher died in between) is
sent again by a later pass once it is ``STALE_SECONDS`` old. On a store that ignores
conditional writes (rclone's), two watchers at once may both enqueue an object they both
listed; the job's idempotent output makes the second a ``skipped`` no-op.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from arq_batch.engine.messages import Job
from arq_batch.kernel.errors import ArqError
from arq_batch.kernel.ports import ObjectInfo, ObjectStore, Queue
from arq_batch.kernel.settings import Settings
from arq_batch.kernel.uris import S3Uri

logger = logging.getLogger(__name__)
STALE_SECONDS = 300.0
MAX_MARKER_BYTES = 1000  # S3's key limit is 1,024 bytes, with the suffix below to add
CLAIMED, SENT = ".claimed", ".sent"


@dataclass(frozen=True)
class Pass:
    """What one pass saw and did."""

    listed: int
    enqueued: tuple[str, ...]


class Watcher:
    """Turns new input objects into job messages, each once."""

    def __init__(self, store: ObjectStore, queue: Queue, settings: Settings,
                 clock: Callable[[], float] = time.time) -> None:
        self._store, self._queue, self._clock = store, queue, clock
        self._bucket = settings.bucket
        self._inputs, self._markers = settings.prefixes.input, settings.prefixes.watch

    def run_pass(self) -> Pass:
        """List the inputs once and enqueue what is new."""
        markers = dict(self._store.list_objects(S3Uri(self._bucket, self._markers)))
        enqueued, listed = [], 0
        for key, info in self._store.list_objects(S3Uri(self._bucket, self._inputs)):
            if key.endswith("/"):
                continue
            listed += 1
            try:
                if self._enqueue(key, info, markers):
                    enqueued.append(key)
            except ArqError as exc:  # the next pass tries this object again
                logger.warning("could not enqueue %s: %s", key, exc, extra={
                    "event": "watch_failed", "input": f"s3://{self._bucket}/{key}"})
        return Pass(listed, tuple(enqueued))

    def _enqueue(self, key: str, info: ObjectInfo, markers: dict[str, ObjectInfo]) -> bool:
        marker = self._marker(key, info)
        if marker + SENT in markers or not self._claim(marker, markers.get(marker + CLAIMED)):
            return False
        job = Job(_job_id(key, info), S3Uri(self._bucket, key))
        try:
            message_id = self._queue.send(job.to_body())
        except ArqError:  # let the next pass claim it again at once, not after STALE_SECONDS
            self._store.delete(S3Uri(self._bucket, marker + CLAIMED))
            raise
        self._store.put_bytes(S3Uri(self._bucket, marker + SENT), json.dumps(
            {"input": str(job.input), "etag": info.etag, "job_id": job.job_id,
             "message_id": message_id}).encode())
        logger.info("enqueued %s", job.input, extra={
            "event": "watch_enqueued", "job_id": job.job_id, "input": str(job.input)})
        return True

    def _marker(self, key: str, info: ObjectInfo) -> str:
        marker = f"{self._markers}{key}@{info.etag}"
        if len(marker.encode()) <= MAX_MARKER_BYTES:
            return marker
        # S3 keys stop at 1,024 bytes: a long input key's marker is named by its hash.
        return f"{self._markers}_long/{_job_id(key, info)}"

    def _claim(self, marker: str, claimed: ObjectInfo | None) -> bool:
        uri = S3Uri(self._bucket, marker + CLAIMED)
        if claimed is None:
            return self._store.put_new(uri, b"{}")
        # Claimed but never marked sent: its watcher died in between, or is sending now.
        return self._clock() - claimed.modified > STALE_SECONDS


def _job_id(key: str, info: ObjectInfo) -> str:
    """The same id for the same object and ETag, whichever watcher sends it."""
    return "watch-" + hashlib.sha256(f"{key}@{info.etag}".encode()).hexdigest()[:24]


def watch(watcher: Watcher, interval: float, once: bool,
          stopping: Callable[[], bool]) -> list[Pass]:
    """Passes every ``interval`` seconds until ``stopping()`` (or after one, ``once``)."""
    passes = []
    while True:
        passes.append(watcher.run_pass())
        if once:
            return passes
        deadline = time.monotonic() + interval
        while time.monotonic() < deadline:
            if stopping():
                return passes
            time.sleep(min(0.2, interval))
