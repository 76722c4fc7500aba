"""``make bench-options``: Batch Transform's job options on the 1M-row CSV job.

**ours**: ``arq-batch score`` with the options as flags (the worker's engine; start-up
included), each figure the median of three runs. **naive**: what a user without output
filters does, the default job and then pandas keeping ``id`` and ``score``. The default
job is the limit a filtered job should not exceed: it writes every column.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from arq_batch.aws.emulator import Emulator
from arq_batch.formats.record_schema import Record
from arq_batch.formats.recordio import frame
from formats import encode, median  # bench/ is a folder of scripts
from harness import Bench
from measure import FEATURES, synthetic_table
from report import section_main

VARIANTS = (
    ("default: every column + predictions", "in.csv", []),
    ("`--join-source None`: predictions only", "in.csv", ["--join-source", "None"]),
    ("`--output-filter '$[0,-1]'`: id + score", "in.csv", ["--output-filter", "$[0,-1]"]),
    ("`--accept application/x-parquet`", "in.csv", ["--accept", "application/x-parquet"]),
    ("`--accept application/jsonlines`", "in.csv", ["--accept", "application/jsonlines"]),
    ("RecordIO-protobuf in and out", "in.recordio", []),
)
NAIVE = ("import pandas as pd, sys; pd.read_csv(sys.argv[1])[['id', 'score']]"
         ".to_csv(sys.argv[2], index=False)")


def recordio_bytes(table) -> bytes:
    """The features as SageMaker's dense float32 records (set-up, not measured)."""
    x = np.column_stack([table[name].to_numpy() for name in FEATURES]).astype(np.float32)
    out = []
    for row in x:
        record = Record()
        record.features["values"].float32_tensor.values.extend(row.tolist())
        out.append(frame(record.SerializeToString()))
    return b"".join(out)


def measure(rows: int) -> str:
    table = synthetic_table(rows, seed=2)
    results = []
    with tempfile.TemporaryDirectory() as tmp, Emulator() as aws:
        os.environ.update(aws.env)
        bench = Bench(Path(tmp), aws.pid or 0)
        model = bench.model_uri
        (Path(tmp) / "in.csv").write_bytes(encode(table, "in.csv"))
        (Path(tmp) / "in.recordio").write_bytes(recordio_bytes(table))
        for i, (label, name, flags) in enumerate(VARIANTS):
            out = Path(tmp) / f"out-{i}"
            command = [sys.executable, "-m", "arq_batch", "score", "--input",
                       str(Path(tmp) / name), "--output", str(out), "--model", model, *flags]
            results.append((label, median(command, bench.env, 3), out.stat().st_size))
        naive_out = Path(tmp) / "naive.csv"
        naive = median([sys.executable, "-c", NAIVE, str(Path(tmp) / "out-0"),
                        str(naive_out)], bench.env, 3)
        return render(rows, results, naive, naive_out.stat().st_size)


def render(rows: int, results: list, naive, naive_size: int) -> str:
    base = results[0][1].seconds
    lines = [
        "## Job options on the 1M-row CSV job (`make bench-options`)",
        "",
        f"{rows:,} rows x 11 columns (an `id` and ten numbers), local files, `arq-batch "
        "score` with the job's options as flags, the median of three runs, start-up "
        "included. Bench: " + time.strftime("%Y-%m-%d") + ".",
        "",
        "| job | seconds | rows/s | peak RSS MB | output MB | time vs default |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, run, size in results:
        lines.append(f"| {label} | {run.seconds:.2f} | {rows / run.seconds:,.0f} | "
                     f"{run.peak_rss_mb:.0f} | {size / 1e6:.1f} | {run.seconds / base:.2f}x |")
    lines.append(f"| naive: the default job, then pandas keeps id + score | "
                 f"{base + naive.seconds:.2f} | {rows / (base + naive.seconds):,.0f} | "
                 f"{naive.peak_rss_mb:.0f} | {naive_size / 1e6:.1f} | "
                 f"{(base + naive.seconds) / base:.2f}x |")
    return "\n".join(lines)


def main() -> int:
    return section_main("options", measure, __doc__)


if __name__ == "__main__":
    sys.exit(main())
