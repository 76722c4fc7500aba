"""What a job attempt cost: its share of the task's price for the time it ran.

A worker task is billed for the vCPUs and memory it holds, per second (AWS Fargate's
on-demand model; the defaults in ``config/config.yaml`` are its us-east-1 Linux/x86
prices, see docs/performance.md). A worker running ``concurrency`` jobs at once gives
each attempt ``1 / concurrency`` of the task for the attempt's wall time. Time the
worker spends idle, waiting on an empty queue, is no job's: ``status`` shows it apart.
"""

from __future__ import annotations

from arq_batch.kernel.fleet_settings import CostSettings


def task_usd_per_second(cost: CostSettings) -> float:
    """The task's price per second: vCPUs and memory together."""
    return (cost.vcpus * cost.vcpu_hour_usd + cost.memory_gb * cost.gb_hour_usd) / 3600


def attempt_cost_usd(seconds: float, concurrency: int, cost: CostSettings) -> float:
    """One attempt's share of its task for ``seconds`` of wall time (unrounded)."""
    return seconds * task_usd_per_second(cost) / max(1, concurrency)
