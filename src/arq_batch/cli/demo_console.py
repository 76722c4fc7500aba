"""The demo's last step: ``arq-batch console`` over what the demo just did, page by page,
and one change made the way a script makes it (refused without the token, then with)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

PAGES = ("/", "/jobs", "/jobs?outcome=dead", "/models", "/monitoring", "/dlq",
         "/query?sql=SELECT+outcome,count(*)+FROM+jobs+GROUP+BY+1")


def start_console(token: str | None, python: str = sys.executable,
                  env: dict[str, str] | None = None, output: Any = subprocess.DEVNULL
                  ) -> tuple[subprocess.Popen[bytes], str]:
    """``arq-batch console`` on a free loopback port, healthy; the process and its URL
    (the demo's, the browser tests' and the benchmark's one way to start it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    environment = {**os.environ, **(env or {})}
    environment.pop("ARQ_BATCH_CONSOLE_TOKEN", None)
    if token:
        environment["ARQ_BATCH_CONSOLE_TOKEN"] = token
    process = subprocess.Popen([python, "-m", "arq_batch", "console", "--port", str(port)],
                               env=environment, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url, process)
    except RuntimeError:
        process.kill()
        raise
    return process, url


def console_stage(say: Any) -> dict[str, int]:
    """Start the console, fetch each page, redrive the DLQ over HTTP, stop it."""
    token = secrets.token_hex(16)
    process, url = start_console(token)
    try:
        shown = {path: _fetch(url + path, say) for path in PAGES}
        refused = _post(f"{url}/dlq/redrive", None)
        done = _post(f"{url}/dlq/redrive", token)
        say(f"   POST /dlq/redrive without the token -> {refused}; with it -> {done} "
            "(the dead letter is back in the job queue, and the change is in data/audit/)")
    finally:
        process.terminate()
        process.wait(timeout=15)
    say("   console stopped")
    return shown


def _wait(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the console exited ({process.returncode})")
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the console did not start")


def _fetch(url: str, say: Any) -> int:
    with urllib.request.urlopen(url, timeout=60) as answer:
        body = answer.read()
        timing = answer.headers.get("server-timing", "dur=?").split("dur=")[-1]
        say(f"   GET /{url.split('/', 3)[-1]}: {answer.status}, {len(body):,} bytes, "
            f"{timing} ms on the server")
        return int(answer.status)


def _post(url: str, token: str | None) -> int:
    request = urllib.request.Request(url, data=b"", method="POST", headers={
        "content-type": "application/x-www-form-urlencoded",
        **({"authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return refused.code
