"""The datasets that grow with every job, and how their small objects become rows.

Each done job writes one ledger record (``data/jobs/``), one predictions file
(``data/predictions/``) and, when monitored, one ``constraint_violations.json``
(``data/monitoring/``). Compaction gathers a partition's small objects into one Parquet
file under ``data/compacted/<dataset>/<partition>/``, each row carrying ``source`` (the
``s3://`` URI of the small object it came from), so readers take the compacted rows plus
the small objects not yet in them, and nothing is counted twice.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from arq_batch.engine import ledger
from arq_batch.kernel.ports import ObjectStore
from arq_batch.kernel.settings import Prefixes
from arq_batch.kernel.uris import S3Uri

SOURCE = "source"  # the column naming each compacted row's small object

# The ledger's columns as Arrow types (timestamps stay ISO text, as in the JSON records).
_ARROW = {"string": pa.string(), "int": pa.int32(), "bigint": pa.int64(),
          "double": pa.float64()}
LEDGER_SCHEMA = pa.schema([(n, _ARROW[t]) for n, t in ledger.COLUMNS] + [(SOURCE, pa.string())])
VIOLATION_SCHEMA = pa.schema([(n, pa.string()) for n in (
    "job_id", "input", "run_id", "feature_name", "constraint_check_type", "description",
    SOURCE)])


@dataclass(frozen=True)
class Dataset:
    """One growing dataset: where its small objects lie and how to read one as rows."""

    name: str
    prefix: str  # of the small objects
    suffix: str  # the small objects' key ending
    depth: int  # partition folders (``key=value``) between the prefix and the object
    rows: Callable[[bytes, str], pa.Table]  # an object's bytes and URI -> rows with SOURCE

    def partition(self, key: str) -> str | None:
        """``dt=2026-12-07`` (or ``run_id=r/dt=...``) of a small object's key; None for a
        key that is not one of this dataset's small objects."""
        if not key.startswith(self.prefix) or not key.endswith(self.suffix):
            return None
        parts = key[len(self.prefix):].split("/")
        folders = parts[:self.depth]
        if len(parts) <= self.depth or not all("=" in f for f in folders):
            return None
        return "/".join(folders)


def _ledger_rows(data: bytes, source: str) -> pa.Table:
    record = json.loads(data)
    row = {name: record.get(name) for name, _ in ledger.COLUMNS} | {SOURCE: source}
    return pa.Table.from_pylist([row], schema=LEDGER_SCHEMA)


def _violation_rows(data: bytes, source: str) -> pa.Table:
    found = json.loads(data)
    about = {k: str(found.get(k) or "") for k in ("job_id", "input", "run_id")}
    rows = [about | {k: str(v.get(k, "")) for k in ("feature_name", "constraint_check_type",
                                                      "description")} | {SOURCE: source}
            for v in found.get("violations", [])]
    return pa.Table.from_pylist(rows, schema=VIOLATION_SCHEMA)


def _prediction_rows(data: bytes, source: str) -> pa.Table:
    table = pq.read_table(io.BytesIO(data))
    return table.append_column(SOURCE, pa.array([source] * table.num_rows, pa.string()))


def datasets(prefixes: Prefixes) -> dict[str, Dataset]:
    """Every dataset compaction keeps small, by name."""
    return {d.name: d for d in (
        Dataset("jobs", prefixes.jobs, ".json", 1, _ledger_rows),
        Dataset("violations", prefixes.monitoring, "/constraint_violations.json", 1,
                _violation_rows),
        Dataset("predictions", prefixes.predictions, ".parquet", 2, _prediction_rows),
    )}


def compacted_prefix(prefixes: Prefixes, dataset: str) -> str:
    """``data/compacted/<dataset>/``: its compacted files, by the same partitions."""
    return f"{prefixes.compacted}{dataset}/"


PARALLEL_GETS = 32  # small objects are latency-bound: many GETs at once, not one by one


def read_rows(store: ObjectStore, bucket: str, dataset: Dataset,
              keys: list[str]) -> list[pa.Table]:
    """The rows of each small object ``keys`` names, fetched in parallel, each with its
    ``source`` and (as text) the ``dt`` of its partition."""
    def rows(key: str) -> pa.Table:
        table = dataset.rows(store.get_bytes(S3Uri(bucket, key)), f"s3://{bucket}/{key}")
        day = (dataset.partition(key) or "").split("dt=", 1)[-1]
        return table.append_column("dt", pa.array([day] * table.num_rows, pa.string()))

    with ThreadPoolExecutor(PARALLEL_GETS) as pool:
        return list(pool.map(rows, keys))
