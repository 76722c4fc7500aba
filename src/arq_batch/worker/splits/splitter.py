"""Split jobs on the worker: plan a large input into parts, score one part, hand over to
assembly. A large input's message becomes a plan in S3 and one message per part; any
worker scores any part into a temporary object, then writes the part's marker. The one
that writes the last marker claims the assembly (``assembly.py``) with a conditional
write. A part that fails for good fails the job: it writes ``failed.json`` first (so
other parts stop), then removes the job's temporary objects. Every step can be redone."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import BinaryIO, cast

from arq_batch.engine import split_plan
from arq_batch.engine.filestream import Source, Tap, transform
from arq_batch.engine.messages import Job
from arq_batch.engine.predictions import PredictionsTap
from arq_batch.engine.quarantine import TooManyBadRows
from arq_batch.engine.shaping import Shape
from arq_batch.engine.split_plan import Part, Plan, SplitKeys
from arq_batch.engine.values import InvalidValues
from arq_batch.formats import Kind, csv, parquet
from arq_batch.formats.ranges import LineRange
from arq_batch.kernel import layout
from arq_batch.kernel.errors import DataError, MissingObject, PermanentError
from arq_batch.kernel.ports import ObjectInfo, ObjectStore, Queue, exists
from arq_batch.kernel.settings import Settings
from arq_batch.kernel.uris import S3Uri
from arq_batch.models.artifacts import Model
from arq_batch.monitoring.tap import STATISTICS
from arq_batch.worker.monitoring import Monitoring
from arq_batch.worker.splits.set_aside import part_quarantine

logger = logging.getLogger(__name__)
TAIL = 1024 * 1024  # read past a part's range, a window at a time, to end its last line


class Splitter:
    """Plans split jobs and scores their parts."""

    def __init__(self, store: ObjectStore, queue: Queue | None, settings: Settings,
                 monitoring: Monitoring) -> None:
        self._store, self._queue, self._settings = store, queue, settings
        self._monitoring = monitoring

    def keys(self, job: Job) -> SplitKeys:
        """Where this job's plan and parts live."""
        return SplitKeys.of(self._settings.bucket, self._settings.prefixes, job.job_id)

    def wanted(self, job: Job, shape: Shape, size: int) -> bool:
        """Whether a whole job's input is large enough, and of a kind, to split.

        A CSV or JSON Lines input converted to another format is not: a conversion infers
        column types from the first rows it sees, and each part would see other rows."""
        same = shape.source.kind == Kind.PARQUET or shape.target.kind == shape.source.kind
        return (self._queue is not None and 0 < self._limit(job) < size and same
                and split_plan.splittable(shape.source))

    def _limit(self, job: Job) -> int:
        """The part size: the job's own, else the config's."""
        return self._settings.worker.split_bytes if job.split_bytes is None else job.split_bytes

    def plan(self, job: Job, shape: Shape, info: ObjectInfo, model: Model, output: S3Uri,
             enqueued_at: datetime) -> Plan | None:
        """Write the plan (or find it) and send one message per part; None: one part only.

        A redelivered job re-sends its parts; a part that is done already skips."""
        keys = self.keys(job)
        plan = self.read_plan(keys)
        if plan is not None and (plan.input_etag != info.etag or exists(self._store, keys.failed)):
            self.clear(keys)  # an earlier attempt on another version, or a failed one
            plan = None
        if plan is None:
            plan = self._new_plan(job, shape, info, model, output, enqueued_at)
            if plan is None:
                return None
            self._store.put_bytes(keys.plan, plan.to_json())
        assert self._queue is not None
        for part in plan.parts:
            self._queue.send(json.dumps(plan.job | {"part": part.index}))
        logger.info("split job %s into %d parts", job.job_id, len(plan.parts),
                    extra={"event": "split_planned", "job_id": job.job_id,
                           "parts": len(plan.parts), "input_size": info.size})
        return plan

    def _new_plan(self, job: Job, shape: Shape, info: ObjectInfo, model: Model,
                  output: S3Uri, enqueued_at: datetime) -> Plan | None:
        limit, header = self._limit(job), ""
        if shape.source.kind == Kind.PARQUET:
            sizes, rows = parquet.row_groups(self._store.open_seekable(job.input, info.size))
            parts = split_plan.row_group_parts(sizes, rows, limit)
        else:
            parts = split_plan.byte_parts(info.size, limit)
            header = self._header(job, info) if shape.source.kind == Kind.CSV else ""
        if len(parts) < 2:
            return None
        pinned = job.model or layout.run_uri(self._settings.bucket, self._settings.prefixes,
                                            model.card.run_id)
        body = replace(job, model=pinned, split_bytes=None, part=None).to_dict()
        return Plan(body, info.etag, info.size, str(output), model.card.run_id,
                    enqueued_at.isoformat(), header, parts)

    def _header(self, job: Job, info: ObjectInfo) -> str:
        """The first line, which parts after the first read before their own lines; ""
        when it is data (a headerless CSV)."""
        window = _Windows(self._store, job.input, info.etag, 0, info.size, TAIL)
        with io.BufferedReader(window) as stream:
            line = stream.readline(csv.MAX_BLOCK_BYTES)
        text = line.decode("utf-8-sig", errors="replace")
        return "" if csv.first_row_is_data(text) else text

    def read_plan(self, keys: SplitKeys) -> Plan | None:
        """The plan, or None when there is none (never planned, or cleaned up)."""
        try:
            return Plan.parse(self._store.get_bytes(keys.plan))
        except MissingObject:
            return None

    def score_part(self, job: Job, plan: Plan, model: Model, shape: Shape,
                   cancelled: Callable[[], bool]) -> int:
        """Score part ``job.part`` into its temporary objects; returns its rows."""
        keys, part = self.keys(job), _part(plan, job)
        taps = self._taps(job, keys, part, model)
        source = self._source(job, plan, part, shape)
        quarantine = part_quarantine(self._store, self._settings, job, keys, shape,
                                     source.open_stream)
        try:
            return transform(source, self._store.open_writer(keys.output(part.index)),
                             model.scorer, self._settings.worker, taps, cancelled,
                             shape=shape, quarantine=quarantine)
        except (InvalidValues, TooManyBadRows) as exc:  # rows counted from the file's start
            raise exc.shifted(self._rows_before(job, plan, part)) from None
        except DataError as exc:
            raise DataError(f"part {part.index} of {len(plan.parts)}: {exc}") from None

    def _source(self, job: Job, plan: Plan, part: Part, shape: Shape) -> Source:
        if not plan.by_bytes:
            if self._store.head(job.input).etag != plan.input_etag:
                raise PermanentError(f"input {job.input} changed while its parts were scored")
            return Source(shape.source, _no_stream, lambda: self._store.open_seekable(
                job.input, plan.input_size, plan.input_etag), part.index, (part.start, part.end))
        prefix = plan.header.encode() if part.index and plan.header else b""

        def lines() -> BinaryIO:
            start = max(0, part.start - 1)
            raw = _Windows(self._store, job.input, plan.input_etag, start, plan.input_size,
                           part.end - start + TAIL)
            return cast(BinaryIO, LineRange(cast(BinaryIO, raw), part.start, part.end, prefix,
                                            quotes=shape.source.kind == Kind.CSV))
        return Source(shape.source, lines, _no_stream, part.index)

    def _taps(self, job: Job, keys: SplitKeys, part: Part, model: Model) -> list[Tap]:
        settings = self._settings.predictions
        monitor = self._monitoring.part_tap(model, keys, part.index)
        taps: list[Tap] = [monitor] if monitor else []
        if settings.enabled:
            taps.append(PredictionsTap(self._store, keys.predictions(part.index),
                                       str(job.input), settings.id_columns, datetime.now(UTC)))
        return taps

    def _rows_before(self, job: Job, plan: Plan, part: Part) -> int:
        """Data rows in the file before this part: counted from the bytes (errors only)."""
        if not plan.by_bytes or part.index == 0:
            return max(0, part.first_row)
        lines = 1  # the line break at or after start - 1 ends the part's last line before
        if part.start > 1:
            with self._store.open_range(job.input, 0, part.start - 1,
                                        plan.input_etag) as stream:
                while chunk := stream.read(1 << 20):
                    lines += chunk.count(b"\n")
        return lines - (1 if plan.header else 0)

    def fail(self, job: Job) -> bool:
        """Fail the job and remove its temporary objects; True only for the one caller that
        does (it reports the failure, or re-sends an unsplittable job whole)."""
        keys = self.keys(job)
        if not self._store.put_new(keys.failed, b'{"failed": true}'):
            return False  # another part failed it first, and clears up
        if self.read_plan(keys) is None:  # too late: the job was cleared already
            self._store.delete(keys.failed)
            return False
        self.clear(keys)
        return True

    def clear(self, keys: SplitKeys) -> None:
        """Remove the job's split folder: the plan first (parts that see it gone leave
        nothing behind), ``failed.json`` last (so no second part claims the failure)."""
        found = set(self._store.list_keys(keys.folder)) - {keys.plan.key, keys.failed.key}
        for key in [keys.plan.key, *sorted(found), keys.failed.key]:
            with contextlib.suppress(PermanentError):
                self._store.delete(S3Uri(keys.folder.bucket, key))

    def drop(self, keys: SplitKeys, index: int, rows: int) -> None:
        """Remove one part's objects (its job failed while it ran)."""
        for uri in (keys.output(index), keys.predictions(index), *keys.quarantine(index),
                    keys.monitoring(index).child(STATISTICS), keys.done(index, rows)):
            with contextlib.suppress(PermanentError):
                self._store.delete(uri)


