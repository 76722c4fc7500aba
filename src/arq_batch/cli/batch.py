"""Batch commands: ``send`` a job, run the ``worker``, ``score`` one file, the ``dlq``."""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Callable

from arq_batch import wiring
from arq_batch.cli.common import Commands, Result, add_command
from arq_batch.engine.messages import Job, check_request, model_folder, parse_job_uri
from arq_batch.engine.options import OPTION_NAMES, JobOptions, parse_options
from arq_batch.kernel.errors import ConfigError, PermanentError
from arq_batch.kernel.layout import check_output
from arq_batch.kernel.settings import Settings
from arq_batch.kernel.uris import S3Uri, is_s3

MODEL_HELP = "a model run folder (s3://BUCKET/model/output/RUN_ID/) or, for score, a local " \
             "run folder (default: the run latest.json points to)"


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    """Add ``send``, ``worker``, ``score`` and ``dlq``."""
    _add_send(commands, common)
    worker = add_command(commands, common, "worker", cmd_worker,
                         "run the batch scoring worker until stopped",
                         "Long-poll the queue and score each job's input into its output.\n"
                         "SIGTERM/SIGINT: finish in-flight jobs within the grace period, release\n"
                         "the rest, exit 0; a second signal exits at once.")
    worker.add_argument("--once", action="store_true",
                        help="exit 0 once a long poll finds the queue empty (a batch job)")
    worker.add_argument("--concurrency", type=int, metavar="N",
                        help="jobs to run at once (default: worker.concurrency in the config)")
    worker.add_argument("--metrics-port", type=int, metavar="N",
                        help="serve Prometheus metrics at http://HOST:N/metrics (default: "
                             "metrics.port in the config; 0 turns it off)")
    _add_score(commands, common)
    watch = add_command(commands, common, "watch", cmd_watch,
                        "enqueue new input objects (for stores that cannot notify SQS)",
                        "List data/input/ every --interval seconds and enqueue each new object\n"
                        "once, as the S3 notification would; the state is kept in the bucket\n"
                        "(data/watch/), so a restarted or second watcher repeats nothing.")
    watch.add_argument("--interval", type=float, default=10.0, metavar="SECONDS",
                       help="seconds between passes (default 10)")
    watch.add_argument("--once", action="store_true", help="one pass, then exit 0")
    dlq = add_command(commands, common, "dlq", cmd_dlq,
                      "show dead-lettered jobs, or move them back to the queue")
    dlq.add_argument("action", choices=("list", "redrive"),
                     help="list: every dead-lettered message with its error; redrive: send "
                          "them all back to the main queue")


def _add_send(commands: Commands, common: argparse.ArgumentParser) -> None:
    send = add_command(commands, common, "send", cmd_send, "enqueue one scoring job",
                       "Send one job message to the queue; a worker scores it. Uploading a file\n"
                       "under data/input/ does the same through the S3 notification.")
    send.add_argument("input_uri", metavar="INPUT_URI", help="the s3:// URI of the file to score")
    send.add_argument("--output", metavar="URI",
                      help="where to write the scored file (default: the input's key with "
                           "data/input/ replaced by data/output/)")
    send.add_argument("--model", metavar="URI", help=MODEL_HELP)
    send.add_argument("--split-bytes", type=_size, metavar="N",
                      help="split the input into parts of about N bytes scored by many "
                           "workers (CSV, JSON Lines, Parquet; default: worker.split_bytes "
                           "in the config; 0: never)")
    _add_job_options(send)


def _add_job_options(command: argparse.ArgumentParser) -> None:
    """Batch Transform's options (docs/sagemaker.md has each one's SageMaker name)."""
    group = command.add_argument_group("job options, as SageMaker Batch Transform has them")
    group.add_argument("--content-type", metavar="TYPE",
                       help="the input's format, whatever its name: text/csv, "
                            "application/jsonlines, application/x-parquet, "
                            "application/x-recordio-protobuf")
    group.add_argument("--accept", metavar="TYPE",
                       help="the output's format, one of the same (default: the input's)")
    group.add_argument("--input-filter", metavar="JSONPATH",
                       help="what the model reads: $[1:], $[0,2,-1] (CSV/Parquet column "
                            "positions), $.features, $['a','b'] (JSON fields)")
    group.add_argument("--output-filter", metavar="JSONPATH",
                       help="what the output keeps of the joined record, in the same forms")
    group.add_argument("--join-source", metavar="Input|None",
                       help="Input: input columns and predictions (default); None: "
                            "predictions only")
    group.add_argument("--compression", metavar="Gzip|Zstd|None",
                       help="compress the output (default: as the input is)")


