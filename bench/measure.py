"""Measurement helpers: process wall time and peak RSS, the pipeline floor, synthetic data."""

from __future__ import annotations

import io
import resource
import subprocess
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from arq_batch.engine.scoring import LinearScorer, score

FEATURES = [f"f{i}" for i in range(10)]


@dataclass(frozen=True)
class Run:
    """One measured variant of one scenario."""

    seconds: float
    peak_rss_mb: float | None = None
    cpu_s: float | None = None  # CPU the variant itself spent (user + system, all threads)
    server_cpu_s: float | None = None  # CPU the moto server spent meanwhile


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_processes(commands: Sequence[Sequence[str]], env: dict[str, str],
                  parallel: bool = False) -> Run:
    """Run commands (one after another, or all at once) sampling the peak RSS of each."""
    started, peak, cpu = time.monotonic(), 0, _cpu(resource.RUSAGE_CHILDREN)
    batches = [commands] if parallel else [[c] for c in commands]
    for batch in batches:
        procs = [subprocess.Popen(c, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for c in batch]
        handles = [psutil.Process(p.pid) for p in procs]
        while any(p.poll() is None for p in procs):
            peak = max(peak, max(_rss(h) for h in handles))
            time.sleep(0.02)
        failed = [p.returncode for p in procs if p.returncode]
        if failed:
            raise RuntimeError(f"{batch[0]} exited with {failed}")
    return Run(time.monotonic() - started, peak / 1e6, _cpu(resource.RUSAGE_CHILDREN) - cpu)


def _rss(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except psutil.Error:
        return 0


def limit_run(s3: Any, bucket: str, key: str, out_key: str, scorer: LinearScorer,
              gzip_level: int) -> Run:
    """The floor: GET whole, parse in memory (all cores), score, write, PUT; no worker."""
    started, cpu = time.monotonic(), _cpu(resource.RUSAGE_SELF)
    source: Any = pa.BufferReader(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    if key.endswith(".parquet"):
        table = pq.read_table(source)
    else:
        table = pacsv.read_csv(pa.CompressedInputStream(source, "gzip")
                               if key.endswith(".gz") else source)
    scored = pa.Table.from_batches([score(b, scorer) for b in table.to_batches()])
    out = pa.BufferOutputStream()
    if key.endswith(".parquet"):
        pq.write_table(scored, out)
    else:
        pacsv.write_csv(scored, out)
    body = out.getvalue().to_pybytes()
    if key.endswith(".gz"):  # at the worker's level: the same bytes
        body = zlib.compress(body, gzip_level, wbits=31)
    s3.put_object(Bucket=bucket, Key=out_key, Body=body)
    return Run(time.monotonic() - started, cpu_s=_cpu(resource.RUSAGE_SELF) - cpu)


def synthetic_table(rows: int, seed: int) -> pa.Table:
    """An id column and ten numeric features, six decimals, like a typical export."""
    rng = np.random.default_rng(seed)
    values = np.round(rng.normal(size=(rows, len(FEATURES))), 6)
    columns = {"id": pa.array([f"id{i:08d}" for i in range(rows)])}
    columns.update({name: values[:, i] for i, name in enumerate(FEATURES)})
    return pa.table(columns)


def training_csv(rows: int = 5000, seed: int = 1) -> bytes:
    """Training data for the benchmark's regressor: y is linear in the features plus noise."""
    table = synthetic_table(rows, seed).drop_columns(["id"])
    weights = np.arange(1, len(FEATURES) + 1, dtype=float)
    x = np.column_stack([table[name].to_numpy() for name in FEATURES])
    noise = np.random.default_rng(seed).normal(scale=0.1, size=rows)
    table = table.append_column("y", pa.array(x @ weights + noise))
    return csv_bytes(table)


def csv_bytes(table: pa.Table, gzip: bool = False) -> bytes:
    out = pa.BufferOutputStream()
    pacsv.write_csv(table, out, pacsv.WriteOptions(quoting_style="none"))
    body = out.getvalue().to_pybytes()
    # Level 1 because this is set-up, not measurement: level 9 took ~100 s for 1 GB.
    return zlib.compress(body, 1, wbits=31) if gzip else bytes(body)


def parquet_bytes(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def scores(body: bytes, parquet: bool = False) -> np.ndarray:
    """The score column of an output file."""
    table = pq.read_table(pa.BufferReader(body)) if parquet else pacsv.read_csv(
        io.BytesIO(body))
    return np.asarray(table["score"].to_numpy(), dtype=np.float64)
