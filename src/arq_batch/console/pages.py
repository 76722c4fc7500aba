"""The pages (GET): overview, jobs, one job, models, monitoring, the DLQ, query; the
live progress stream. Each handler gathers its figures and renders one template."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from arq_batch.console import figures
from arq_batch.console.app import REPORT_POLICY, Console, console_of, render
from arq_batch.console.charts import stacked
from arq_batch.feeders.dlq import list_dead_letters
from arq_batch.kernel.errors import ArqError, MissingObject, ModelError
from arq_batch.kernel.outcomes import Outcome
from arq_batch.models import registry
from arq_batch.query.status import job_figures, running_jobs

OUTCOMES = ("running", *(o.value for o in Outcome))
_RUN_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
DRIFT_DAYS = 14


def routes() -> list[Route]:
    """The GET routes."""
    return [Route("/", overview), Route("/jobs", jobs), Route("/jobs/{job_id:path}", job),
            Route("/models", models), Route("/models/{run_id}/report", model_report),
            Route("/monitoring", monitoring), Route("/monitoring/report", monitoring_report),
            Route("/dlq", dlq), Route("/query", query_page),
            Route("/events/progress", progress_events)]


def running(console: Console) -> list[dict[str, Any]]:
    """Jobs in flight, from their progress records."""
    s = console.settings
    return running_jobs(console.store, s.bucket, s.prefixes, s.progress, time.time())


def overview(request: Request) -> Response:
    """Queues, fleet, the last 24 hours, cost today, failures, drift, recent changes."""
    console, now = console_of(request), datetime.now(UTC)
    hours = [(now - timedelta(hours=23 - i)).replace(minute=0, second=0, microsecond=0)
             for i in range(24)]
    by_hour = figures.hourly(console.source, now)
    outcomes = sorted({r["outcome"] for r in by_hour})
    labels = [h.strftime("%H:00") for h in hours]
    jobs_chart = stacked("Jobs per hour, by outcome", labels, {o: [
        sum(r["jobs"] for r in by_hour if r["outcome"] == o and r["hour"] == h)
        for h in hours] for o in outcomes}, label_every=3)
    rows_chart = stacked("Rows scored per hour", labels, {"rows": [
        sum(r["rows"] for r in by_hour if r["hour"] == h) for h in hours]}, label_every=3)
    return render(request, "overview.html", now=now,
                  queue=console.queue.depth(), dlq=console.queue.depth(dead_letters=True),
                  model=registry.current_run(console.store, console.settings),
                  running=running(console),
                  workers=figures.workers(console.source, now),
                  today=figures.today(console.source, now),
                  by_day=figures.cost_by_day(console.source, now),
                  figures=job_figures(console.source, now),
                  charts=[jobs_chart, rows_chart], audit=console.audit.recent(10))


def jobs(request: Request) -> Response:
    """Jobs newest first, filtered; running ones with live progress."""
    console, params = console_of(request), request.query_params
    outcome = params.get("outcome", "")
    day = _date(params.get("date", ""))
    wanted = figures.JobFilter(outcome if outcome in OUTCOMES else "",
                               params.get("q", "")[:200], day, _int(params.get("page"), 0))
    page_size = console.settings.console.page_size
    found, more = ([], False) if wanted.outcome == "running" else figures.jobs(
        console.source, wanted, page_size)
    in_flight = running(console)
    if wanted.q:
        in_flight = [j for j in in_flight if wanted.q.lower() in str(j["input"]).lower()]
    return render(request, "jobs.html", jobs=found, more=more, wanted=wanted,
                  outcomes=OUTCOMES, running=in_flight, page_size=page_size,
                  bad_date=bool(params.get("date")) and day is None)


def job(request: Request) -> Response:
    """One job: its attempts, error report, violations, input, output and model run."""
    console, job_id = console_of(request), request.path_params["job_id"]
    found = figures.job(console.source, console.store, console.settings, job_id)
    live = [j for j in running(console) if j["job_id"] == job_id]
    if found is None and not live:
        return render(request, "message.html", 404, title="No such job",
                      message=f"No job {job_id!r} in the ledger, and none running.")
    return render(request, "job.html", job=found, job_id=job_id, live=live)


def models(request: Request) -> Response:
    """Runs with metrics and search candidates, the champion, promotions."""
    console = console_of(request)
    s = console.settings
    cards = sorted(registry.cards(console.store, s), key=lambda c: c.created_at, reverse=True)
    current = registry.current_run(console.store, s)
    history = registry.history(console.store, s)
    try:
        back_to: str | None = registry.previous_run(history, current)
    except ModelError:
        back_to = None
    return render(request, "models.html", cards=cards, current=current,
                  history=list(reversed(history))[:20], back_to=back_to)


def model_report(request: Request) -> Response:
    """A run's report.html as training wrote it, sandboxed (it runs nothing)."""
    console, run_id = console_of(request), request.path_params["run_id"]
    if not _RUN_ID.fullmatch(run_id):
        return render(request, "message.html", 404, title="No such run", message=run_id)
    folder = registry.run_folder(console.settings, run_id)
    try:
        page = console.store.get_bytes(folder.child("report.html"))
    except MissingObject:
        return render(request, "message.html", 404, title="No report",
                      message=f"Run {run_id} has no report.html.")
    return Response(page, media_type="text/html",
                    headers={"content-security-policy": REPORT_POLICY})


