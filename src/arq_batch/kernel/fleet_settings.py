"""Settings of the fleet: how workers run jobs, and their own records (compaction, live
progress, cost).

``Settings`` holds one of each; their defaults are in ``config/config.yaml`` too.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class CompactionSettings:
    """How the ledger, violations and predictions stay few objects (docs/query.md)."""

    enabled: bool = True  # long-running workers compact in the background
    # The newest records stay small objects for at most min_age + interval (50 s): what
    # readers fetch one by one (docs/performance.md, read path).
    interval_seconds: float = 30.0  # between a worker's passes
    min_age_seconds: float = 20.0  # younger small objects wait for a later pass
    claim_seconds: float = 300.0  # a claim older than this was left by a dead compactor


@dataclasses.dataclass(frozen=True)
class ProgressSettings:
    """How often running jobs publish their progress, and when one counts as stalled."""

    interval_seconds: float = 5.0
    stalled_after: int = 3  # missed updates


@dataclasses.dataclass(frozen=True)
class CostSettings:
    """The worker task's price (AWS Fargate on-demand, us-east-1, Linux/x86: see
    docs/performance.md), and the vCPUs and memory the task holds."""

    vcpu_hour_usd: float = 0.04048
    gb_hour_usd: float = 0.004445
    vcpus: float = 1.0
    memory_gb: float = 2.0


@dataclasses.dataclass(frozen=True)
class WorkerSettings:
    """How the worker runs jobs."""

    concurrency: int = 2
    grace_seconds: float = 25.0
    batch_rows: int = 65_536
    part_size_mb: int = 5
    gzip_level: int = 1
    zstd_level: int = 3
    model_refresh_seconds: float = 10.0
    heartbeat_file: str = "/tmp/arq-batch-heartbeat"
    split_bytes: int = 256 * 1024 * 1024  # inputs larger than this are split; 0: never
    max_bad_rows: int = 0  # a job's bad-row budget unless its message sets one (0: none)
    quarantine_days: int = 30  # quarantined rows (maybe personal data) expire after this

    def budget(self, given: int | None) -> int:
        """A job's bad-row budget: its own (``given``), else ``max_bad_rows``."""
        return self.max_bad_rows if given is None else given
