"""``arq-batch health``: the container HEALTHCHECK, meaningful for both roles.

A worker touches its heartbeat file every third of the visibility timeout; if that file
exists, the container is healthy while it is fresh. Otherwise the container is an
endpoint, healthy while ``/ping`` answers 200.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

from arq_batch.kernel.settings import Settings


def healthy(settings: Settings, now: float | None = None) -> tuple[bool, str]:
    """Whether this container's process is alive and doing its job, and why."""
    beat = Path(settings.worker.heartbeat_file)
    if beat.exists():
        age = (now or time.time()) - beat.stat().st_mtime
        limit = max(30.0, settings.queue_settings.visibility_timeout)  # three missed beats
        return age < limit, f"worker heartbeat {age:.0f} s old (limit {limit:.0f} s)"
    url = f"http://127.0.0.1:{settings.serve.port}/ping"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status == 200, f"{url} answered {response.status}"
    except (urllib.error.URLError, OSError) as exc:
        return False, f"no worker heartbeat and {url} failed: {exc}"
