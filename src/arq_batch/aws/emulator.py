"""An embedded AWS for laptops and tests: a moto server on a free 127.0.0.1 port.

The server runs in its own process. That keeps it apart from any ``moto.mock_aws``
context (which would intercept our clients and wipe the server's state on exit) and
gives it its own interpreter, so its CPU work does not compete with ours for the GIL.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from types import TracebackType

# moto checks credentials for shape only; these never reach AWS.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
_SERVER = "import logging, sys; logging.getLogger('werkzeug').setLevel(logging.ERROR); " \
          "from moto.server import main; main(sys.argv[1:])"


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Emulator:
    """Start with ``with Emulator() as aws:``; ``aws.env`` points boto3 at it."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        """Environment for boto3 clients (ours or a subprocess's) to use this server."""
        return {"AWS_ENDPOINT_URL": self.url, "AWS_DEFAULT_REGION": "us-east-1",
                **FAKE_CREDENTIALS}

    def start(self, timeout: float = 30.0) -> Emulator:
        """Start the server and wait until it answers."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self._process = subprocess.Popen(
            [sys.executable, "-c", _SERVER, "-H", "127.0.0.1", "-p", str(self.port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"moto server did not start on port {self.port}")
            time.sleep(0.1)
        return self

    @property
    def pid(self) -> int | None:
        """The server's process id (benchmarks read its CPU time)."""
        return self._process.pid if self._process else None

    def reset(self) -> None:
        """Forget every bucket, queue and object (between tests)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).close()

    def stop(self) -> None:
        """Stop the server and wait for it to exit."""
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def _answers(self) -> bool:
        try:
            urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=1).close()
        except (urllib.error.URLError, OSError):
            return False
        return True

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
