"""Batch commands: ``send`` a job, run the ``worker``, ``score`` one file, the ``dlq``."""

from __future__ import annotations

import argparse
import uuid

from arq_batch import wiring
from arq_batch.cli import score
from arq_batch.cli.common import Commands, Result, add_command
from arq_batch.cli.job_flags import (
    MODEL_HELP,
    add_budget,
    add_job_options,
    byte_count,
    job_options,
)
from arq_batch.engine.messages import Job, check_request, model_folder, parse_job_uri
from arq_batch.kernel.errors import ConfigError, PermanentError
from arq_batch.kernel.settings import Settings
from arq_batch.kernel.uris import S3Uri


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
    score.register(commands, common)
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
    send.add_argument("--split-bytes", type=byte_count, metavar="N",
                      help="split the input into parts of about N bytes scored by many "
                           "workers (CSV, JSON Lines, Parquet; default: worker.split_bytes "
                           "in the config; 0: never)")
    add_budget(send)
    add_job_options(send)


def cmd_send(args: argparse.Namespace, settings: Settings) -> Result:
    """Enqueue one job message."""

    try:  # a request the worker would refuse is bad usage here: exit 2 before sending
        job = Job(uuid.uuid4().hex, parse_job_uri(args.input_uri, "input"),
                  parse_job_uri(args.output, "output") if args.output else None,
                  model_folder(S3Uri.parse(args.model)) if args.model else None,
                  job_options(args), split_bytes=args.split_bytes,
                  max_bad_rows=args.max_bad_rows)
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
