"""The bench harness: one emulator session with a trained model, and the commands each
variant runs (ours, the prototype's baseline, the limit). The entry scripts (``run.py``,
``formats.py``, ...) measure scenarios with it and write their tables.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import boto3
import psutil
import yaml

from arq_batch import wiring
from arq_batch.aws.provision import provision
from arq_batch.kernel.settings import load_settings
from arq_batch.training.pipeline import TrainRequest, train
from measure import Run, limit_run, run_processes, training_csv

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Row:
    """One line of the results table."""

    scenario: str
    variant: str
    run: Run
    rows: int = 0
    jobs: int = 0

    @property
    def peak_rss_mb(self) -> float | None:
        return self.run.peak_rss_mb

    @property
    def rate(self) -> float:
        """Rows per second, or jobs per second for the small-file scenarios."""
        return (self.rows or self.jobs) / self.run.seconds


class Bench:
    """Holds the emulator session, the model and the commands for each variant."""

    def __init__(self, workdir: Path, server_pid: int) -> None:
        self._server = psutil.Process(server_pid)
        self.settings = load_settings({})
        self.s3, self.sqs = boto3.client("s3"), boto3.client("sqs")
        self.bucket = self.settings.bucket
        provision(self.settings)
        self.queue = self.sqs.get_queue_url(QueueName=self.settings.queue)["QueueUrl"]
        self.drain()  # provisioning's s3:TestEvent
        data = workdir / "train.csv"
        data.write_bytes(training_csv())
        store = wiring.object_store(self.settings)
        run_id = train(TrainRequest(str(data), "y"), store, self.settings).run_id
        self.model = wiring.model_store(self.settings, store).get()
        self.model_key = f"{self.settings.prefixes.model}{run_id}/model.joblib"
        config = workdir / "config.yaml"
        config.write_text(yaml.safe_dump({"queue_settings": {"wait_time_seconds": 0},
                                          "worker": {"heartbeat_file": str(workdir / "hb")},
                                          "log": {"format": "json", "level": "WARNING"}}))
        self.env = {**os.environ, "ARQ_BATCH_CONFIG": str(config)}

    @property
    def model_uri(self) -> str:
        """The trained model's run folder, as ``--model`` takes it."""
        return f"s3://{self.bucket}/{self.model_key.rsplit('/', 1)[0]}/"

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)

    def enqueue(self, jobs: list[tuple[str, str]]) -> None:
        self.drain()
        for start in range(0, len(jobs), 10):
            self.sqs.send_message_batch(QueueUrl=self.queue, Entries=[
                {"Id": str(i), "MessageBody": json.dumps({
                    "input": f"s3://{self.bucket}/{src}", "output": f"s3://{self.bucket}/{dst}"})}
                for i, (src, dst) in enumerate(jobs[start:start + 10])])

    def drain(self) -> None:
        """Empty the queue. The prototype has no heartbeat, so its slow jobs come back after
        the visibility timeout; such a redelivery must not leak into the next measurement.
        (Not PurgeQueue: it may run only once a minute.)"""
        while messages := self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10,
                                                   WaitTimeSeconds=0).get("Messages"):
            self.sqs.delete_message_batch(QueueUrl=self.queue, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(messages)])

    def ours(self, jobs: list[tuple[str, str]], concurrency: int = 1, processes: int = 1) -> Run:
        self.enqueue(jobs)
        command = [sys.executable, "-m", "arq_batch", "worker", "--once",
                   "--concurrency", str(concurrency)]
        return self._with_server_cpu(run_processes, [command] * processes, self.env,
                                     parallel=True)

    def baseline(self, jobs: list[tuple[str, str]]) -> Run:
        self.enqueue(jobs)
        command = [sys.executable, str(ROOT / "bench" / "baseline.py"), self.queue, self.bucket,
                   self.model_key, str(self.settings.worker.gzip_level)]
        return self._with_server_cpu(run_processes, [command] * len(jobs), self.env)

    def limit(self, src: str, dst: str) -> Run:
        return self._with_server_cpu(limit_run, self.s3, self.bucket, src, dst,
                                     self.model.scorer, self.settings.worker.gzip_level)

    def _with_server_cpu(self, measure: Callable[..., Run], *args: Any, **kwargs: Any) -> Run:
        before = sum(self._server.cpu_times()[:2])
        run = measure(*args, **kwargs)
        return replace(run, server_cpu_s=sum(self._server.cpu_times()[:2]) - before)

    def output(self, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
