"""``arq-batch score``: one file scored directly, without the queue."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

from arq_batch import wiring
from arq_batch.cli.common import Commands, Result, add_command
from arq_batch.cli.job_flags import MODEL_HELP, add_budget, add_job_options, job_options
from arq_batch.kernel.errors import ConfigError, PermanentError
from arq_batch.kernel.layout import check_output
from arq_batch.kernel.settings import Settings
from arq_batch.kernel.uris import S3Uri, is_s3


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    """Add ``score``."""
    score = add_command(commands, common, "score", cmd_score,
                        "score one file directly, without the queue",
                        "The worker's engine and output format on one file; local paths and\n"
                        "s3:// URIs both work, for input and output alike.")
    score.add_argument("--input", required=True, metavar="SRC",
                       help="the file to score: a local path or an s3:// URI (CSV, Parquet, "
                            "JSON Lines; .gz or .zst)")
    score.add_argument("--output", required=True, metavar="DST",
                       help="where to write it, in the input's format: a local path or an "
                            "s3:// URI")
    score.add_argument("--model", metavar="URI", help=MODEL_HELP)
    add_budget(score, " (beside DST: DST.quarantine and DST.errors.jsonl)")
    add_job_options(score)


def cmd_score(args: argparse.Namespace, settings: Settings) -> Result:
    """Score one file with the worker's engine."""
    from arq_batch.models.store import open_model
    from arq_batch.worker.monitoring import Monitoring
    from arq_batch.worker.score_file import score_file

    _check_destination(args.input, args.output, settings)
    store = wiring.object_store(settings, for_jobs=True)
    model = open_model(wiring.model_store(settings, store), args.model)
    monitor = Monitoring(store, settings).score_tap(args.output, model, args.input)
    started = time.monotonic()
    scored = score_file(args.input, args.output, model, store, settings, _progress(),
                        job_options(args), monitor,
                        settings.worker.budget(args.max_bad_rows))
    seconds = time.monotonic() - started
    if sys.stderr.isatty():
        print(file=sys.stderr)  # end the progress line
    data = {"input": args.input, "output": args.output, "rows": scored.rows,
            "rows_quarantined": scored.quarantined, "seconds": round(seconds, 3),
            "run_id": model.card.run_id}
    text = f"scored {scored.rows} rows in {seconds:.2f} s -> {args.output}"
    if scored.quarantined:
        text += (f"\n  {scored.quarantined} bad row(s) set aside: {args.output}.quarantine, "
                 f"why in {args.output}.errors.jsonl")
    if monitor is not None and monitor.findings is not None:
        found = monitor.findings.to_json()["violations"]
        data["violations"] = found
        text += "".join(f"\n  {v['constraint_check_type']}: {v['feature_name']}: "
                        f"{v['description']}" for v in found) or "\n  no constraint violations"
    return data, text


def _check_destination(source: str, destination: str, settings: Settings) -> None:
    """``score`` writes where a job may (never under a prefix we own) and never onto its
    own input, on S3 or on a local disk (exit 2 either way)."""
    if is_s3(source) and is_s3(destination):
        same = S3Uri.parse(source) == S3Uri.parse(destination)
    else:
        same = not is_s3(source) and not is_s3(destination) and (
            os.path.realpath(source) == os.path.realpath(destination))
    if same:
        raise ConfigError(f"output {destination} would overwrite its own input")
    if is_s3(destination):
        try:
            check_output(S3Uri.parse(destination), settings.prefixes)
        except PermanentError as exc:
            raise ConfigError(str(exc)) from None


def _progress() -> Callable[[int, float | None], None]:
    """A progress bar on a terminal (bytes read of the input), nothing otherwise."""
    if not sys.stderr.isatty():
        return lambda rows, done: None

    def show(rows: int, done: float | None) -> None:
        bar = "" if done is None else f"[{'#' * int(done * 30):<30}] {done:4.0%}  "
        print(f"\r  {bar}{rows:,} rows scored", end="", file=sys.stderr, flush=True)

    return show
