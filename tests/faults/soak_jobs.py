"""The soak's jobs: a few dozen small inputs, each scored many times into its own output,
a few large inputs, and bad inputs that must be dead-lettered; and the faults to apply."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from typing import Any

from ..e2e.helpers import BUCKET, queue_depth, queue_url

INPUTS = "data/input/soak/"
OUTPUTS = "data/output/soak/"


@dataclass(frozen=True)
class SoakJob:
    job_id: str
    input_key: str
    output_key: str
    rows: int  # -1: bad input


@dataclass(frozen=True)
class Plan:
    files: dict[str, bytes]  # input key -> body
    jobs: list[SoakJob]

    PERMANENT = frozenset({"data_error", "missing_object"})

    @property
    def bad(self) -> set[str]:
        return {j.job_id for j in self.jobs if j.rows < 0}

    @property
    def bad_inputs(self) -> set[str]:
        return {j.input_key for j in self.jobs if j.rows < 0}


def plan_jobs(count: int, large: int, penguins: bytes, seed: int = 3) -> Plan:
    """``count`` small jobs over 50 small inputs (two of them bad) plus ``large`` big ones."""
    rng = random.Random(seed)
    header, *rows = penguins.splitlines(keepends=True)
    files: dict[str, bytes] = {}
    for i in range(48):
        n = rng.randint(1, 40)
        start = rng.randrange(len(rows) - n)
        files[f"{INPUTS}small-{i:02d}.csv"] = header + b"".join(rows[start:start + n])
    files[f"{INPUTS}bad-missing-column.csv"] = header.replace(b"island,", b"isle,") + rows[0]
    files[f"{INPUTS}bad-empty.csv"] = b""
    small = sorted(files)
    for i in range(large):
        files[f"{INPUTS}large-{i}.csv"] = header + b"".join(rows) * 2000
    jobs = [_job(f"job-{i:05d}", small[i % len(small)], files) for i in range(count)]
    jobs += [_job(f"large-{i}", f"{INPUTS}large-{i}.csv", files) for i in range(large)]
    rng.shuffle(jobs)
    return Plan(files, jobs)


def _job(job_id: str, key: str, files: dict[str, bytes]) -> SoakJob:
    rows = -1 if "/bad-" in key else files[key].count(b"\n") - 1
    return SoakJob(job_id, key, f"{OUTPUTS}{job_id}.csv", rows)


def upload_inputs(plan: Plan, s3: Any, sqs: Any) -> None:
    """Upload the inputs; the S3 notifications of those uploads are drained (the jobs
    below name their inputs and outputs themselves)."""
    for key, body in plan.files.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    _drain(sqs)


def feed(plan: Plan, sqs: Any, backlog: int = 300) -> None:
    """Enqueue every job, keeping about ``backlog`` messages in the queue.

    Jobs arrive as the fleet takes them, as in production. (moto counts every message
    of a queue on each send and receive, so a 10,000-message backlog would make moto,
    not the workers, what the soak measures.)"""
    url = queue_url(sqs)
    for start in range(0, len(plan.jobs), 10):
        while queue_depth(sqs) >= backlog:
            time.sleep(0.2)
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": json.dumps({
                "job_id": j.job_id, "input": f"s3://{BUCKET}/{j.input_key}",
                "output": f"s3://{BUCKET}/{j.output_key}"})}
            for i, j in enumerate(plan.jobs[start:start + 10])])


def _drain(sqs: Any) -> None:
    url = queue_url(sqs)
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=1).get("Messages", []):
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
