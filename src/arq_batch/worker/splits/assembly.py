"""A split job's parts: score one, mark it done, and let the last one assemble the output.

Assembly is claimed with a conditional write (``If-None-Match``) of ``assembly.json``
naming the claiming part: exactly one worker assembles even when the last two parts finish
at the same moment, and if it crashes its part's message comes back to the same claim and
assembles again (every step is idempotent; the output appears only when complete). CSV,
JSON Lines and RecordIO parts (gzip and zstd members too) are joined server-side by
``UploadPartCopy``; Parquet parts, which cannot be joined as bytes, are rewritten into
one file, and so are the predictions files, whose row numbers are shifted on the way.
"""

from __future__ import annotations

import bisect
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from arq_batch.engine.messages import Job
from arq_batch.engine.shaping import Shape
from arq_batch.engine.split_plan import Plan, SplitKeys
from arq_batch.formats import Kind, parquet
from arq_batch.formats.ranges import SplitUnsafe
from arq_batch.formats.sink import sink_for
from arq_batch.kernel.errors import DataError
from arq_batch.kernel.layout import predictions_uri
from arq_batch.kernel.ports import ObjectInfo, ObjectStore, Queue, exists
from arq_batch.kernel.settings import Settings
from arq_batch.kernel.uris import S3Uri
from arq_batch.models.artifacts import Model
from arq_batch.monitoring.checks import Findings
from arq_batch.worker.monitoring import Monitoring
from arq_batch.worker.splits.set_aside import assemble
from arq_batch.worker.splits.splitter import Splitter

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PartOutcome:
    """What one delivery of a part did; ``total_rows`` is set when it assembled the job."""

    rows: int = 0
    skipped: bool = False
    total_rows: int | None = None
    output_bytes: int = 0
    input_etag: str = ""  # the input's, as planned (the assembled job's ledger fields)
    input_size: int = 0
    monitoring: Findings | None = None  # the whole input's checks, when it assembled
    quarantined: int = 0  # the whole job's bad rows set aside, when it assembled


