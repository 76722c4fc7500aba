"""``make bench-memory``: the worker's peak RSS over the floor, its start-up and one-job time.

The floor is a process that imports what any worker must (boto3, PyYAML, numpy, pyarrow's
csv, json, parquet and compute) and makes an S3 and an SQS client. Each figure is the
median of ``--repeats`` runs against one local moto server. ``--big`` adds the ~1 GB CSV.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from arq_batch.aws.emulator import Emulator
from harness import Bench
from measure import Run, csv_bytes, run_processes, synthetic_table
from report import replace_section

ROOT = Path(__file__).resolve().parents[1]
FLOOR = """
import time, boto3, yaml, numpy, pyarrow, pyarrow.csv, pyarrow.json, pyarrow.parquet
import pyarrow.compute
boto3.client("s3"); boto3.client("sqs")
time.sleep(0.5)  # let the sampler see it
"""


def median(measure: Callable[[int], Run], repeats: int) -> Run:
    runs = sorted((measure(i) for i in range(repeats)), key=lambda r: r.seconds)
    return runs[len(runs) // 2]


def one_file(bench: Bench, name: str, table: pa.Table, repeats: int,
             gzip: bool = False) -> tuple[str, Run]:
    """A label with the file's size, and the median run of a job on it."""
    ext = "csv.gz" if gzip else "csv"
    body = csv_bytes(table, gzip)
    bench.put(f"staging/{name}.{ext}", body)
    kind = "CSV (gzip)" if gzip else "CSV"
    label = f"{table.num_rows / 1e6:g}M-row {kind}, {len(body) / 1e6:,.0f} MB"
    del body

    def measure(i: int) -> Run:
        run = bench.ours([(f"staging/{name}.{ext}", f"out/mem/{i}/{name}.{ext}")])
        bench.s3.delete_object(Bucket=bench.bucket, Key=f"out/mem/{i}/{name}.{ext}")
        return run

    return label, median(measure, repeats)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--big", action="store_true", help="add the ~1 GB CSV (gzip) job")
    parser.add_argument("--label", default="", help="a name for this run in the printout")
    parser.add_argument("--write", action="store_true", help="update docs/performance.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, Emulator() as aws:
        os.environ.update(aws.env)
        bench = Bench(Path(tmp), aws.pid or 0)
        floor = median(lambda _: run_processes([[sys.executable, "-c", FLOOR]], bench.env),
                       args.repeats)
        idle = median(lambda _: bench.ours([]), args.repeats)
        bench.put("staging/one.csv", csv_bytes(synthetic_table(100, seed=5)))
        one = median(lambda i: bench.ours([("staging/one.csv", f"out/one/{i}.csv")]),
                     args.repeats)
        rows = [("floor (imports + clients)", floor),
                ("start-up: worker --once, empty queue", idle),
                ("worker --once, one 100-row job", one),
                one_file(bench, "million", synthetic_table(1_000_000, seed=2), args.repeats)]
        if args.big:
            rows.append(one_file(bench, "big", synthetic_table(9_000_000, seed=4), 1,
                                 gzip=True))
    report = render(rows, floor.peak_rss_mb or 0.0)
    print(args.label, report, sep="\n")
    if args.write:
        replace_section(ROOT / "docs" / "performance.md", "memory", report)
    return 0


def render(rows: list[tuple[str, Run]], floor: float) -> str:
    lines = ["| run | wall s | peak RSS MB | above the floor MB |", "|---|---:|---:|---:|"]
    for name, run in rows:
        rss = run.peak_rss_mb or 0.0
        lines.append(f"| {name} | {run.seconds:.2f} | {rss:.0f} | {rss - floor:+.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
