"""``make soak``: a worker fleet through thousands of jobs on a flaky cloud, then the checks.

Three worker processes (``--concurrency 2`` each) behind the fault proxy score 10,000
small jobs and a few large ones, one in 25 of the small ones bad. Afterwards: every
good job has one output whose bytes equal every other output of the same input (and one
of each is checked row for row against the model), every bad job and nothing else is
dead-lettered for a permanent reason, and every worker exits 0 on SIGTERM within its grace
period. Meanwhile each worker's RSS and open file descriptors are sampled every second:
the report gives jobs/s, peak RSS, the RSS slope after warm-up, and descriptor counts.

    python -m tests.faults.soak [--jobs 10000] [--write]   (from the repository root)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import psutil
import yaml

from arq_batch.aws.emulator import Emulator

from ..e2e.conftest import WorkerProcess
from ..e2e.helpers import latest_model, penguins_csv, provision_and_train
from .proxy import FaultProxy, flaky_cloud
from .soak_checks import check_outputs, dead_letter_inputs
from .soak_jobs import Plan, feed, plan_jobs, upload_inputs

ROOT = Path(__file__).resolve().parents[2]
GRACE = 20.0


@dataclass
class Samples:
    """RSS (MB) and open descriptors of one worker, once a second."""

    times: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    fds: list[int] = field(default_factory=list)

    def slope_mb_per_min(self) -> float:
        """RSS growth after the first fifth of the run (warm-up: model, pools, caches)."""
        start = len(self.times) // 5
        if len(self.times) - start < 3:
            return 0.0
        return float(np.polyfit(self.times[start:], self.rss[start:], 1)[0] * 60)


def sample(workers: list[WorkerProcess], stop: threading.Event) -> list[Samples]:
    series = [Samples() for _ in workers]
    handles = [psutil.Process(w.process.pid) for w in workers]
    started = time.monotonic()

    def loop() -> None:
        while not stop.wait(1.0):
            for handle, s in zip(handles, series, strict=True):
                try:
                    rss, fds = handle.memory_info().rss / 1e6, handle.num_fds()
                except psutil.Error:
                    continue
                s.times.append(time.monotonic() - started)
                s.rss.append(rss)
                s.fds.append(fds)

    threading.Thread(target=loop, daemon=True).start()
    return series


def settled(workers: list[WorkerProcess]) -> dict[str, str]:
    """job_id -> its last settling outcome (done, skipped or dead) across the fleet."""
    outcomes: dict[str, str] = {}
    for worker in workers:
        for event in worker.jobs():
            if event["outcome"] in ("done", "skipped", "dead"):
                outcomes[event["job_id"]] = event["outcome"]
    return outcomes


def run_fleet(plan: Plan, args: argparse.Namespace, moto_url: str,
              workdir: Path) -> dict[str, Any]:
    with FaultProxy(moto_url, flaky_cloud(args.share, delay=1.0), seed=args.seed) as proxy:
        os.environ["AWS_ENDPOINT_URL"] = proxy.url
        workers = [WorkerProcess("--concurrency", "2", log=workdir / f"worker-{i}.log")
                   for i in range(args.workers)]
        os.environ["AWS_ENDPOINT_URL"] = moto_url
        stop = threading.Event()
        series = sample(workers, stop)
        started = time.monotonic()
        threading.Thread(target=feed, args=(plan, boto3.client("sqs")), daemon=True).start()
        while len(settled(workers)) < len(plan.jobs):  # (the logs are long: not too often)
            if time.monotonic() - started > args.timeout:
                raise SystemExit(f"timed out after {args.timeout:.0f} s")
            if any(w.process.poll() is not None for w in workers):
                raise SystemExit(f"a worker died; logs in {workdir}")
            time.sleep(2.0)
        seconds = time.monotonic() - started
        stop.set()
        stopping = time.monotonic()
        codes = [w.stop(timeout=GRACE + 10) for w in workers]
        stop_seconds = time.monotonic() - stopping
        faults, requests = dict(proxy.faults), proxy.requests
    events = [e for w in workers for e in w.jobs()]
    return {"seconds": seconds, "codes": codes, "stop_seconds": stop_seconds,
            "faults": faults, "requests": requests, "events": events, "series": series,
            "outcomes": settled(workers)}


def check(plan: Plan, fleet: dict[str, Any]) -> list[str]:
    """Every invariant; the list of broken ones (empty: all hold)."""
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    problems = [f"worker exited {c}" for c in fleet["codes"] if c != 0]
    if fleet["stop_seconds"] > GRACE:
        problems.append(f"stopping took {fleet['stop_seconds']:.1f} s > grace {GRACE} s")
    dead = [e for e in fleet["events"] if e["outcome"] == "dead"]
    wrongly = sorted({e["job_id"] for e in dead} - plan.bad)
    problems += [f"good job {j} dead-lettered" for j in wrongly]
    problems += [f"bad job {j} not dead-lettered" for j in sorted(
        plan.bad - {e["job_id"] for e in dead})]
    kinds = {e["error"].split(":")[0] for e in dead}
    problems += [f"dead for a non-permanent reason: {k}" for k in kinds - plan.PERMANENT]
    in_dlq = dead_letter_inputs(sqs)
    problems += [f"DLQ holds {k}, not a bad input" for k in sorted(in_dlq - plan.bad_inputs)]
    problems += check_outputs(s3, plan, latest_model())
    return problems


def report(plan: Plan, fleet: dict[str, Any], problems: list[str], args: argparse.Namespace
           ) -> str:
    outcomes = Counter(fleet["outcomes"].values())
    attempts = Counter(e["outcome"] for e in fleet["events"])
    share = sum(fleet["faults"].values()) / max(fleet["requests"], 1)
    lines = [
        f"{len(plan.jobs):,} jobs ({args.large} large, {len(plan.bad)} bad) on "
        f"{args.workers} workers x concurrency 2, {share:.1%} of {fleet['requests']:,} "
        f"requests faulted (seed {args.seed}), in {fleet['seconds']:.0f} s: "
        f"**{len(plan.jobs) / fleet['seconds']:.1f} jobs/s**.",
        "",
        f"- faults injected: {dict(sorted(fleet['faults'].items()))}",
        f"- settled: {dict(sorted(outcomes.items()))}; every attempt: "
        f"{dict(sorted(attempts.items()))}",
        f"- SIGTERM to all workers: exit codes {fleet['codes']} in "
        f"{fleet['stop_seconds']:.1f} s (grace {GRACE:.0f} s)",
        f"- invariants: {'all hold' if not problems else f'{len(problems)} broken'}",
        "",
        "| worker | peak RSS MB | RSS at 20% / end MB | slope after warm-up MB/min "
        "| open fds: first / max / last |", "|---|---:|---:|---:|---:|",
    ]
    for i, s in enumerate(fleet["series"]):
        if not s.rss:
            continue
        lines.append(f"| {i} | {max(s.rss):.0f} | {s.rss[len(s.rss) // 5]:.0f} / "
                     f"{s.rss[-1]:.0f} | {s.slope_mb_per_min():+.2f} | "
                     f"{s.fds[0]} / {max(s.fds)} / {s.fds[-1]} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=3)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--share", type=float, default=0.10, help="share of requests faulted")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--write", action="store_true", help="update docs/reliability.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, Emulator() as aws:
        workdir = Path(tmp)
        os.environ.update(aws.env)
        os.environ["ARQ_BATCH_CONFIG"] = str(write_config(workdir))
        provision_and_train()
        plan = plan_jobs(args.jobs, args.large, penguins_csv())
        upload_inputs(plan, boto3.client("s3"), boto3.client("sqs"))
        fleet = run_fleet(plan, args, aws.url, workdir)
        problems = check(plan, fleet)
    text = report(plan, fleet, problems, args)
    print(text)
    print(*problems[:50], sep="\n")
    if args.write and not problems:
        sys.path.insert(0, str(ROOT / "bench"))
        from report import replace_section
        replace_section(ROOT / "docs" / "reliability.md", "soak", text)
    return 1 if problems else 0


def write_config(workdir: Path) -> Path:
    config = {
        "queue_settings": {"wait_time_seconds": 1, "visibility_timeout": 10,
                           "max_receive_count": 8,
                           "backoff_base_seconds": 1, "backoff_max_seconds": 4},
        "worker": {"heartbeat_file": str(workdir / "heartbeat"), "grace_seconds": GRACE},
        "log": {"format": "json"},
    }
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path

if __name__ == "__main__":
    raise SystemExit(main())
