"""Split jobs: one large input scored as parts by many workers, then assembled into one output.

A plan (``plan.json`` under ``data/splits/<job>/``) pins what every part must agree on:
the input's ETag, the model run, the output, the CSV header and the parts. Line formats
(CSV, JSON Lines) split by byte ranges: a part holds the lines that *start* inside its
range, so part ``i`` skips to the first line break at or after ``start - 1`` and reads
through the first line break at or after ``end - 1``. Parquet splits by row groups.
The worker's side (planning, parts, assembly) is ``worker/splits/``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from arq_batch.formats import FileFormat
from arq_batch.kernel.layout import safe_name
from arq_batch.kernel.settings import Prefixes
from arq_batch.kernel.uris import S3Uri

SPLITTABLE = ("csv", "jsonl", "parquet")


@dataclass(frozen=True)
class Part:
    """One part: a byte range of a line format, or a range of Parquet row groups."""

    index: int
    start: int  # first byte, or first row group
    end: int  # one past the last byte, or row group
    first_row: int = -1  # Parquet: the rows before this part; lines: unknown until read


@dataclass(frozen=True)
class Plan:
    """What every worker of one split job reads: it never changes once written."""

    job: dict[str, Any]  # the job message, model pinned to one run, without ``part``
    input_etag: str
    input_size: int
    output: str
    run_id: str
    enqueued_at: str  # ISO time of the original message: dates the predictions file
    header: str  # the CSV header line each part after the first reads first ("" if none)
    parts: tuple[Part, ...]

    @property
    def by_bytes(self) -> bool:
        """Whether parts are byte ranges (line formats) rather than row groups."""
        return self.parts[0].first_row < 0

    def to_json(self) -> bytes:
        """The plan object's body."""
        body = {**self.__dict__, "parts": [p.__dict__ for p in self.parts]}
        return json.dumps(body, indent=1).encode()

    @classmethod
    def parse(cls, data: bytes) -> Plan:
        """A plan written by ``to_json``."""
        body = json.loads(data)
        return cls(**{**body, "parts": tuple(Part(**p) for p in body["parts"])})


def part_id(job_id: str, index: int) -> str:
    """A part's id in the ledger and the logs: ``<job id>#part-00003``."""
    return f"{job_id}#part-{index:05d}"


def splittable(fmt: FileFormat) -> bool:
    """Whether a format can be read in parts: not compressed, and not RecordIO."""
    return fmt.kind in SPLITTABLE and not fmt.compression


def byte_parts(size: int, split_bytes: int) -> tuple[Part, ...]:
    """Equal byte ranges of at most ``split_bytes`` covering ``size`` bytes."""
    count = max(1, -(-size // split_bytes))
    step = -(-size // count)
    return tuple(Part(i, i * step, min(size, (i + 1) * step)) for i in range(count))


def row_group_parts(group_bytes: Sequence[int], group_rows: Sequence[int],
                    split_bytes: int) -> tuple[Part, ...]:
    """Consecutive row groups gathered until each part holds about ``split_bytes``."""
    parts: list[Part] = []
    start, size, rows_before, rows = 0, 0, 0, 0
    for index, (nbytes, nrows) in enumerate(zip(group_bytes, group_rows, strict=True)):
        size, rows = size + nbytes, rows + nrows
        if size >= split_bytes or index == len(group_bytes) - 1:
            parts.append(Part(len(parts), start, index + 1, rows_before))
            start, size, rows_before, rows = index + 1, 0, rows_before + rows, 0
    return tuple(parts)


@dataclass(frozen=True)
class SplitKeys:
    """Where one split job keeps its plan, its parts and its markers until assembled."""

    folder: S3Uri

    @classmethod
    def of(cls, bucket: str, prefixes: Prefixes, job_id: str) -> SplitKeys:
        """``data/splits/<job id>/``."""
        return cls(S3Uri(bucket, f"{prefixes.splits}{safe_name(job_id)}/"))

    def _key(self, name: str) -> S3Uri:
        return S3Uri(self.folder.bucket, self.folder.key + name)

    @property
    def plan(self) -> S3Uri:
        """The plan."""
        return self._key("plan.json")

    @property
    def failed(self) -> S3Uri:
        """Written once by the first part that fails (or finds the file unsafe to split)."""
        return self._key("failed.json")

    @property
    def assembly(self) -> S3Uri:
        """The claim of the one part whose worker assembles the output."""
        return self._key("assembly.json")

    @property
    def done_prefix(self) -> S3Uri:
        """Under it, one marker per scored part."""
        return self._key("done/")

    def done(self, index: int, rows: int) -> S3Uri:
        """Part ``index``'s marker, written after its objects; its name holds its rows, so
        one listing tells every part's progress."""
        return self._key(f"done/{index:05d}.rows-{rows}")

    def done_parts(self, keys: Iterable[str]) -> dict[int, int]:
        """Rows by part index, from the keys of a listing of the folder."""
        done = {}
        for key in keys:
            name = key[len(self.folder.key):]
            if name.startswith("done/"):
                index, _, rows = name[len("done/"):].partition(".rows-")
                done[int(index)] = int(rows)
        return done

    @property
    def parts_prefix(self) -> S3Uri:
        """Under it, the parts' scored bytes and predictions."""
        return self._key("parts/")

    def output(self, index: int) -> S3Uri:
        """Part ``index``'s scored bytes, in the job's output format."""
        return self._key(f"parts/{index:05d}.out")

    def predictions(self, index: int) -> S3Uri:
        """Part ``index``'s predictions, rows counted from the part's first row."""
        return self._key(f"parts/{index:05d}.predictions.parquet")

    def quarantine(self, index: int) -> tuple[S3Uri, S3Uri]:
        """Part ``index``'s bad rows (no CSV header) and their ``.errors.jsonl``, rows
        counted from the part's first row."""
        rows = self._key(f"parts/{index:05d}.quarantine")
        return rows, self._key(f"parts/{index:05d}.quarantine.errors.jsonl")

    def monitoring(self, index: int) -> S3Uri:
        """Part ``index``'s folder for its statistics.json, merged by the assembly."""
        return self._key(f"parts/{index:05d}.monitoring/")
