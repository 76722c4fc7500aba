"""docker-compose.yml holds together (no compose engine runs on this machine to check it)."""

from __future__ import annotations

from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def test_the_local_stack_is_consistent() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert {"moto", "provision", "worker", "endpoint"} <= set(services)
    for name, service in services.items():
        for dependency in service.get("depends_on", []):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        env = service.get("environment", {})
        if env:  # moto's dummy credentials only, and the emulator's address
            assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "testing"
            assert env["AWS_ENDPOINT_URL"] == "http://moto:5000"
    grace = services["worker"]["stop_grace_period"]
    assert int(grace.rstrip("s")) > 25  # above the worker's own grace period
