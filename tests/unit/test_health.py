"""The container health check: fresh heartbeat or a ping that answers."""

from __future__ import annotations

import dataclasses
import os

from arq_batch.worker.health import healthy


def test_a_fresh_heartbeat_is_healthy_and_a_stale_one_is_not(settings, tmp_path) -> None:
    beat = tmp_path / "beat"
    beat.touch()
    settings = settings.replace(worker=dataclasses.replace(settings.worker,
                                                           heartbeat_file=str(beat)))
    assert healthy(settings)[0]
    os.utime(beat, (0, beat.stat().st_mtime - 600))
    ok, why = healthy(settings)
    assert not ok and "heartbeat" in why


def test_without_heartbeat_or_endpoint_it_is_unhealthy(settings, tmp_path) -> None:
    settings = settings.replace(
        worker=dataclasses.replace(settings.worker, heartbeat_file=str(tmp_path / "none")),
        serve=dataclasses.replace(settings.serve, port=1))
    ok, why = healthy(settings)
    assert not ok and "/ping failed" in why
