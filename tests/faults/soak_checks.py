"""The soak's checks on what the fleet left in S3 and in the dead-letter queue."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from ..e2e.helpers import BUCKET, dead_letter_bodies, read_csv
from .soak_jobs import OUTPUTS, Plan


def output_etags(s3: Any) -> dict[str, str]:
    etags = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=OUTPUTS):
        etags.update({o["Key"]: o["ETag"] for o in page.get("Contents", [])})
    return etags


def check_outputs(s3: Any, plan: Plan, predict: Callable[[pa.Table], list[Any]]) -> list[str]:
    """Each good job has its output; all outputs of one input are the same bytes; one of
    each is the input's rows, row for row, with the model's own predictions."""
    etags = output_etags(s3)
    problems = [f"{j.job_id}: no output" for j in plan.jobs
                if j.rows >= 0 and j.output_key not in etags]
    problems += [f"{j.job_id}: bad input, yet an output" for j in plan.jobs
                 if j.rows < 0 and j.output_key in etags]
    by_input: dict[str, set[str]] = defaultdict(set)
    first: dict[str, Any] = {}
    for job in plan.jobs:
        if job.rows >= 0 and job.output_key in etags:
            by_input[job.input_key].add(etags[job.output_key])
            first.setdefault(job.input_key, job)
    problems += [f"{key}: {len(tags)} different outputs" for key, tags in by_input.items()
                 if len(tags) > 1]
    for job in first.values():
        table = read_csv(s3, job.output_key)
        if table.num_rows != job.rows:
            problems.append(f"{job.output_key}: {table.num_rows} rows, not {job.rows}")
        elif table.column("predicted_label").to_pylist() != predict(table):
            problems.append(f"{job.output_key}: predictions differ from the model's")
    return problems


def dead_letter_inputs(sqs: Any) -> set[str]:
    """The input keys the dead-letter queue's messages name."""
    return {b["input"].split("/", 3)[3] for b in dead_letter_bodies(sqs)}
