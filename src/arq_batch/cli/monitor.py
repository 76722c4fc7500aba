"""``arq-batch monitor report``: a run's baseline against its recent jobs, as one HTML page."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from arq_batch import wiring
from arq_batch.cli.common import Commands, Result, add_command
from arq_batch.kernel.errors import ConfigError, ModelError
from arq_batch.kernel.settings import Settings

DEFAULT_DAYS = 7


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    """Add ``monitor report``."""
    monitor = add_command(
        commands, common, "monitor", cmd_monitor,
        "data quality and drift of a run's jobs against its baseline (HTML report)",
        "report: one self-contained HTML page (no network needed to view it) with each\n"
        "feature's baseline distribution against its jobs' since --since (default: the\n"
        "last 7 days), and the constraint violations over time.")
    monitor.add_argument("action", choices=("report",), help="what to do")
    monitor.add_argument("--run", required=True, metavar="RUN", help="the model run id")
    monitor.add_argument("--since", metavar="DATE", type=_date,
                         help="first day (YYYY-MM-DD) of jobs to include")
    monitor.add_argument("--output", metavar="PATH",
                         help="where to write the page (default: monitor-RUN.html)")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def cmd_monitor(args: argparse.Namespace, settings: Settings) -> Result:
    """Write the report page."""
    from arq_batch.cli.query import engine_for
    from arq_batch.models import registry
    from arq_batch.query import monitor_report

    output = Path(args.output or f"monitor-{args.run}.html")
    if not output.parent.is_dir():
        raise ConfigError(f"--output: folder {output.parent} does not exist")
    store = wiring.object_store(settings)
    model = wiring.model_store(settings, store).get(registry.run_folder(settings, args.run))
    if model.baseline is None:
        raise ModelError(f"run {args.run} has no monitoring baseline (trained before "
                         "monitoring existed): train again to get one")
    since = args.since or (datetime.now(UTC) - timedelta(days=DEFAULT_DAYS)).date()
    recent, jobs = monitor_report.recent_statistics(store, settings, model, since)
    page = monitor_report.render(model, recent, jobs, engine_for(settings), since, settings)
    output.write_bytes(page)
    data = {"run_id": args.run, "since": since.isoformat(), "jobs": jobs, "rows": recent.rows,
            "output": str(output)}
    return data, f"{jobs} job(s), {recent.rows:,} rows since {since} -> {output}"
