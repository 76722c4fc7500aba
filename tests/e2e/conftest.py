"""End-to-end fixtures: a real moto server in its own process, real worker processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from arq_batch.aws.emulator import Emulator

from ..faults.proxy import FaultProxy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """One moto server for the session, started by the tests themselves."""
    with Emulator() as server:
        yield server


@pytest.fixture
def aws(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """A clean moto state, with boto3's standard chain pointed at it."""
    emulator.reset()
    for name, value in emulator.env.items():
        monkeypatch.setenv(name, value)
    return emulator


@pytest.fixture
def config_file(aws: Emulator, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Write a config file for worker processes (short polls and timeouts for tests)."""

    def write(**sections: dict[str, Any]) -> Path:
        config: dict[str, Any] = {
            "queue_settings": {"wait_time_seconds": 1, "visibility_timeout": 10,
                               "backoff_base_seconds": 1, "backoff_max_seconds": 2},
            "worker": {"heartbeat_file": str(tmp_path / "heartbeat"), "grace_seconds": 20.0},
            "log": {"format": "json"},
            # Background compaction would gather the records and predictions some tests
            # read object by object; the tests of compaction run it themselves.
            "compaction": {"enabled": False},
        }
        for name, values in sections.items():
            config.setdefault(name, {}).update(values)
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        monkeypatch.setenv("ARQ_BATCH_CONFIG", str(path))
        return path

    write()
    return write


@pytest.fixture
def proxy(aws, monkeypatch) -> Iterator[FaultProxy]:
    """A fault proxy in front of moto; workers and CLI calls started from now go through it.

    The test's own clients (the s3 and sqs fixtures) were made before and talk to moto."""
    with FaultProxy(aws.url) as faults:
        monkeypatch.setenv("AWS_ENDPOINT_URL", faults.url)
        yield faults


@pytest.fixture
def rclone(aws: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A second S3 implementation nobody here wrote: ``rclone serve s3`` over a temporary
    folder, on a free port, with S3 (only) pointed at it through AWS_ENDPOINT_URL_S3; SQS
    stays on moto. Yields a boto3 S3 client for the store; the server stops afterwards."""
    from arq_batch.aws.emulator import free_port

    port, folder = free_port(), tmp_path / "rclone-store"
    folder.mkdir()
    key = f"{aws.env['AWS_ACCESS_KEY_ID']},{aws.env['AWS_SECRET_ACCESS_KEY']}"
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "rclone"), "serve", "s3", str(folder), "--addr",
         f"127.0.0.1:{port}", "--auth-key", key, "--config", "/dev/null"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, server)
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{port}")
        yield boto3.client("s3")
    finally:
        server.terminate()
        server.wait(10)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"rclone exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"rclone did not listen on {port} within {timeout} s")


@pytest.fixture
def s3(aws: Emulator) -> Any:
    """A plain boto3 S3 client, for Given/Then steps."""
    return boto3.client("s3")


@pytest.fixture
def sqs(aws: Emulator) -> Any:
    """A plain boto3 SQS client, for Given/Then steps."""
    return boto3.client("sqs")


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``arq-batch`` as a user would, in a child process."""
    result = subprocess.run([sys.executable, "-m", "arq_batch", *args], capture_output=True,
                            text=True, env=dict(os.environ), timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"arq-batch {' '.join(args)} failed ({result.returncode}):\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


class WorkerProcess:
    """An ``arq-batch worker`` child process whose JSON log lines can be read back."""

    def __init__(self, *args: str, log: Path) -> None:
        self.log_path = log
        self._log = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "arq_batch", "worker", *args], stdout=subprocess.PIPE,
            stderr=self._log, text=True, env=dict(os.environ))

    def events(self) -> list[dict[str, Any]]:
        text = self.log_path.read_text()
        lines = text.splitlines()[: None if text.endswith("\n") else -1]  # not a half line
        return [json.loads(line) for line in lines if line.startswith("{")]

    def jobs(self, outcome: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events() if "job_id" in e and
                (outcome is None or e.get("outcome") == outcome)]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; worker log:\n{self.log_path.read_text()}")
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited ({self.process.returncode}):\n"
                                     f"{self.log_path.read_text()}")
            time.sleep(0.1)

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def stop(self, timeout: float = 60.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        self._log.close()
        return code


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start worker processes; any still running at the end are stopped."""
    started: list[WorkerProcess] = []

    def start(*args: str) -> WorkerProcess:
        worker = WorkerProcess(*args, log=tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait()
