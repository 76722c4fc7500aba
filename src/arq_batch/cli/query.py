"""SQL and gauges: ``query`` runs SQL over the bucket, ``status`` is an operator's screen."""

from __future__ import annotations

import argparse
import csv
import io
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from arq_batch import wiring
from arq_batch.cli.common import Commands, Result, add_command
from arq_batch.kernel.errors import ConfigError
from arq_batch.kernel.settings import Settings

if TYPE_CHECKING:  # DuckDB is imported only when a query runs
    from arq_batch.query.engine import QueryEngine
    from arq_batch.query.status import Status

VIEWS_HELP = """\
Views: jobs (the job ledger: one row per settled job attempt), predictions (every scored
row, with run_id and dt), errors (the error reports), violations (one row per constraint
violation monitoring found in a job, with its job_id, input, run_id and dt), quarantine
(one row per bad row a job set aside: input, row, column, value, reason), outputs
(every CSV output under data/output/, columns unioned by name; outputs_parquet and
outputs_jsonl likewise).
Example: arq-batch query "SELECT outcome, count(*) FROM jobs GROUP BY outcome"
"""


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    """Add ``query`` and ``status``."""
    query = add_command(commands, common, "query", cmd_query,
                        "run SQL over the job ledger, predictions, errors and outputs",
                        "Run one SQL statement with DuckDB over the bucket, in place.\n\n"
                        + VIEWS_HELP)
    query.add_argument("sql", metavar="SQL", help="the statement to run (DuckDB's dialect)")
    query.add_argument("--format", choices=("table", "csv", "json"), default="table",
                       help="table: aligned columns; csv: with a header; json: one array of "
                            "row objects (default: table)")
    add_command(commands, common, "status", cmd_status,
                "queue depths, the current model, recent jobs, speed and failures",
                "One screen for an operator: queue and dead-letter depths, the model run\n"
                "workers use now, jobs in the last hour and day by outcome, rows/s and\n"
                "p50/p95 job seconds over the last hour, cost in the last day, running\n"
                "jobs with their progress and ETA (or STALLED), and the last five failures.")
    compact = add_command(commands, common, "compact", cmd_compact,
                          "gather the ledger, violations and predictions into Parquet",
                          "One compaction pass: each partition's small objects older than\n"
                          "--min-age become one Parquet file under data/compacted/, so SQL and\n"
                          "status cost the question, not the jobs ever run. Long-running\n"
                          "workers do this every compaction.interval_seconds; safe beside them.")
    compact.add_argument("--min-age", type=float, metavar="SECONDS",
                         help="leave younger objects for a later pass (default: "
                              "compaction.min_age_seconds in the config)")


def cmd_compact(args: argparse.Namespace, settings: Settings) -> Result:
    """One compaction pass over every dataset."""
    from arq_batch.engine.compaction import Compactor

    if args.min_age is not None and args.min_age < 0:
        raise ConfigError("--min-age must be 0 or more seconds")
    done = Compactor(wiring.object_store(settings), settings, by="arq-batch compact").run(
        args.min_age)
    data = {"partitions": [vars(d) for d in done]}
    lines = [f"{d.dataset} {d.partition}: {d.objects} object(s) gathered"
             + (f", {d.leftovers} leftover(s) removed" if d.leftovers else "") for d in done]
    return data, "\n".join(lines) or "nothing to compact"


def engine_for(settings: Settings) -> QueryEngine:
    """A query engine over the configured bucket, with boto3's credentials."""
    from arq_batch.query.engine import QueryEngine

    return QueryEngine(settings, wiring.query_connection(settings),
                       wiring.object_store(settings))


def cmd_query(args: argparse.Namespace, settings: Settings) -> Result:
    """Run the statement and render its rows."""
    if not args.sql.strip():
        raise ConfigError('query needs an SQL statement, e.g. "SELECT * FROM jobs LIMIT 5"')
    result = engine_for(settings).run(args.sql)
    records = result.records()
    data = {"columns": result.columns, "rows": records, "row_count": len(records)}
    if args.format == "json":
        return data, json.dumps(records, default=str)
    if args.format == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([_text(v) for v in row] for row in result.rows)
        return data, out.getvalue().rstrip("\n")
    return data, render_table(result.columns, result.rows)


def cmd_status(args: argparse.Namespace, settings: Settings) -> Result:
    """Gather the operator's figures."""
    status = current_status(settings)
    return status.to_dict(), status_text(status)