class Parts:
    """Runs part messages: score, mark, and assemble when the last one is done."""

    def __init__(self, store: ObjectStore, queue: Queue | None, settings: Settings,
                 monitoring: Monitoring) -> None:
        self._store, self._queue, self._settings = store, queue, settings
        self._monitoring = monitoring
        self.splitter = Splitter(store, queue, settings, monitoring)

    def run(self, job: Job, model: Model, shape: Shape,
            cancelled: Callable[[], bool]) -> PartOutcome:
        """One delivery of part ``job.part``; safe to repeat."""
        keys = self.splitter.keys(job)
        plan = self.splitter.read_plan(keys)
        if plan is None or exists(self._store, keys.failed):
            logger.info("part %s of job %s: the job was finished or failed already", job.part,
                        job.job_id, extra={"event": "split_part_stale", "job_id": job.job_id})
            return PartOutcome(skipped=True)
        done = keys.done_parts(self._store.list_keys(keys.done_prefix))
        assert job.part is not None
        rows = done.get(job.part)
        if rows is None:
            try:
                rows = self.splitter.score_part(job, plan, model, shape, cancelled)
            except SplitUnsafe as exc:
                self._score_whole(job, plan, exc)
                return PartOutcome(skipped=True)
            if not self._mark(keys, job.part, rows):
                return PartOutcome(rows, skipped=True)
            done = keys.done_parts(self._store.list_keys(keys.done_prefix))
        self._progress(job, plan, done)
        if len(done) < len(plan.parts) or not self._claim(keys, job.part):
            return PartOutcome(rows)
        total, size, findings, quarantined = self._assemble(plan, keys, done, shape, model)
        self.splitter.clear(keys)
        return PartOutcome(rows, total_rows=total, output_bytes=size,
                           input_etag=plan.input_etag, input_size=plan.input_size,
                           monitoring=findings, quarantined=quarantined)

    def _score_whole(self, job: Job, plan: Plan, reason: SplitUnsafe) -> None:
        """The file cannot be split: the first part to find out re-sends it as one job."""
        if self.splitter.fail(job):
            assert self._queue is not None
            self._queue.send(json.dumps(plan.job | {"split_bytes": 0}))
            logger.warning("job %s cannot be split (%s); scoring it whole", job.job_id, reason,
                           extra={"event": "split_unsafe", "job_id": job.job_id})

    def _mark(self, keys: SplitKeys, index: int, rows: int) -> bool:
        """Mark a part done; False (and nothing of it left) if its job failed meanwhile."""
        self._store.put_bytes(keys.done(index, rows), b"")
        if self.splitter.read_plan(keys) is None or exists(self._store, keys.failed):
            self.splitter.drop(keys, index, rows)
            return False
        return True

    def _claim(self, keys: SplitKeys, index: int) -> bool:
        """Whether this part assembles: it won the claim, or won it in an earlier delivery."""
        if self._store.put_new(keys.assembly, json.dumps({"part": index}).encode()):
            return True
        return bool(json.loads(self._store.get_bytes(keys.assembly))["part"] == index)

    def _progress(self, job: Job, plan: Plan, done: dict[int, int]) -> None:
        logger.info("split job %s: %d of %d parts done, %d rows so far", job.job_id, len(done),
                    len(plan.parts), sum(done.values()),
                    extra={"event": "split_progress", "job_id": job.job_id,
                           "parts_done": len(done), "parts": len(plan.parts),
                           "rows": sum(done.values())})

    def _assemble(self, plan: Plan, keys: SplitKeys, done: dict[int, int], shape: Shape,
                  model: Model) -> tuple[int, int, Findings | None, int]:
        """Monitoring and predictions first, then the output (its appearance means the job
        is done)."""
        total = sum(done.values())
        if total == 0:
            raise DataError("no data rows (the file is empty or has only a header)")
        sizes = dict(self._store.list_objects(keys.parts_prefix))
        set_aside = assemble(self._store, self._settings, plan, keys, done, sizes, shape)
        findings, monitoring_undo = self._monitoring.assemble(plan, keys, model, sizes)

        def undo() -> None:
            monitoring_undo()
            for uri in set_aside.written:
                self._store.delete(uri)
        try:
            predictions = self._predictions(plan, keys, sizes, done, set_aside.first_rows)
        except BaseException:
            undo()
            raise
        output = S3Uri.parse(plan.output)
        metadata = Job.from_dict(plan.job).output_metadata(plan.run_id, plan.input_etag)
        try:
            if shape.target.kind == Kind.PARQUET:
                self._rewrite(output, metadata, plan, keys.output, sizes, None)
            else:
                parts = [keys.output(p.index) for p in plan.parts]
                self._store.compose(output, [(u, sizes[u.key].size) for u in parts], metadata)
        except BaseException:
            if predictions is not None:
                self._store.delete(predictions)
            undo()
            raise
        return total, self._store.head(output).size, findings, set_aside.count

    def _predictions(self, plan: Plan, keys: SplitKeys, sizes: dict[str, ObjectInfo],
                     done: dict[int, int], first_rows: tuple[int, ...]) -> S3Uri | None:
        if not any(keys.predictions(p.index).key in sizes for p in plan.parts):
            return None
        s = self._settings
        uri = predictions_uri(s.bucket, s.prefixes, plan.run_id, plan.enqueued_at[:10],
                              str(plan.job["job_id"]))
        self._rewrite(uri, {}, plan, keys.predictions, sizes, _Renumber(plan, done, first_rows))
        return uri

    def _rewrite(self, target: S3Uri, metadata: dict[str, str], plan: Plan,
                 key_of: Callable[[int], S3Uri], sizes: dict[str, ObjectInfo],
                 adjust: Callable[[int, pa.RecordBatch], pa.RecordBatch] | None) -> None:
        """Parquet parts as one Parquet file (decoded and encoded again: see module doc)."""
        uris = [key_of(p.index) for p in plan.parts
                if key_of(p.index).key in sizes and sizes[key_of(p.index).key].size]
        writer = self._store.open_writer(target, metadata)
        try:
            parquet.concatenate((self._store.open_seekable(u, sizes[u.key].size) for u in uris),
                                sink_for(writer), adjust)
            writer.close()
        except BaseException:
            writer.abort()
            raise


class _Renumber:
    """Rows counted from the start of the file. A part's predictions count from its own
    first row (with gaps where bad rows were set aside), so each part's are shifted by
    where the part starts in the input; the files are read in part order, and a part's
    file holds as many rows as it scored."""

    def __init__(self, plan: Plan, done: dict[int, int], first_rows: tuple[int, ...]) -> None:
        self._starts: list[int] = []  # rows written before each part with rows
        self._firsts: list[int] = []  # that part's first row in the input
        written = 0
        for part, first in zip(plan.parts, first_rows, strict=True):
            if done.get(part.index):
                self._starts.append(written)
                self._firsts.append(first)
                written += done[part.index]

    def __call__(self, rows_before: int, batch: pa.RecordBatch) -> pa.RecordBatch:
        first = self._firsts[bisect.bisect_right(self._starts, rows_before) - 1]
        index = batch.schema.get_field_index("row")
        return batch.set_column(index, "row", pc.add(batch.column(index), first))
