"""What each page shows, as SQL over the views and reads of the bucket: the overview's
figures, the jobs list, one job, the monitoring history. Values come back as plain
dicts and lists for the templates, which escape every one of them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from arq_batch.console.source import Source
from arq_batch.kernel import layout
from arq_batch.kernel.errors import MissingObject, PoisonMessage
from arq_batch.kernel.ports import ObjectStore
from arq_batch.kernel.settings import Settings
from arq_batch.kernel.uris import S3Uri

_HOURLY = """
SELECT date_trunc('hour', finished_at) AS hour, outcome, count(*) AS jobs,
       coalesce(sum(rows) FILTER (WHERE outcome = 'done'), 0) AS rows
FROM jobs WHERE dt >= CAST($since AS DATE) AND finished_at >= $since GROUP BY ALL"""
_WORKERS = """
SELECT worker_id, max(finished_at) AS last_seen, count(*) AS attempts,
       coalesce(sum(rows) FILTER (WHERE outcome = 'done'), 0) AS rows
FROM jobs WHERE dt >= CAST($since AS DATE) AND finished_at >= $since
GROUP BY worker_id ORDER BY last_seen DESC LIMIT 20"""
_TODAY = """
SELECT count(DISTINCT job_id) AS jobs, coalesce(sum(cost_usd), 0) AS usd,
       coalesce(sum(rows) FILTER (WHERE outcome = 'done'), 0) AS rows
FROM jobs WHERE dt = CAST($today AS DATE)"""
_BY_DAY = """
SELECT dt, count(DISTINCT job_id) AS jobs, coalesce(sum(cost_usd), 0) AS usd,
       coalesce(sum(rows) FILTER (WHERE outcome = 'done'), 0) AS rows
FROM jobs WHERE dt >= CAST($since AS DATE) GROUP BY dt ORDER BY dt DESC"""
# One row per job: its latest attempt, with what all its attempts cost.
_JOBS = """
SELECT job_id, arg_max(input, finished_at) AS input, arg_max(outcome, finished_at) AS outcome,
       count(*) AS attempts, max(finished_at) AS finished_at,
       arg_max(rows, finished_at) AS rows, sum(seconds) AS seconds, sum(cost_usd) AS cost_usd,
       arg_max(error_message, finished_at) AS error, arg_max(run_id, finished_at) AS run_id
FROM jobs WHERE ($q = '' OR contains(lower(input), lower($q)))
  AND ($day IS NULL OR dt = CAST($day AS DATE))
GROUP BY job_id HAVING $outcome = '' OR arg_max(outcome, finished_at) = $outcome
ORDER BY finished_at DESC, job_id LIMIT $limit OFFSET $offset"""
_ATTEMPTS = "SELECT * EXCLUDE (dt) FROM jobs WHERE job_id = $job ORDER BY finished_at"
_JOB_VIOLATIONS = """
SELECT feature_name, constraint_check_type, description FROM violations
WHERE job_id = $job ORDER BY feature_name, constraint_check_type"""
_DRIFT = """
SELECT dt, feature_name, count(DISTINCT job_id) AS jobs FROM violations
WHERE dt >= CAST($since AS DATE) GROUP BY ALL ORDER BY ALL"""
_DONE_BY_DAY = """
SELECT dt, count(*) AS jobs FROM jobs
WHERE outcome = 'done' AND dt >= CAST($since AS DATE) GROUP BY dt"""


@dataclass(frozen=True)
class JobFilter:
    """The jobs page's query string, parsed: outcome, text in the input, day, page."""

    outcome: str = ""
    q: str = ""
    day: date | None = None
    page: int = 0


def hourly(source: Source, now: datetime) -> list[dict[str, Any]]:
    """Jobs by hour and outcome, and rows scored, over the last 24 hours."""
    return source.run(_HOURLY, {"since": now - timedelta(hours=24)}).records()


def workers(source: Source, now: datetime) -> list[dict[str, Any]]:
    """Workers that settled a job in the last hour, most recent first."""
    return source.run(_WORKERS, {"since": now - timedelta(hours=1)}).records()


def today(source: Source, now: datetime) -> dict[str, Any]:
    """Today's (UTC) jobs, cost and rows, and the cost per job and per million rows."""
    jobs, usd, rows = source.run(_TODAY, {"today": now.date()}).rows[0]
    return _costs(jobs, usd, rows)