def _size(text: str) -> int:
    """A byte count for --split-bytes: a whole number >= 0."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number of bytes >= 0, got {text!r}")
    return int(text)


def job_options(args: argparse.Namespace) -> JobOptions:
    """The job options given as flags; ConfigError (exit 2) for a bad one."""
    try:
        return parse_options({name: getattr(args, name, None) for name in OPTION_NAMES})
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _add_score(commands: Commands, common: argparse.ArgumentParser) -> None:
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
    _add_job_options(score)


def cmd_send(args: argparse.Namespace, settings: Settings) -> Result:
    """Enqueue one job message."""

    try:  # a request the worker would refuse is bad usage here: exit 2 before sending
        job = Job(uuid.uuid4().hex, parse_job_uri(args.input_uri, "input"),
                  parse_job_uri(args.output, "output") if args.output else None,
                  model_folder(S3Uri.parse(args.model)) if args.model else None,
                  job_options(args), split_bytes=args.split_bytes)
        check_request(job, settings.buckets, settings.prefixes)
    except PermanentError as exc:
        raise ConfigError(str(exc)) from None
    message_id = wiring.job_queue(settings).send(job.to_body())
    return {"message_id": message_id, "job": job.to_dict()}, f"sent job {job.job_id} ({message_id})"


def cmd_worker(args: argparse.Namespace, settings: Settings) -> Result:
    """Run the worker until the queue is dry or a signal arrives."""
    from arq_batch.worker import lean

    lean.keep_unused_libraries_out()  # first: pyarrow must not have imported pandas yet
    lean.give_freed_memory_back()
    from arq_batch.worker.main import run_worker

    worker = run_worker(settings, args.concurrency, args.once, args.metrics_port)
    outcomes = dict(worker.outcomes)
    return {"outcomes": outcomes}, "worker stopped: " + (
        ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items())) or "no messages")


def cmd_watch(args: argparse.Namespace, settings: Settings) -> Result:
    """Enqueue new objects until SIGTERM/SIGINT (or after one pass)."""
    import signal

    from arq_batch.feeders.watch import Watcher, watch

    if args.interval <= 0:
        raise ConfigError("--interval must be a positive number of seconds")
    stop: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, frame: stop.append(number))
    watcher = Watcher(wiring.object_store(settings), wiring.job_queue(settings), settings)
    passes = watch(watcher, args.interval, args.once, lambda: bool(stop))
    enqueued = [key for p in passes for key in p.enqueued]
    return ({"passes": len(passes), "enqueued": enqueued},
            f"{len(passes)} pass(es), {len(enqueued)} object(s) enqueued")


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
    rows = score_file(args.input, args.output, model, store, settings, _progress(),
                      job_options(args), monitor)
    seconds = time.monotonic() - started
    if sys.stderr.isatty():
        print(file=sys.stderr)  # end the progress line
    data = {"input": args.input, "output": args.output, "rows": rows,
            "seconds": round(seconds, 3), "run_id": model.card.run_id}
    text = f"scored {rows} rows in {seconds:.2f} s -> {args.output}"
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


def cmd_dlq(args: argparse.Namespace, settings: Settings) -> Result:
    """List or redrive dead-lettered jobs."""
    from arq_batch.feeders import dlq

    queue = wiring.job_queue(settings)
    if args.action == "redrive":
        moved = dlq.redrive(queue)
        return {"redriven": moved}, f"moved {moved} message(s) back to {settings.queue}"
    letters = dlq.list_dead_letters(queue)
    data = {"messages": [vars(letter) for letter in letters]}
    lines = [f"{d.message_id}  {d.error}" for d in letters] or ["the dead-letter queue is empty"]
    return data, "\n".join(lines)
