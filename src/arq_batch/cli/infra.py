"""Commands that set up and check the infrastructure: ``provision`` and ``health``."""

from __future__ import annotations

import argparse

from arq_batch.cli.common import Commands, Result, add_command
from arq_batch.kernel.errors import ArqError
from arq_batch.kernel.settings import Settings


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    """Add ``provision`` and ``health``."""
    add_command(commands, common, "provision", cmd_provision,
                "create the bucket, queues and S3 notification (safe to run again)",
                "Create, or confirm, the bucket (default encryption, public access blocked),\n"
                "the queue, its dead-letter queue with a redrive policy, and the S3\n"
                "notification that turns a new object under data/input/ into a job.")
    add_command(commands, common, "health", cmd_health,
                "exit 0 if this container's worker or endpoint is healthy (HEALTHCHECK)",
                "A worker is healthy while its heartbeat file is fresh; an endpoint while\n"
                "/ping answers 200.")


def cmd_provision(args: argparse.Namespace, settings: Settings) -> Result:
    """Create or confirm the infrastructure."""
    from arq_batch.aws.provision import provision

    done = provision(settings)
    data = {"bucket": settings.bucket, "queue": settings.queue, "dlq": settings.dlq_name,
            "changes": done.changes, "skipped": done.skipped}
    lines = list(done.changes) or ["everything already in place"]
    lines += [f"skipped {s['feature']}: {s['reason']}" for s in done.skipped]
    return data, "\n".join(lines)


def cmd_health(args: argparse.Namespace, settings: Settings) -> Result:
    """The container HEALTHCHECK."""
    from arq_batch.worker.health import healthy

    ok, why = healthy(settings)
    if not ok:
        raise ArqError(f"unhealthy: {why}")
    return {"healthy": True, "detail": why}, f"healthy: {why}"
