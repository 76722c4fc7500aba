"""``make bench-stores``: the 1M-row CSV job on the emulator and on a second S3 implementation.

The same ``arq-batch score --input s3://... --output s3://...`` (GET, parse, score,
multipart PUT; start-up included), median of three, once against the moto server (S3
and SQS) and once with S3 on ``rclone serve s3`` over a local folder (SQS still moto).
**local files** is the same job without any store: what the stores add is the
difference. The server's own CPU seconds during the job show whose time it is.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from arq_batch.aws.emulator import Emulator, free_port
from formats import median  # bench/ is a folder of scripts
from harness import Bench
from measure import csv_bytes, synthetic_table
from report import section_main


def measure(rows: int) -> str:
    body = csv_bytes(synthetic_table(rows, seed=2))
    results = []
    with tempfile.TemporaryDirectory() as tmp, Emulator() as aws:
        os.environ.update(aws.env)
        local = Path(tmp) / "in.csv"
        local.write_bytes(body)
        moto = Bench(Path(tmp), aws.pid or 0)
        results.append(("moto server (S3 and SQS)", *_time(moto, body, aws.pid or 0)))
        results.append(("local files (no store)", *_time(moto, body, None, local)))
        rclone, port = _rclone(Path(tmp) / "store", aws.env)
        try:
            os.environ["AWS_ENDPOINT_URL_S3"] = f"http://127.0.0.1:{port}"
            (Path(tmp) / "rc").mkdir()
            second = Bench(Path(tmp) / "rc", aws.pid or 0)
            results.append(("rclone serve s3 (S3), moto (SQS)", *_time(second, body, rclone.pid)))
        finally:
            os.environ.pop("AWS_ENDPOINT_URL_S3", None)
            rclone.terminate()
            rclone.wait(10)
    return render(rows, len(body), results)


def _rclone(folder: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    folder.mkdir(parents=True)
    port = free_port()
    key = f"{env['AWS_ACCESS_KEY_ID']},{env['AWS_SECRET_ACCESS_KEY']}"
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "rclone"), "serve", "s3", str(folder), "--addr",
         f"127.0.0.1:{port}", "--auth-key", key, "--config", "/dev/null"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # it listens within a few hundred ms
    return server, port


def _time(bench: Bench, body: bytes, server_pid: int | None,
          local: Path | None = None) -> tuple[float, float]:
    """Median seconds of the job, and the store server's CPU seconds in that run."""
    model = bench.model_uri
    if local is None:
        bench.put("data/bench/in.csv", body)
        source, target = f"s3://{bench.bucket}/data/bench/in.csv", \
            f"s3://{bench.bucket}/data/bench/out.csv"
    else:
        source, target = str(local), str(local.with_name("out.csv"))
    command = [sys.executable, "-m", "arq_batch", "score", "--input", source, "--output",
               target, "--model", model]
    server = psutil.Process(server_pid) if server_pid else None
    before = sum(server.cpu_times()[:2]) if server else 0.0
    run = median(command, bench.env, 3)
    cpu = (sum(server.cpu_times()[:2]) - before) / 3 if server else 0.0
    return run.seconds, cpu


def render(rows: int, size: int, results: list[tuple[str, float, float]]) -> str:
    local = next(s for name, s, _ in results if name.startswith("local"))
    lines = [
        "## The same job on two S3 implementations (`make bench-stores`)",
        "",
        f"{rows:,} rows x 11 columns ({size / 1e6:.0f} MB of CSV), `arq-batch score` from "
        "`s3://` to `s3://` (start-up included), median of three runs on this 2-core "
        "machine, client and server sharing it. Bench: " + time.strftime("%Y-%m-%d") + ".",
        "",
        "| store | seconds | rows/s | store server CPU s per job | vs local files |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, seconds, cpu in results:
        lines.append(f"| {name} | {seconds:.2f} | {rows / seconds:,.0f} | "
                     f"{cpu:.2f} | {seconds / local:.2f}x |")
    return "\n".join(lines)


def main() -> int:
    return section_main("stores", measure, __doc__)


if __name__ == "__main__":
    sys.exit(main())