def cost_by_day(source: Source, now: datetime, days: int = 7) -> list[dict[str, Any]]:
    """The last ``days`` UTC days that had jobs: jobs, rows, cost, per job, per million."""
    since = (now - timedelta(days=days - 1)).date()
    return [{"dt": dt} | _costs(jobs, usd, rows)
            for dt, jobs, usd, rows in source.run(_BY_DAY, {"since": since}).rows]


def _costs(jobs: int, usd: float, rows: int) -> dict[str, Any]:
    return {"jobs": jobs, "usd": float(usd), "rows": int(rows),
            "per_job": float(usd) / jobs if jobs else None,
            "per_million_rows": float(usd) * 1e6 / rows if rows else None}


def jobs(source: Source, wanted: JobFilter, page_size: int) -> tuple[list[dict[str, Any]], bool]:
    """One page of jobs, newest first, and whether there is a next page."""
    found = source.run(_JOBS, {"q": wanted.q, "day": wanted.day, "outcome": wanted.outcome,
                               "limit": page_size + 1, "offset": wanted.page * page_size})
    records = found.records()
    return records[:page_size], len(records) > page_size


def job(source: Source, store: ObjectStore, settings: Settings,
        job_id: str) -> dict[str, Any] | None:
    """Every attempt of one job, its error report and its violations (None: unknown job)."""
    attempts = source.run(_ATTEMPTS, {"job": job_id}).records()
    if not attempts:
        return None
    last = attempts[-1]
    violations = source.run(_JOB_VIOLATIONS, {"job": job_id}).records()
    return {"job_id": job_id, "attempts": attempts, "last": last, "violations": violations,
            "cost_usd": sum(a["cost_usd"] or 0.0 for a in attempts),
            "report": error_report(store, settings, last),
            "quarantine": quarantined(store, settings, last)}


QUARANTINE_SHOWN = 100  # lines of a job's .errors.jsonl its page lists


def quarantined(store: ObjectStore, settings: Settings,
                attempt: dict[str, Any]) -> dict[str, Any] | None:
    """The bad rows a done job set aside: where they are and the first reasons."""
    if attempt["outcome"] != "done" or not attempt.get("rows_quarantined"):
        return None
    rows, errors = layout.quarantine_uris(settings.bucket, settings.prefixes,
                                          S3Uri.parse(attempt["input"]))
    try:
        lines = store.get_bytes(errors).decode("utf-8", errors="replace").splitlines()
    except MissingObject:  # expired (worker.quarantine_days) or removed
        return {"file": None, "errors": None, "rows": [], "count": attempt["rows_quarantined"]}
    return {"file": str(rows), "errors": str(errors), "count": attempt["rows_quarantined"],
            "rows": [json.loads(line) for line in lines[:QUARANTINE_SHOWN]]}


def error_report(store: ObjectStore, settings: Settings,
                 attempt: dict[str, Any]) -> str | None:
    """The job's error report, pretty-printed, if it has one in the bucket."""
    if attempt["outcome"] not in ("dead", "retry"):
        return None
    try:
        uri = S3Uri.parse(attempt["input"])
    except PoisonMessage:  # the input was not an s3:// URI
        uri = None
    candidates = [layout.error_report_uri(settings.bucket, settings.prefixes,
                                          uri if uri and uri.bucket == settings.bucket
                                          else None, attempt["message_id"])]
    if uri is not None:  # a report without the input is filed by message id
        candidates.append(layout.error_report_uri(settings.bucket, settings.prefixes, None,
                                                  attempt["message_id"]))
    for candidate in candidates:
        try:
            return json.dumps(json.loads(store.get_bytes(candidate)), indent=2)
        except (MissingObject, ValueError):
            continue
    return None


def drift(source: Source, now: datetime, days: int) -> dict[str, Any]:
    """Per feature and day, the share of done jobs whose data broke a constraint."""
    since = (now - timedelta(days=days - 1)).date()
    flagged = source.run(_DRIFT, {"since": since}).records()
    done = {r["dt"]: r["jobs"] for r in source.run(_DONE_BY_DAY, {"since": since}).records()}
    days_shown = [since + timedelta(days=i) for i in range(days)]
    features: dict[str, list[float]] = {}
    for row in flagged:
        shares = features.setdefault(row["feature_name"], [0.0] * days)
        total = done.get(row["dt"], 0)
        shares[(row["dt"] - since).days] = row["jobs"] / total if total else 1.0
    return {"days": days_shown, "features": dict(sorted(
        features.items(), key=lambda item: (-max(item[1]), item[0])))}
