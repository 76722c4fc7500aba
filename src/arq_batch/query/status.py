"""``arq-batch status``: one screen for an operator, answered from the queues and the ledger.

Job figures come from SQL over the ``jobs`` view, the same path ``query`` takes. Windows
end at ``now``: the last hour and day for counts and speed, the last week for failures.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from arq_batch.engine.progress import JobProgress
from arq_batch.engine.split_plan import Plan, SplitKeys
from arq_batch.kernel.errors import MissingObject
from arq_batch.kernel.fleet_settings import ProgressSettings
from arq_batch.kernel.ports import ObjectStore
from arq_batch.kernel.settings import Prefixes
from arq_batch.kernel.uris import S3Uri
from arq_batch.query.engine import Runner

_COUNTS = """
SELECT outcome, count(*) FILTER (WHERE finished_at >= $hour) AS last_hour, count(*) AS last_day
FROM jobs WHERE dt >= CAST($day AS DATE) AND finished_at >= $day
GROUP BY outcome ORDER BY outcome"""
_SPEED = """
SELECT sum(rows) AS rows, epoch(max(finished_at) - min(started_at)) AS span,
       quantile_cont(seconds, 0.5) AS p50, quantile_cont(seconds, 0.95) AS p95
FROM jobs WHERE outcome = 'done' AND dt >= CAST($hour AS DATE) AND finished_at >= $hour"""
_FAILURES = """
SELECT finished_at, job_id, input, outcome, error_class, error_message FROM jobs
WHERE outcome IN ('dead', 'retry') AND dt >= CAST($week AS DATE)
ORDER BY finished_at DESC LIMIT 5"""

# Cost of every attempt (retries and failures cost too), and per million rows scored.
_COST = """
SELECT sum(cost_usd) AS usd, sum(rows) FILTER (WHERE outcome = 'done') AS rows,
       sum(cpu_seconds) AS cpu_seconds,
       sum(rows_quarantined) FILTER (WHERE outcome = 'done') AS quarantined,
       count(*) FILTER (WHERE outcome = 'done' AND rows_quarantined > 0) AS quarantining
FROM jobs WHERE dt >= CAST($day AS DATE) AND finished_at >= $day"""

# Monitoring's files are dated by day, so "the last day" is today's and yesterday's.
_DRIFTED = """
SELECT feature_name AS feature, count(DISTINCT job_id) AS jobs,
       list(DISTINCT constraint_check_type ORDER BY constraint_check_type) AS checks
FROM violations WHERE dt >= CAST($day AS DATE)
GROUP BY feature_name ORDER BY jobs DESC, feature_name LIMIT 20"""


@dataclass(frozen=True)
class Status:
    """What ``status --json`` prints."""

    queue: dict[str, int]
    dead_letter_queue: dict[str, int]
    model_run: str | None
    jobs_last_hour: dict[str, int] = field(default_factory=dict)
    jobs_last_day: dict[str, int] = field(default_factory=dict)
    rows_last_hour: int = 0
    rows_per_second: float | None = None  # done jobs' rows over the span they ran in
    p50_job_seconds: float | None = None
    p95_job_seconds: float | None = None
    last_failures: list[dict[str, Any]] = field(default_factory=list)
    split_jobs: list[dict[str, Any]] = field(default_factory=list)  # in progress now
    running: list[dict[str, Any]] = field(default_factory=list)  # jobs publishing progress
    cost_last_day_usd: float = 0.0
    cost_per_million_rows_usd: float | None = None
    cpu_seconds_last_day: float = 0.0
    drifted_last_day: list[dict[str, Any]] = field(default_factory=list)  # by feature
    rows_quarantined_last_day: int = 0  # bad rows done jobs set aside within their budget
    jobs_quarantining_last_day: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


def job_figures(engine: Runner, now: datetime) -> dict[str, Any]:
    """Counts by outcome, speed and the last failures from the ledger."""
    windows = {"hour": now - timedelta(hours=1), "day": now - timedelta(days=1),
               "week": now - timedelta(days=7)}
    counts = engine.run(_COUNTS, {"hour": windows["hour"], "day": windows["day"]}).rows
    rows, span, p50, p95 = engine.run(_SPEED, {"hour": windows["hour"]}).rows[0]
    failures = engine.run(_FAILURES, {"week": windows["week"]}).records()
    drifted = engine.run(_DRIFTED, {"day": windows["day"]}).records()
    usd, scored, cpu, quarantined, quarantining = engine.run(
        _COST, {"day": windows["day"]}).rows[0]
    return {
        "rows_quarantined_last_day": int(quarantined or 0),
        "jobs_quarantining_last_day": int(quarantining or 0),
        "cost_last_day_usd": float(usd or 0.0), "cpu_seconds_last_day": float(cpu or 0.0),
        "cost_per_million_rows_usd": float(usd) * 1e6 / scored if usd and scored else None,
        "jobs_last_hour": {o: int(h) for o, h, _ in counts if h},
        "jobs_last_day": {o: int(d) for o, _, d in counts},
        "rows_last_hour": int(rows or 0),
        "rows_per_second": round(rows / span, 1) if rows and span else None,
        "p50_job_seconds": _rounded(p50), "p95_job_seconds": _rounded(p95),
        "last_failures": [f | {"finished_at": f["finished_at"].isoformat()} for f in failures],
        "drifted_last_day": [d | {"jobs": int(d["jobs"]), "checks": list(d["checks"])}
                             for d in drifted],
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def split_progress(store: ObjectStore, bucket: str, prefixes: Prefixes) -> list[dict[str, Any]]:
    """Split jobs in progress, from their folders: parts done of all, rows so far."""
    folders: dict[str, list[str]] = {}
    for key in store.list_keys(S3Uri(bucket, prefixes.splits)):
        folder = key[len(prefixes.splits):].split("/", 1)[0]
        folders.setdefault(folder, []).append(key)
    jobs = []
    for folder, keys in sorted(folders.items()):
        split = SplitKeys(S3Uri(bucket, f"{prefixes.splits}{folder}/"))
        if split.plan.key not in keys:
            continue  # being cleared away
        try:
            plan = Plan.parse(store.get_bytes(split.plan))
        except MissingObject:
            continue
        done = split.done_parts(keys)
        jobs.append({"job_id": plan.job["job_id"], "input": plan.job["input"],
                     "parts_done": len(done), "parts": len(plan.parts),
                     "rows": sum(done.values()), "failed": split.failed.key in keys})
    return jobs


def running_jobs(store: ObjectStore, bucket: str, prefixes: Prefixes,
                 settings: ProgressSettings, now: float) -> list[dict[str, Any]]:
    """Jobs in flight, from their progress records: rows so far, share read, time left,
    and whether their worker has gone quiet (stalled)."""
    found = []
    for key in store.list_keys(S3Uri(bucket, prefixes.progress)):
        try:
            job = JobProgress.parse(store.get_bytes(S3Uri(bucket, key)))
        except (MissingObject, ValueError):
            continue  # settled meanwhile, or not one of ours
        fraction, eta = job.fraction, job.eta_seconds()
        found.append({"job_id": job.job_id, "input": job.input, "worker_id": job.worker_id,
                      "started_at": job.started_at, "updated_at": job.updated_at,
                      "rows": job.rows, "percent": None if fraction is None
                      else round(100 * fraction, 1),
                      "eta_seconds": None if eta is None else round(eta, 1),
                      "stalled": job.stalled(now, settings.interval_seconds,
                                             settings.stalled_after)})
    return sorted(found, key=lambda j: j["started_at"])
