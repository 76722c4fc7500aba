"""``make bench-split``: one ~2 GB CSV scored whole by one worker, then split across 2 and 4.

The same input (``--rows`` rows x 11 columns) and job three times against the moto
server: split off (``split_bytes: 0``, what one worker does today), then planned into 8
parts scored by 2 and by 4 ``arq-batch worker`` processes, already polling. Wall time
runs from sending the job until its output exists (it appears only when complete); CPU
seconds are the workers' and the moto server's over that time. Each output is read back
and hashed: all three must be the same bytes. **limit** is what two cores allow at best:
the whole run's worker and server CPU seconds spread perfectly over both cores.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml
from boto3.s3.transfer import TransferConfig

from arq_batch.aws.emulator import Emulator
from harness import Bench
from measure import Run, csv_bytes, synthetic_table
from report import section_main

PARTS = 8
BLOCK_ROWS = 1_000_000


def write_input(path: Path, rows: int) -> int:
    """``rows`` rows of the benchmark's table (blocks of 1M repeated); returns the bytes."""
    block = csv_bytes(synthetic_table(min(rows, BLOCK_ROWS), seed=3))
    header, body = block.split(b"\n", 1)
    with path.open("wb") as out:
        out.write(header + b"\n")
        for start in range(0, rows, BLOCK_ROWS):
            count = min(BLOCK_ROWS, rows - start)
            out.write(body if count == BLOCK_ROWS else
                      b"".join(body.splitlines(keepends=True)[:count]))
    return path.stat().st_size


def measure(rows: int) -> str:
    with tempfile.TemporaryDirectory() as tmp, Emulator() as aws:
        os.environ.update(aws.env)
        bench = Bench(Path(tmp), aws.pid or 0)
        _long_polling(bench, Path(tmp))
        source = Path(tmp) / "big.csv"
        size = write_input(source, rows)
        bench.s3.upload_file(str(source), bench.bucket, "data/bench/big.csv",
                             Config=TransferConfig(multipart_chunksize=64 << 20))
        source.unlink()
        server = psutil.Process(aws.pid or 0)
        results, digests = [], set()
        for label, workers, split in (("whole file, 1 worker", 1, 0),
                                      (f"split in {PARTS}, 2 workers", 2, -(-size // PARTS)),
                                      (f"split in {PARTS}, 4 workers", 4, -(-size // PARTS))):
            run = _job(bench, server, workers, split)
            digests.add(_digest(bench, "data/bench/out.csv"))
            bench.s3.delete_object(Bucket=bench.bucket, Key="data/bench/out.csv")
            results.append((label, workers, run))
    if len(digests) != 1:
        raise SystemExit("the split outputs differ from the whole file's")
    return render(rows, size, results)


def _job(bench: Bench, server: psutil.Process, workers: int, split: int) -> Run:
    """Workers start first (a ``--once`` worker whose first poll finds nothing exits);
    they are stopped once the output exists."""
    bench.drain()
    command = [sys.executable, "-m", "arq_batch", "worker", "--concurrency", "1"]
    procs = [subprocess.Popen(command, env=bench.env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for _ in range(workers)]
    handles = [psutil.Process(p.pid) for p in procs]
    time.sleep(3)  # started and polling
    before, cpu = sum(server.cpu_times()[:2]), sum(sum(h.cpu_times()[:2]) for h in handles)
    started, peak = time.monotonic(), 0
    bench.sqs.send_message(QueueUrl=bench.queue, MessageBody=json.dumps({
        "input": f"s3://{bench.bucket}/data/bench/big.csv",
        "output": f"s3://{bench.bucket}/data/bench/out.csv", "split_bytes": split}))
    while not _exists(bench, "data/bench/out.csv"):
        peak = max(peak, *(h.memory_info().rss for h in handles))
        time.sleep(0.05)
    seconds = time.monotonic() - started
    spent = sum(sum(h.cpu_times()[:2]) for h in handles) - cpu
    server_spent = sum(server.cpu_times()[:2]) - before
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(60)
    return Run(seconds, peak / 1e6, spent, server_spent)


def _long_polling(bench: Bench, folder: Path) -> None:
    """Workers long-poll as in production: the shared bench config polls without waiting,
    which has idle workers (most of them, most of the time, in a split run) spin on
    ReceiveMessage and burn CPU that the busy ones and the emulator need."""
    config = folder / "split-config.yaml"
    config.write_text(yaml.safe_dump({"queue_settings": {"wait_time_seconds": 10},
                                      "worker": {"heartbeat_file": str(folder / "hb")},
                                      "log": {"format": "json", "level": "WARNING"}}))
    bench.env["ARQ_BATCH_CONFIG"] = str(config)


def _exists(bench: Bench, key: str) -> bool:
    return "Contents" in bench.s3.list_objects_v2(Bucket=bench.bucket, Prefix=key)


def _digest(bench: Bench, key: str) -> str:
    digest = hashlib.sha256()
    body = bench.s3.get_object(Bucket=bench.bucket, Key=key)["Body"]
    for chunk in iter(lambda: body.read(8 << 20), b""):
        digest.update(chunk)
    return digest.hexdigest()


def render(rows: int, size: int, results: list[tuple[str, int, Run]]) -> str:
    whole = results[0][2]
    limit = ((whole.cpu_s or 0) + (whole.server_cpu_s or 0)) / (os.cpu_count() or 1)
    lines = [
        "## One huge file across the fleet (`make bench-split`)",
        "",
        f"{rows:,} rows x 11 columns ({size / 1e9:.2f} GB of CSV) in one object, one job, "
        f"`arq-batch worker --concurrency 1` processes on this {os.cpu_count()}-core "
        "machine with the moto server beside them. Wall time from sending the job until "
        "its output exists. All three outputs are the same bytes (SHA-256 checked). "
        "Bench: " + time.strftime("%Y-%m-%d") + ".",
        "",
        "| variant | wall s | MB/s of input | speedup | workers' CPU s | moto CPU s "
        "| peak RSS MB (one worker) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, _, run in results:
        lines.append(f"| {label} | {run.seconds:.1f} | {size / 1e6 / run.seconds:.0f} | "
                     f"{whole.seconds / run.seconds:.2f}x | {run.cpu_s or 0:.1f} | "
                     f"{run.server_cpu_s or 0:.1f} | {run.peak_rss_mb or 0:.0f} |")
    lines.append(f"| limit: the whole run's CPU over {os.cpu_count()} cores | {limit:.1f} | "
                 f"{size / 1e6 / limit:.0f} | {whole.seconds / limit:.2f}x | | | |")
    return "\n".join(lines)


def main() -> int:
    return section_main("split", measure, __doc__)


if __name__ == "__main__":
    sys.exit(main())
