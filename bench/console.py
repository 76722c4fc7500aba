"""The console's pages with 100,000 jobs recorded: server time per page, and the process's
memory (`make bench-console`).

The console runs from a venv of its own image's lock (requirements-console.txt, made
in .venv-console on first use): no pandas or scikit-learn, and MALLOC_ARENA_MAX=2, as
deployed.

The bucket as a fleet leaves it after 10 hours at 10,000 jobs an hour (one in fifty
dead): records older than 50 s compacted into Parquet, the newest as small objects; one
trained model; three dead letters. The console runs as `arq-batch console` would, and
each page is fetched over HTTP; the figure is its `Server-Timing` (time until the answer
started), the median of five fetches after one cold one.
ours (views reused): within `console.refresh_seconds` of the last rebuild (the common case
while someone clicks around). ours (views rebuilt): each fetch after the refresh interval
has passed, so the page lists the bucket again and fetches what is new (the worst case).
cold: the first fetch of the page after the console started (the first one waits for the
copy the console makes at start-up). limit: the same page over an empty bucket (the
cost of the page itself). baseline: what an operator has without the console,
`arq-batch status --json`, a process per question (whole seconds; the figure is the
command's wall time).
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import boto3
import psutil

from arq_batch.aws.emulator import Emulator
from arq_batch.aws.provision import provision
from arq_batch.aws.s3 import S3Store
from arq_batch.cli.demo_console import start_console
from arq_batch.kernel.settings import load_settings
from arq_batch.training.pipeline import TrainRequest, train
from query import FRESH_SECONDS, put_compacted, put_small, records, timed
from report import section_main

JOBS = 100_000
REPEATS = 5
ROOT = Path(__file__).resolve().parents[1]
PAGES = {"overview": "/", "jobs": "/jobs", "jobs, dead only": "/jobs?outcome=dead",
         "jobs, input filter": "/jobs?q=f9999", "jobs, page 50": "/jobs?page=50",
         "one job": "/jobs/job-050000", "running jobs": "/jobs?outcome=running",
         "models": "/models", "monitoring": "/monitoring", "DLQ": "/dlq",
         "query (count by outcome)": "/query?sql=SELECT+outcome,count(*)+FROM+jobs+GROUP+BY+1"}


def fill(emulator: Emulator, settings, jobs: int) -> None:
    """The bucket after ``jobs`` jobs, one in fifty dead."""
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    now = datetime.now(UTC)
    found = [dataclasses.replace(r, outcome="dead", rows=0, error_class="data_error",
                                 error_message="bad cell") if i % 50 == 7 else r
             for i, r in enumerate(records(jobs, now))]
    fresh = [r for r in found if (now - r.finished_at).total_seconds() < FRESH_SECONDS]
    put_small(s3, settings.bucket, settings.prefixes, fresh)
    put_compacted(s3, settings.bucket, settings.prefixes, found[len(fresh):])
    dlq = sqs.get_queue_url(QueueName=settings.dlq_name)["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=dlq, MessageBody=f'{{"input": "s3://x/f{i}.csv"}}')


class Console:
    """``arq-batch console`` from the lean venv with a given config."""

    def __init__(self, config: Path, pause: float) -> None:
        self.pause = pause
        # MALLOC_ARENA_MAX as the image sets it (Dockerfile)
        self.process, self.url = start_console(None, str(lean_python()), env={
            "ARQ_BATCH_CONFIG": str(config), "MALLOC_ARENA_MAX": "2"})

    def server_ms(self, path: str) -> float:
        try:
            with urllib.request.urlopen(f"{self.url}{path}",
                                        timeout=120) as answer:
                answer.read()
                timing = answer.headers["server-timing"]
        except urllib.error.HTTPError as refused:  # a 404 (no such job yet) costs time too
            timing = refused.headers["server-timing"]
        return float(timing.split("dur=")[1])

    def page(self, path: str) -> tuple[float, float]:
        """Cold, then the median of REPEATS (each after ``pause`` seconds)."""
        cold = self.server_ms(path)
        times = []
        for _ in range(REPEATS):
            time.sleep(self.pause)
            times.append(self.server_ms(path))
        return cold, statistics.median(times)

    def peak_rss_mb(self) -> tuple[float, float]:
        proc = psutil.Process(self.process.pid)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        peak = next(int(line.split()[1]) for line in status.splitlines()
                    if line.startswith("VmHWM"))
        return proc.memory_info().rss / 2**20, peak / 1024

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def lean_python() -> Path:
    """The console's image's packages and nothing else, in a venv made on first use."""
    venv = ROOT / ".venv-console"
    if not (venv / ".installed").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "-r", str(ROOT / "requirements-console.txt")], check=True)
        subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True)
        (venv / ".installed").touch()
    return venv / "bin" / "python"


def config(folder: Path, refresh: float) -> Path:
    path = folder / f"console-{refresh}.yaml"
    path.write_text(f"console: {{refresh_seconds: {refresh}}}\ncompaction: {{enabled: false}}\n")
    return path


def pages(folder: Path, refresh: float, pause: float = 0.0
          ) -> tuple[dict[str, tuple[float, float]], tuple]:
    console = Console(config(folder, refresh), pause)
    try:
        found = {name: console.page(path) for name, path in PAGES.items()}
        return found, console.peak_rss_mb()
    finally:
        console.stop()


def measure(_rows: int) -> str:
    folder = Path(tempfile.mkdtemp())
    with Emulator() as emulator:
        os.environ.update(emulator.env)
        settings = load_settings({})
        provision(settings)
        empty, floor = pages(folder, 2.0)
        train(TrainRequest(str(ROOT / "data" / "penguins.csv"), "species"),
              S3Store(settings.encryption), settings)
        fill(emulator, settings, JOBS)
        reused, memory = pages(folder, 2.0)
        rebuilt, memory_rebuilt = pages(folder, 1.0, pause=1.1)
        env = {**os.environ, "ARQ_BATCH_CONFIG": str(config(folder, 2.0))}
        status = timed(env, ["status", "--json"])
    lines = [f"## The console at {JOBS:,} jobs recorded (`make bench-console`)", "",
             __doc__.split("\n\n", 1)[1].strip(), "",
             "| page | ours ms (views reused) | ours ms (views rebuilt) | cold ms | "
             "limit ms (empty bucket) |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {name} | {reused[name][1]:.0f} | {rebuilt[name][1]:.0f} | "
              f"{reused[name][0]:.0f} | {empty[name][1]:.0f} |" for name in PAGES]
    lines += ["", f"baseline: `arq-batch status --json` over the same bucket took "
              f"{status:.2f} s (median of three processes).", "",
              f"Memory of the console process after every page: {memory[0]:.0f} MB resident, "
              f"{memory[1]:.0f} MB at its peak (views reused); {memory_rebuilt[0]:.0f} MB / "
              f"{memory_rebuilt[1]:.0f} MB (views rebuilt). Over the empty bucket, after the "
              f"same pages: {floor[0]:.0f} MB (the libraries: boto3 and botocore's service "
              "models, DuckDB with httpfs, pyarrow and numpy, the web stack).", "",
              "Command: `make bench-console`."]
    return "\n".join(lines)


def main() -> int:
    return section_main("console", measure, __doc__)


if __name__ == "__main__":
    sys.exit(main())
