"""A split job's bad rows: each part sets its own aside, the assembly counts them all.

A part quarantines its bad rows into temporary objects beside its output, rows counted
from its own first row and without the CSV header. The budget holds for the whole job,
so the assembly decides: more bad rows than ``max_bad_rows`` over all parts fail the job
(and the split folder, quarantine parts included, is cleared as for any failed split
job); otherwise it joins the parts' rows behind the header into the job's quarantine
file, shifts each part's rows to the input's numbering, and says where each part's first
row lies, so the predictions dataset keeps the input's own row numbers too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from arq_batch.engine.messages import Job
from arq_batch.engine.quarantine import MAX_LISTED, Quarantine, Targets, TooManyBadRows
from arq_batch.engine.shaping import Shape
from arq_batch.engine.split_plan import Plan, SplitKeys
from arq_batch.formats import Kind, parquet
from arq_batch.formats.bad_rows import BadRow
from arq_batch.formats.sink import sink_for
from arq_batch.kernel import layout
from arq_batch.kernel.errors import MissingObject
from arq_batch.kernel.ports import ObjectInfo, ObjectStore
from arq_batch.kernel.settings import Settings
from arq_batch.kernel.uris import S3Uri
from arq_batch.worker.set_aside import check_owner


def part_quarantine(store: ObjectStore, settings: Settings, job: Job, keys: SplitKeys,
                    shape: Shape, reopen: Callable[[], BinaryIO]) -> Quarantine | None:
    """The part's quarantine, with the whole job's budget (None: all or nothing)."""
    budget = settings.worker.budget(job.max_bad_rows)
    if not budget:
        return None
    assert job.part is not None
    rows, errors = keys.quarantine(job.part)

    def remove() -> None:
        for uri in (rows, errors):
            store.delete(uri)

    return Quarantine(budget, shape.source, reopen,
                      Targets(lambda: store.open_writer(rows), lambda: store.open_writer(errors),
                              remove, str(job.input)),
                      lambda writer: writer, header=False)  # split inputs are never compressed


@dataclass(frozen=True)
class SetAside:
    """What the assembly found of the job's bad rows."""

    count: int = 0
    first_rows: tuple[int, ...] = ()  # each part's first row in the input
    written: tuple[S3Uri, ...] = ()  # the job's quarantine objects, to undo on failure


def assemble(store: ObjectStore, settings: Settings, plan: Plan, keys: SplitKeys,
             done: dict[int, int], sizes: dict[str, ObjectInfo], shape: Shape) -> SetAside:
    """Count every part's bad rows against the budget, then write the job's quarantine
    file and ``.errors.jsonl``; TooManyBadRows (nothing written) over the budget."""
    job = Job.from_dict(plan.job)
    per_part = [_part_errors(store, keys, p.index, sizes) for p in plan.parts]
    first_rows, row = [], 0
    for part, bad in zip(plan.parts, per_part, strict=True):
        row = part.first_row if not plan.by_bytes else row
        first_rows.append(row)
        row += done[part.index] + len(bad)
    bad_rows = [BadRow(first + b.row, b.column, b.value, b.reason)
                for first, bad in zip(first_rows, per_part, strict=True) for b in bad]
    if not bad_rows:
        return SetAside(0, tuple(first_rows))
    budget = settings.worker.budget(job.max_bad_rows)
    if len(bad_rows) > budget:
        raise TooManyBadRows(budget, bad_rows[:MAX_LISTED], complete=True)
    target, errors = layout.quarantine_uris(settings.bucket, settings.prefixes, job.input)
    metadata = job.output_metadata(plan.run_id, plan.input_etag)
    check_owner(store, target, metadata)  # one input, one key, as for outputs
    _join_rows(store, plan, keys, (target, metadata), sizes, shape.source.kind == Kind.PARQUET)
    body = "".join(b.to_json(str(job.input)) + "\n" for b in bad_rows).encode()
    store.put_bytes(errors, body, metadata)
    return SetAside(len(bad_rows), tuple(first_rows), (target, errors))


def _part_errors(store: ObjectStore, keys: SplitKeys, index: int,
                 sizes: dict[str, ObjectInfo]) -> list[BadRow]:
    _, errors = keys.quarantine(index)
    if errors.key not in sizes:
        return []
    try:
        lines = store.get_bytes(errors).decode().splitlines()
    except MissingObject:
        return []
    return [BadRow(**{k: v for k, v in json.loads(line).items() if k != "input"})
            for line in lines]


def _join_rows(store: ObjectStore, plan: Plan, keys: SplitKeys,
               target: tuple[S3Uri, dict[str, str]], sizes: dict[str, ObjectInfo],
               as_parquet: bool) -> None:
    """The parts' bad rows in order, behind the CSV's header; Parquet rewritten as one."""
    parts = [keys.quarantine(p.index)[0] for p in plan.parts]
    parts = [u for u in parts if u.key in sizes]
    writer = store.open_writer(*target)
    try:
        if as_parquet:
            parquet.concatenate((store.open_seekable(u, sizes[u.key].size) for u in parts),
                                sink_for(writer))
        else:
            writer.write(plan.header.encode())
            for uri in parts:
                writer.write(store.get_bytes(uri))
        writer.close()
    except BaseException:
        writer.abort()
        raise

