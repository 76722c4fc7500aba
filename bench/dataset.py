"""``make bench-dataset``: what the predictions dataset costs a job, and what a query costs.

One run against one local moto server: the 1M-row CSV job of ``make bench`` with the
predictions dataset off and on (median of three each, fresh output keys), the bytes each
writes, then ``arq-batch query`` over what those jobs left in the bucket.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from arq_batch.aws.emulator import Emulator
from harness import ROOT, Bench
from measure import csv_bytes, synthetic_table  # bench/ is a folder of scripts
from report import replace_section

QUERIES = (
    "SELECT count(*) AS rows, avg(score) AS mean_score FROM predictions",
    "SELECT outcome, count(*) AS n, sum(rows) AS rows FROM jobs GROUP BY outcome",
    "SELECT count(*) AS rows FROM outputs",
)


def job_seconds(bench: Bench, src: str, dst: str, predictions: bool, workdir: Path) -> float:
    """Wall time of ``worker --once`` on one job, with the dataset on or off."""
    config = workdir / f"config-{predictions}.yaml"
    config.write_text(yaml.safe_dump({"queue_settings": {"wait_time_seconds": 0},
                                      "worker": {"heartbeat_file": str(workdir / "hb")},
                                      "predictions": {"enabled": predictions},
                                      "log": {"format": "json", "level": "WARNING"}}))
    bench.env["ARQ_BATCH_CONFIG"] = str(config)
    return bench.ours([(src, dst)]).seconds


def sizes(bench: Bench, prefix: str) -> int:
    pages = bench.s3.get_paginator("list_objects_v2").paginate(Bucket=bench.bucket,
                                                                Prefix=prefix)
    return sum(o["Size"] for page in pages for o in page.get("Contents", []))


def query_seconds(sql: str, env: dict[str, str]) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "arq_batch", "query", sql], env=env, check=True,
                   capture_output=True)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--write", default=str(ROOT / "docs" / "performance.md"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Emulator() as aws:
        os.environ.update(aws.env)
        bench = Bench(Path(tmp), aws.pid or 0)
        bench.put("staging/a.csv", csv_bytes(synthetic_table(args.rows, seed=2)))
        times: dict[bool, list[float]] = {False: [], True: []}
        for i in range(3):
            for on in (False, True):
                dst = f"data/output/bench/{on}/{i}/a.csv"
                times[on].append(job_seconds(bench, "staging/a.csv", dst, on, Path(tmp)))
        median = {on: sorted(t)[1] for on, t in times.items()}
        dataset = sizes(bench, bench.settings.prefixes.predictions) / 3
        output = sizes(bench, "data/output/bench/True/0/")
        env = {**bench.env, "ARQ_BATCH_CONFIG": str(Path(tmp) / "config-True.yaml")}
        queried = [(sql, query_seconds(sql, env)) for sql in QUERIES]
    report = render(args.rows, median, dataset, output, queried)
    print(report)
    replace_section(Path(args.write), "dataset", report)
    return 0


def render(rows: int, median: dict[bool, float], dataset: float, output: int,
           queried: list[tuple[str, float]]) -> str:
    cost = median[True] / median[False] - 1
    lines = [
        "## The predictions dataset and `query` (`make bench-dataset`)",
        "",
        f"The {rows:,}-row CSV job of scenario (a), `worker --once` as a subprocess, median of "
        "three runs each way, one run of this command:",
        "",
        "| predictions dataset | job wall s | predictions file | the job's CSV output |",
        "|---|---:|---:|---:|",
        f"| off | {median[False]:.2f} | - | {output / 1e6:.1f} MB |",
        f"| on | {median[True]:.2f} | {dataset / 1e6:.1f} MB | {output / 1e6:.1f} MB |",
        "",
        f"Cost of the dataset: **{cost:+.1%}** job time, {dataset / rows:.1f} bytes per row "
        "(target: at most +10%).",
        "",
        f"`arq-batch query` over what these six jobs left (3 x {rows:,} predictions, 6 ledger "
        "records, 6 CSV outputs), wall time of the whole command, start-up included:",
        "",
        "| SQL | seconds |",
        "|---|---:|",
        *[f"| `{sql}` | {seconds:.2f} |" for sql, seconds in queried],
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
