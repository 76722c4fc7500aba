"""Endpoint lifecycle like the SageMaker notebook: create, invoke once, delete.

``create`` starts ``arq-batch serve`` as a background process and records its pid and
port in a small state file; ``delete`` stops it and waits until the port is free.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from arq_batch.aws.emulator import free_port
from arq_batch.kernel.errors import ArqError, ConfigError

STATE_DIR = Path(tempfile.gettempdir()) / "arq-batch-endpoints"


@dataclass(frozen=True)
class Endpoint:
    """A running endpoint process."""

    name: str
    pid: int
    url: str

    def invocations_url(self) -> str:
        """The SageMaker-runtime style path for this endpoint."""
        return f"{self.url}/endpoints/{self.name}/invocations"


def create(name: str, model: str | None = None, port: int | None = None,
           timeout: float = 60.0) -> Endpoint:
    """Start a server in the background and wait for ``/ping``."""
    if _state_file(name).exists():
        raise ConfigError(f"endpoint {name!r} already exists; delete it first")
    port = port or free_port()
    command = [sys.executable, "-m", "arq_batch", "serve", "--port", str(port)]
    process = subprocess.Popen([*command, *(["--model", model] if model else [])],
                               stdout=subprocess.DEVNULL, start_new_session=True)
    endpoint = Endpoint(name, process.pid, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + timeout
    while not _pings(endpoint.url):
        if process.poll() is not None or time.monotonic() > deadline:
            _terminate(process.pid)
            raise ArqError(f"endpoint {name!r} did not start (exit code {process.poll()})")
        time.sleep(0.1)
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    _state_file(name).write_text(json.dumps(asdict(endpoint)))
    return endpoint


def find(name: str) -> Endpoint:
    """The endpoint recorded under ``name``."""
    try:
        return Endpoint(**json.loads(_state_file(name).read_text()))
    except FileNotFoundError:
        raise ConfigError(f"no endpoint named {name!r}; create it first") from None


def invoke(endpoint: Endpoint, body: bytes, content_type: str) -> bytes:
    """One request to the endpoint; returns the response body."""
    request = urllib.request.Request(endpoint.invocations_url(), data=body, method="POST",
                                     headers={"Content-Type": content_type,
                                              "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        raise ArqError(f"endpoint answered {exc.code}: {exc.read().decode()}") from exc


def delete(name: str, timeout: float = 20.0) -> None:
    """Stop the process, wait until it has exited, forget the endpoint."""
    endpoint = find(name)
    _terminate(endpoint.pid, timeout)
    _state_file(name).unlink(missing_ok=True)


def _terminate(pid: int, timeout: float = 20.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            finished, _ = os.waitpid(pid, os.WNOHANG)  # reaps our own child
        except ChildProcessError:  # not our child: poll for existence instead
            finished = 0 if _alive(pid) else pid
        if finished:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _pings(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _state_file(name: str) -> Path:
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"endpoint name {name!r} must be letters, digits, '-' or '_'")
    return STATE_DIR / f"{name}.json"