def current_status(settings: Settings) -> Status:
    """Queues, model and the ledger's figures, as of now."""
    from arq_batch.query.status import Status, job_figures, running_jobs, split_progress

    queue, store = wiring.job_queue(settings), wiring.object_store(settings)
    current = wiring.model_store(settings, store).latest_run_id()
    now = datetime.now(UTC)
    return Status(queue.depth(), queue.depth(dead_letters=True), current,
                  **job_figures(engine_for(settings), now),
                  split_jobs=split_progress(store, settings.bucket, settings.prefixes),
                  running=running_jobs(store, settings.bucket, settings.prefixes,
                                       settings.progress, now.timestamp()))


def status_text(s: Status) -> str:
    """The status screen."""
    lines = [f"queue       {_depth(s.queue)}", f"dead-letter {_depth(s.dead_letter_queue)}",
             f"model       {s.model_run or '(none trained)'}",
             f"last hour   {_outcomes(s.jobs_last_hour)}",
             f"last day    {_outcomes(s.jobs_last_day)}",
             f"speed       {s.rows_last_hour:,} rows in the last hour"
             + (f", {s.rows_per_second:,.0f} rows/s, job p50 {s.p50_job_seconds} s, "
                f"p95 {s.p95_job_seconds} s" if s.rows_per_second else "")]
    lines.append(f"cost        {_usd(s.cost_last_day_usd)} in the last day"
                 + (f", {_usd(s.cost_per_million_rows_usd)} per million rows"
                    if s.cost_per_million_rows_usd is not None else "")
                 + f" ({s.cpu_seconds_last_day:,.1f} CPU s)")
    lines.append("quarantine  " + (
        f"{s.rows_quarantined_last_day:,} bad rows set aside by {s.jobs_quarantining_last_day} "
        "job(s) in the last day (query: SELECT * FROM quarantine)"
        if s.rows_quarantined_last_day else "no rows set aside in the last day"))
    lines.append("running     " + ("no job publishing progress" if not s.running else ""))
    lines += [f"  {j['job_id']}  {_progress(j)}  {j['input']}" for j in s.running]
    lines.append("failures    " + ("none in the last week" if not s.last_failures else ""))
    lines += [f"  {f['finished_at'][:19]}  {f['outcome']:<5}  {f['input']}  "
              f"{f['error_class']}: {f['error_message']}" for f in s.last_failures]
    lines.append("split jobs  " + ("none in progress" if not s.split_jobs else ""))
    lines += [f"  {j['job_id']}  {j['parts_done']} of {j['parts']} parts done, {j['rows']:,} "
              f"rows so far{' (failed, clearing up)' if j['failed'] else ''}  {j['input']}"
              for j in s.split_jobs]
    lines.append("drifted     " + ("no violations in the last day" if not s.drifted_last_day
                                   else "features with violations in the last day"))
    lines += [f"  {d['feature']}  {', '.join(d['checks'])}  in {d['jobs']} job"
              f"{'s' if d['jobs'] != 1 else ''}" for d in s.drifted_last_day]
    return "\n".join(lines)


def _usd(amount: float) -> str:
    """Dollars to the cent, or to six decimals when less than a cent (a few small jobs)."""
    return f"${amount:,.2f}" if amount >= 0.01 else f"${amount:.6f}"


def _progress(job: dict[str, Any]) -> str:
    """``42.0%  12,000 rows  ETA 8 s`` (or STALLED: its worker stopped updating)."""
    done = "" if job["percent"] is None else f"{job['percent']:5.1f}%  "
    eta = "" if job["eta_seconds"] is None else f"  ETA {job['eta_seconds']:.0f} s"
    return ("STALLED  " if job["stalled"] else "") + f"{done}{job['rows']:,} rows{eta}"


def _depth(d: dict[str, int]) -> str:
    return f"{d['visible']} visible, {d['in_flight']} in flight, {d['delayed']} delayed"


def _outcomes(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {o}" for o, n in sorted(counts.items())) or "no jobs"


def render_table(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    """Aligned columns with a header rule and a row count."""
    cells = [[_text(v) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    line = "  ".join("-" * w for w in widths)
    body = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    footer = f"({len(rows)} row{'s' if len(rows) != 1 else ''})"
    return "\n".join(["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)),
                      line, *body, footer])


def _text(value: Any) -> str:
    return "" if value is None else value.isoformat() if isinstance(value, datetime) \
        else str(value)