def _part(plan: Plan, job: Job) -> Part:
    assert job.part is not None
    if job.part >= len(plan.parts):
        raise PermanentError(f"part {job.part} is not in the plan ({len(plan.parts)} parts)")
    return plan.parts[job.part]


def _no_stream() -> BinaryIO:
    raise AssertionError("this part is read the other way")


class _Windows(io.RawIOBase):
    """An object's bytes from ``start`` on, in bounded ranged GETs: ``first`` bytes, then
    ``TAIL`` at a time. A part's reader stops soon after its range; an open-ended GET
    would have the store send (and moto build in memory) the rest of a huge file."""

    def __init__(self, store: ObjectStore, uri: S3Uri, etag: str, start: int, size: int,
                 first: int) -> None:
        self._store, self._uri, self._etag, self._size = store, uri, etag, size
        self._pos, self._window = start, first
        self._stream: BinaryIO | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while self._pos < self._size:
            if self._stream is None:
                end = min(self._size, self._pos + self._window)
                self._stream, self._window = self._store.open_range(
                    self._uri, self._pos, end, self._etag), TAIL
            data = self._stream.read(len(buffer))
            if data:
                buffer[:len(data)] = data
                self._pos += len(data)
                return len(data)
            self._stream.close()
            self._stream = None
        return 0

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
        super().close()
