"""The read path as history grows: `status --json` and `query "SELECT count(*) FROM jobs"`
at 1k, 10k and 100k jobs recorded (10,000 an hour, the newest within the last hour).

Medians of three runs (the baseline: one run). ours: the bucket as a fleet with
compaction leaves it: records older than 50 s in compacted Parquet (at most ten files a
day), the newest as small JSON objects.
baseline: every record a small JSON object (no compaction; 100k not run: it would take
many minutes, see the 1k -> 10k slope). limit: the same command over an empty bucket,
the cost of starting the process and DuckDB, which no answer can beat.
Records are generated straight into the bucket in the ledger's own format.
"""

from __future__ import annotations

import io
import json
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import boto3
import pyarrow as pa
import pyarrow.parquet as pq

from arq_batch.aws.emulator import Emulator
from arq_batch.aws.provision import provision
from arq_batch.engine.datasets import LEDGER_SCHEMA, SOURCE
from arq_batch.engine.ledger import LedgerRecord
from arq_batch.kernel import layout
from arq_batch.kernel.settings import load_settings
from report import section_main

SIZES = (1_000, 10_000, 100_000)
PER_HOUR = 10_000
# What compaction has not reached yet: at most min_age + interval of the defaults (50 s).
FRESH_SECONDS = 50
REPEATS = 3
COMMANDS = {"status": ["status", "--json"],
            "count": ["query", "SELECT count(*) AS n FROM jobs", "--format", "json"]}


def records(count: int, now: datetime) -> list[LedgerRecord]:
    """``count`` done jobs at 10,000 an hour, the newest just now."""
    step = timedelta(seconds=3600 / PER_HOUR)
    return [LedgerRecord(f"job-{i:06d}", f"m{i}", 1, "bench:1", "done", now - step * i - step,
                         now - step * i, input=f"s3://arq-batch-s3/data/input/f{i}.csv",
                         rows=1000, run_id="run-1", cpu_seconds=0.05, cost_usd=2e-6)
            for i in range(count)]


def put_small(s3, bucket: str, prefixes, found: list[LedgerRecord]) -> None:
    def put(record: LedgerRecord) -> None:
        uri = layout.ledger_uri(bucket, prefixes, record.dt, record.job_id, 1)
        s3.put_object(Bucket=bucket, Key=uri.key, Body=record.to_json())

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(put, found))


def put_compacted(s3, bucket: str, prefixes, found: list[LedgerRecord]) -> None:
    """As compaction leaves them: per day, at most ten Parquet files, sources named."""
    days: dict[str, list[dict]] = {}
    for r in found:
        uri = layout.ledger_uri(bucket, prefixes, r.dt, r.job_id, 1)
        days.setdefault(r.dt, []).append(json.loads(r.to_json()) | {SOURCE: f"s3://{bucket}/{uri.key}"})
    for day, rows in days.items():
        size = max(1, -(-len(rows) // 10))
        for n, start in enumerate(range(0, len(rows), size)):
            sink = io.BytesIO()
            pq.write_table(pa.Table.from_pylist(rows[start:start + size], LEDGER_SCHEMA), sink,
                           compression="zstd")
            s3.put_object(Bucket=bucket, Body=sink.getvalue(),
                          Key=f"{prefixes.compacted}jobs/dt={day}/bench-{n:02d}.parquet")


def timed(env: dict[str, str], argv: list[str], repeats: int = REPEATS) -> float:
    """Median wall seconds of the CLI command, as an operator waits for it."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "arq_batch", *argv], env=env, check=True,
                       capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(_rows: int) -> str:
    lines = ["## Read path: status and count(*) as history grows (`make bench-query`)", "",
             __doc__.split("\n\n", 1)[1].strip(), "",
             "| jobs recorded | of them small | command | ours s | baseline s | limit s |",
             "|---:|---:|---|---:|---:|---:|"]
    with Emulator() as emulator:
        import os

        env = {**os.environ, **emulator.env}
        os.environ.update(emulator.env)
        settings = load_settings({})
        for count in SIZES:
            lines += one_size(emulator, env, settings, count)
    return "\n".join(lines)


def one_size(emulator, env, settings, count: int) -> list[str]:
    s3, bucket, prefixes = boto3.client("s3"), settings.bucket, settings.prefixes
    now = datetime.now(UTC)
    found = records(count, now)
    fresh = [r for r in found if (now - r.finished_at).total_seconds() < FRESH_SECONDS]
    emulator.reset()
    provision(settings)
    limit = {name: timed(env, argv) for name, argv in COMMANDS.items()}
    put_small(s3, bucket, prefixes, fresh)
    put_compacted(s3, bucket, prefixes, found[len(fresh):])
    ours = {name: timed(env, argv) for name, argv in COMMANDS.items()}
    baseline = {}
    if count <= 10_000:
        emulator.reset()
        provision(settings)
        put_small(s3, bucket, prefixes, found)
        # One run each: at 10k small objects a single status takes minutes.
        baseline = {name: timed(env, argv, repeats=1) for name, argv in COMMANDS.items()}
    return [f"| {count:,} | {len(fresh):,} | `{name}` | {ours[name]:.2f} | "
            f"{baseline[name]:.2f} | {limit[name]:.2f} |" if baseline else
            f"| {count:,} | {len(fresh):,} | `{name}` | {ours[name]:.2f} | not run | "
            f"{limit[name]:.2f} |" for name in COMMANDS]


def main() -> int:
    return section_main("query", measure, __doc__)


if __name__ == "__main__":
    sys.exit(main())
