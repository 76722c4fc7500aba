"""Compaction: a partition's small objects gathered into one Parquet file, safely.

For each partition (``dt=...``) of each growing dataset, a compactor claims the partition
with a conditional write (``put_new``: two compactors at once never both work on one),
writes the small objects older than ``min_age`` as one Parquet file, each row naming its
``source``, commits it, and only then deletes the small objects. A compactor that dies
half-way leaves either nothing new or a committed file whose sources still exist: readers
skip small objects named in a compacted file (so nothing is counted twice), and the next
pass deletes them. A claim older than ``claim_seconds`` is taken over.
"""

from __future__ import annotations

import io
import json
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from arq_batch.engine.datasets import SOURCE, Dataset, compacted_prefix, datasets, read_rows
from arq_batch.kernel.errors import MissingObject
from arq_batch.kernel.ports import ObjectInfo, ObjectStore
from arq_batch.kernel.settings import Settings
from arq_batch.kernel.uris import S3Uri

logger = logging.getLogger(__name__)
CLAIM = "_claim.json"
MAX_OBJECTS = 20_000  # per partition and pass: bounds a compactor's memory
# A partition gains a file per pass; at this many they are merged into one (unless they
# hold more than MERGE_BYTES: a day of predictions can be large, and its files are too).
MERGE_AT, MERGE_BYTES = 16, 256 * 1024 * 1024


@dataclass(frozen=True)
class Compacted:
    """What one pass did to one partition."""

    dataset: str
    partition: str
    objects: int  # small objects gathered into the new file
    leftovers: int  # small objects already in a compacted file, deleted now
    file: str | None  # the new compacted file's key


class Compactor:
    """Compacts the bucket's growing datasets; safe to run from many workers at once."""

    def __init__(self, store: ObjectStore, settings: Settings, by: str = "compactor",
                 clock: Callable[[], float] = time.time) -> None:
        self._store, self._settings, self._by, self._clock = store, settings, by, clock
        self._bucket = settings.bucket
        self._config = settings.compaction

    def run(self, min_age: float | None = None) -> list[Compacted]:
        """One pass over every dataset's partitions with objects older than ``min_age``."""
        age = self._config.min_age_seconds if min_age is None else min_age
        done = []
        for dataset in datasets(self._settings.prefixes).values():
            for partition, objects in self._eligible(dataset, age).items():
                result = self._partition(dataset, partition, objects)
                if result is not None:
                    done.append(result)
        return done

    def _eligible(self, dataset: Dataset, age: float) -> dict[str, list[str]]:
        cutoff, found = self._clock() - age, defaultdict(list)
        for key, info in self._store.list_objects(S3Uri(self._bucket, dataset.prefix)):
            partition = dataset.partition(key)
            if partition is not None and _older(info, cutoff):
                found[partition].append(key)
        return found

    def _partition(self, dataset: Dataset, partition: str,
                   keys: list[str]) -> Compacted | None:
        folder = f"{compacted_prefix(self._settings.prefixes, dataset.name)}{partition}/"
        claim = S3Uri(self._bucket, folder + CLAIM)
        if not self._claim(claim):
            return None
        try:
            existing = dict(self._store.list_objects(S3Uri(self._bucket, folder)))
            files = sorted(k for k in existing if k.endswith(".parquet"))
            # Each compacted file is fetched once: its sources now, all of it for a merge.
            blobs = {k: self._store.get_bytes(S3Uri(self._bucket, k)) for k in files}
            done = {s for b in blobs.values() for s in _sources(b)}
            fresh = [k for k in keys if self._uri(k) not in done][:MAX_OBJECTS]
            leftovers = [k for k in keys if self._uri(k) in done]
            merge = (len(files) + 1 >= MERGE_AT
                     and sum(existing[f].size for f in files) <= MERGE_BYTES)
            file = (self._write(dataset, folder, fresh, list(blobs.values()) if merge else [])
                    if fresh or merge else None)
            # Only after the new file is committed: readers take one compacted file per
            # source, so the old files' rows are never counted beside the new one's.
            for key in fresh + leftovers + (files if merge else []):
                self._store.delete(S3Uri(self._bucket, key))
        finally:
            self._store.delete(claim)
        logger.info("compacted %d %s objects of %s", len(fresh), dataset.name, partition,
                    extra={"event": "compacted", "dataset": dataset.name,
                           "partition": partition, "objects": len(fresh),
                           "leftovers": len(leftovers)})
        return Compacted(dataset.name, partition, len(fresh), len(leftovers), file)

    def _claim(self, claim: S3Uri) -> bool:
        body = json.dumps({"by": self._by, "at": self._clock()}).encode()
        if self._store.put_new(claim, body):
            return True
        try:
            held = json.loads(self._store.get_bytes(claim))
        except (MissingObject, ValueError):
            return False  # released meanwhile, or being written: next pass
        if self._clock() - float(held.get("at", 0)) < self._config.claim_seconds:
            return False
        logger.warning("taking over a stale compaction claim %s", claim,
                       extra={"event": "compaction_claim_stale", "held_by": held.get("by")})
        self._store.delete(claim)
        return self._store.put_new(claim, body)

    def _write(self, dataset: Dataset, folder: str, keys: list[str],
               merged: list[bytes]) -> str:
        """One Parquet file of the small objects ``keys`` and the compacted files
        ``merged`` (their bytes). The partition's ``dt`` lives in the folder's name."""
        tables = [t.drop_columns(["dt"])
                  for t in read_rows(self._store, self._bucket, dataset, keys)]
        tables += [pq.read_table(io.BytesIO(data)) for data in merged]
        table = pa.concat_tables(tables, promote_options="default")
        sink = io.BytesIO()
        pq.write_table(table, sink, compression="zstd")
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(self._clock()))
        key = f"{folder}{stamp}-{uuid.uuid4().hex[:8]}.parquet"
        self._store.put_bytes(S3Uri(self._bucket, key), sink.getvalue())
        return key

    def _uri(self, key: str) -> str:
        return f"s3://{self._bucket}/{key}"


def compacted_sources(store: ObjectStore, folder: S3Uri) -> set[str]:
    """Every small object a partition's compacted files already hold."""
    sources: set[str] = set()
    for table in compacted_tables(store, folder, columns=[SOURCE]):
        sources.update(table.column(SOURCE).to_pylist())
    return sources


def _sources(data: bytes) -> list[str]:
    """The small objects one compacted file (its bytes) holds."""
    return list(pq.read_table(io.BytesIO(data), columns=[SOURCE]).column(SOURCE).to_pylist())


def compacted_tables(store: ObjectStore, folder: S3Uri,
                     columns: list[str] | None = None) -> Iterator[pa.Table]:
    """A partition's compacted files, read (only ``columns``, when given)."""
    for key in store.list_keys(folder):
        if key.endswith(".parquet"):
            data = store.get_bytes(S3Uri(folder.bucket, key))
            yield pq.read_table(io.BytesIO(data), columns=columns)


def _older(info: ObjectInfo, cutoff: float) -> bool:
    return 0 < info.modified < cutoff
