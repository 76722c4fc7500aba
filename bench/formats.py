"""``make bench-formats`` (and part of ``make bench``): every format, ours vs. its limit.

The same rows in each format on local disk. **ours**: ``arq-batch score --input F --output
G`` as a subprocess (streaming, start-up included). **limit**: a subprocess that reads the
whole file with pyarrow alone, scores it with the same numpy core and writes the same
format (same compression level) in memory; for JSON Lines, which pyarrow cannot write,
the output lines are built with the same Arrow string kernels ours uses. One run.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import zstandard

from arq_batch.aws.emulator import Emulator
from arq_batch.formats import detect
from harness import ROOT, Bench
from measure import Run, run_processes, synthetic_table  # bench/ is a folder of scripts
from report import section_main

FORMATS = ("csv", "csv.gz", "csv.zst", "parquet", "jsonl", "jsonl.gz", "jsonl.zst")


def encode(table: pa.Table, name: str) -> bytes:
    """``table`` in the format its name says (set-up, not measured)."""
    fmt = detect(name)
    out = io.BytesIO()
    if fmt.kind == "parquet":
        pq.write_table(table, out)
        return out.getvalue()
    if fmt.kind == "jsonl":
        body = "".join(json.dumps(r) + "\n" for r in table.to_pylist()).encode()
    else:
        pacsv.write_csv(table, out, pacsv.WriteOptions(quoting_style="none"))
        body = out.getvalue()
    if fmt.compression == "gzip":
        return gzip.compress(body, 1)
    return zstandard.compress(body) if fmt.compression == "zstd" else body


def main() -> int:
    return section_main("formats", measure_all, __doc__)


def measure_all(rows: int) -> str:
    table = synthetic_table(rows, seed=2)
    results = []
    with tempfile.TemporaryDirectory() as tmp, Emulator() as aws:
        os.environ.update(aws.env)
        bench = Bench(Path(tmp), aws.pid or 0)
        model = bench.model_uri
        scorer = Path(tmp) / "scorer.json"
        scorer.write_bytes(bench.output(model[len(f"s3://{bench.bucket}/"):] + "scorer.json"))
        for name in FORMATS:
            path = Path(tmp) / f"in.{name}"
            path.write_bytes(encode(table, path.name))
            ours = [sys.executable, "-m", "arq_batch", "score", "--input", str(path),
                    "--output", str(Path(tmp) / f"out.{name}"), "--model", model]
            floor = [sys.executable, str(ROOT / "bench" / "limit_format.py"), str(path),
                     str(scorer)]
            results.append((name, path.stat().st_size, median(ours, bench.env),
                            median(floor, bench.env)))
    return render(rows, results)


def median(command: list[str], env: dict[str, str], repeats: int = 5) -> Run:
    """The median run by wall time: one run on this 2-core VM varies by tenths of a second."""
    return sorted((run_processes([command], env) for _ in range(repeats)),
                  key=lambda r: r.seconds)[repeats // 2]


def render(rows: int, results: list) -> str:
    lines = [
        "## Every format: ours vs. its limit (`make bench-formats`)",
        "",
        f"{rows:,} rows x 11 columns, local files, one run of the command (each figure the "
        "median of five). **ours**: `arq-batch score` "
        "(streaming, start-up included); **limit**: pyarrow alone reads the whole file, the "
        "same numpy core scores it, the same format is written in memory (start-up "
        "included too). Bench: " + time.strftime("%Y-%m-%d") + ".",
        "",
        "| format | input MB | ours s | ours rows/s | ours peak RSS MB | limit s | "
        "limit peak RSS MB | ours / limit |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, size, ours, floor in results:
        lines.append(f"| {name} | {size / 1e6:.0f} | {ours.seconds:.2f} | "
                     f"{rows / ours.seconds:,.0f} | {ours.peak_rss_mb:.0f} | "
                     f"{floor.seconds:.2f} | {floor.peak_rss_mb:.0f} | "
                     f"{ours.seconds / floor.seconds:.2f}x |")
    csv_time = next(o.seconds for n, _, o, _ in results if n == "csv")
    jsonl_time = next(o.seconds for n, _, o, _ in results if n == "jsonl")
    lines += ["", f"JSON Lines vs CSV (ours): **{jsonl_time / csv_time:.2f}x** the time "
                  "(target: at most 1.5x)."]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
