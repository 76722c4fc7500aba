"""Live progress of running jobs, where every reader can see it: ``data/progress/``.

A job that runs longer than one publishing interval writes ``<job id>.json`` (rows so far,
bytes read of the input's size, when it started, which worker) every interval, and
removes it when it settles; a retry of the job on another worker overwrites it. A record
not updated for ``stalled_after`` intervals belongs to a worker that died: readers show
it as stalled until a retry takes it over or the ledger settles the job.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from arq_batch.kernel.errors import ArqError
from arq_batch.kernel.ports import ObjectStore
from arq_batch.kernel.uris import S3Uri

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobProgress:
    """One running job as its worker last saw it."""

    job_id: str
    input: str
    worker_id: str
    started_at: float  # epoch seconds
    updated_at: float
    rows: int
    bytes_read: int
    input_size: int

    @property
    def fraction(self) -> float | None:
        """Share of the input read (None when its size is unknown)."""
        return min(1.0, self.bytes_read / self.input_size) if self.input_size else None

    def eta_seconds(self) -> float | None:
        """Time left at the pace so far (None before anything is read)."""
        done = self.fraction
        if not done:
            return None
        return (self.updated_at - self.started_at) * (1 - done) / done

    def stalled(self, now: float, interval: float, after: int) -> bool:
        """Whether its worker has missed ``after`` updates (it died, or hangs)."""
        return now - self.updated_at > interval * after

    def to_json(self) -> bytes:
        """The record's body."""
        return json.dumps(asdict(self)).encode()

    @classmethod
    def parse(cls, data: bytes) -> JobProgress:
        """A record as written by ``to_json``; ValueError if it is not one."""
        try:
            raw: dict[str, Any] = json.loads(data)
            return cls(**raw)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"not a progress record: {exc}") from None


class Publisher:
    """Publishes one job's progress at most every ``interval`` seconds, from the job's
    own thread alone (one small PUT per interval: nothing for jobs shorter than one)."""

    def __init__(self, store: ObjectStore, uri: S3Uri, about: JobProgress, interval: float,
                 clock: Callable[[], float] = time.time) -> None:
        self._store, self._uri, self._about = store, uri, about
        self._interval, self._clock = interval, clock
        self._next = about.started_at + interval
        self._published = False

    def update(self, rows: int, bytes_read: int) -> None:
        """Called after each batch; writes when an interval has passed."""
        now = self._clock()
        if now < self._next:
            return
        self._next = now + self._interval
        record = JobProgress(**{**asdict(self._about), "updated_at": now, "rows": rows,
                                "bytes_read": bytes_read})
        try:
            self._store.put_bytes(self._uri, record.to_json())
            self._published = True
        except ArqError as exc:  # progress is a view: it never fails the job
            logger.warning("progress of job %s not published: %s", self._about.job_id, exc,
                           extra={"event": "progress_error", "job_id": self._about.job_id})

    def close(self) -> None:
        """The job settled: remove its record, if it ever wrote one."""
        if not self._published:
            return
        try:
            self._store.delete(self._uri)
        except ArqError as exc:
            logger.warning("progress of job %s not removed: %s", self._about.job_id, exc,
                           extra={"event": "progress_error", "job_id": self._about.job_id})