def monitoring(request: Request) -> Response:
    """Per feature, the share of jobs whose data broke its constraints, day by day."""
    console, now = console_of(request), datetime.now(UTC)
    drift = figures.drift(console.source, now, DRIFT_DAYS)
    labels = [d.strftime("%m-%d") for d in drift["days"]]
    charts = [stacked(name, labels, {"flagged": [100 * v for v in shares]}, label_every=2,
                      unit="% of jobs ") for name, shares in list(drift["features"].items())[:12]]
    return render(request, "monitoring.html", charts=charts, days=DRIFT_DAYS,
                  model=registry.current_run(console.store, console.settings),
                  since=drift["days"][0])


def monitoring_report(request: Request) -> Response:
    """The champion's baseline against its recent jobs (``monitor report``'s page)."""
    from arq_batch.query import monitor_report

    console = console_of(request)
    since = _date(request.query_params.get("since", "")) or datetime.now(UTC).date()
    try:
        model = console.models.get()
    except ModelError as exc:
        return render(request, "message.html", 404, title="No model", message=str(exc))
    if model.baseline is None:
        return render(request, "message.html", 404, title="No baseline",
                      message=f"Run {model.card.run_id} has no monitoring baseline.")
    recent, count = monitor_report.recent_statistics(console.store, console.settings, model,
                                                     since)
    page = monitor_report.render(model, recent, count, console.source, since, console.settings)
    return Response(page, media_type="text/html",
                    headers={"content-security-policy": REPORT_POLICY})


def dlq(request: Request) -> Response:
    """Dead letters with their reasons; redrive forms."""
    console = console_of(request)
    depth = console.queue.depth(dead_letters=True)
    return render(request, "dlq.html", letters=list_dead_letters(console.queue, depth["visible"]),
                  depth=depth,
                  audit=[a for a in console.audit.recent(20) if a.action.startswith("redrive")])


def query_page(request: Request) -> Response:
    """Read-only SQL over the views: a form, the rows, a CSV link."""
    console, sql = console_of(request), request.query_params.get("sql", "").strip()
    if not sql:
        return render(request, "query.html", sql="", result=None, error="",
                      views=sorted(console.source.view_names()))
    try:
        result, cut = console.source.run_people(sql)
    except ArqError as exc:
        return render(request, "query.html", 400, sql=sql, result=None, error=str(exc),
                      views=sorted(console.source.view_names()))
    return render(request, "query.html", sql=sql, result=result, cut=cut, error="",
                  limit=console.settings.console.query_max_rows,
                  views=sorted(console.source.view_names()))


async def progress_events(request: Request) -> Response:
    """Server-sent events: the running jobs, every progress interval, until the page goes."""
    console = console_of(request)
    interval = min(console.settings.progress.interval_seconds, 5.0)

    async def stream() -> AsyncIterator[str]:
        while not await request.is_disconnected():
            found = await run_in_threadpool(running, console)
            yield f"event: progress\ndata: {json.dumps(found, default=str)}\n\n"
            await asyncio.sleep(interval)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"cache-control": "no-cache"})


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _int(text: str | None, default: int) -> int:
    return int(text) if text and text.isdigit() and len(text) < 7 else default

