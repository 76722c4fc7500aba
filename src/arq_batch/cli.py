"""The ``arq-batch`` command line: argument parsing and wiring, nothing more."""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from arq_batch import __version__, dlq
from arq_batch.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, ArqError, ConfigError
from arq_batch.logs import setup_logging
from arq_batch.messages import Job, model_folder
from arq_batch.settings import Settings, load_settings
from arq_batch.uris import S3Uri

# Commands import their modules lazily: `send` or `dlq list` should not pay for loading
# scikit-learn, pandas and pyarrow, which dominate start-up time.
Result = tuple[dict[str, Any], str]  # (the --json object, the human summary)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, load settings, run one command; map errors to exit codes 1 and 2."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        setup_logging(settings.log)
        data, human = args.handler(args, settings)
    except ConfigError as exc:
        print(f"arq-batch: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ArqError as exc:
        print(f"arq-batch: {args.command} failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(data, default=str) if args.json else human)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The command tree of contract section 3."""
    parser = argparse.ArgumentParser(prog="arq-batch", description=__doc__)
    parser.add_argument("--version", action="version", version=f"arq-batch {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON object instead")

    def add(name: str, handler: Callable[..., Result], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[common], help=help_text)
        sub.set_defaults(handler=handler)
        return sub

    add("provision", cmd_provision, "create the bucket, queues and notification")
    train = add("train", cmd_train, "train a linear model from a raw CSV")
    train.add_argument("--data", required=True, help="local path or s3:// URI of a raw CSV")
    train.add_argument("--target", required=True, help="the column to predict")
    train.add_argument("--predictor-type", default="auto", choices=(
        "auto", "regressor", "binary_classifier", "multiclass_classifier"))
    train.add_argument("--test-size", type=float, default=0.2)
    train.add_argument("--seed", type=int, default=0)
    send = add("send", cmd_send, "enqueue one job")
    send.add_argument("input_uri")
    send.add_argument("--output")
    send.add_argument("--model")
    worker = add("worker", cmd_worker, "run the batch scoring worker")
    worker.add_argument("--once", action="store_true", help="exit when the queue is empty")
    worker.add_argument("--concurrency", type=int, help="jobs at once (default from config)")
    score = add("score", cmd_score, "score one file directly")
    score.add_argument("--input", required=True)
    score.add_argument("--output", required=True)
    score.add_argument("--model")
    serve = add("serve", cmd_serve, "the real-time endpoint (SageMaker inference contract)")
    serve.add_argument("--model")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    endpoint = add("endpoint", cmd_endpoint, "create, invoke or delete a background endpoint")
    endpoint.add_argument("action", choices=("create", "invoke", "delete"))
    endpoint.add_argument("--name", default="arq-batch")
    endpoint.add_argument("--model")
    endpoint.add_argument("--port", type=int)
    endpoint.add_argument("--body", help="invoke: the request body (default: one CSV row)")
    endpoint.add_argument("--content-type", default="text/csv")
    dlq_parser = add("dlq", cmd_dlq, "inspect or redrive the dead-letter queue")
    dlq_parser.add_argument("action", choices=("list", "redrive"))
    add("demo", cmd_demo, "the whole pipeline on an embedded AWS emulator")
    add("health", cmd_health, "exit 0 if this container's worker or endpoint is healthy")
    return parser


def cmd_serve(args: argparse.Namespace, settings: Settings) -> Result:
    """Serve the model over HTTP until stopped."""
    from arq_batch import serving  # the web stack is the endpoint's alone

    return serving.cmd_serve(args, settings)


def cmd_provision(args: argparse.Namespace, settings: Settings) -> Result:
    """Create or confirm the infrastructure."""
    from arq_batch.provision import provision

    changes = provision(settings)
    data = {"bucket": settings.bucket, "queue": settings.queue, "dlq": settings.dlq_name,
            "changes": changes}
    human = "\n".join(changes) if changes else "everything already in place"
    return data, human


def cmd_train(args: argparse.Namespace, settings: Settings) -> Result:
    """Run the training pipeline."""
    from arq_batch.s3 import S3Store

    try:
        from arq_batch.training import TrainRequest, train
    except ModuleNotFoundError as exc:  # a worker-only install (the default image)
        raise ConfigError(f"training needs the 'train' extra ({exc.name} is not installed): "
                          "pip install 'arq-batch[train]'") from exc
    request = TrainRequest(args.data, args.target, args.predictor_type, args.test_size, args.seed)
    say = (lambda text: print(f"  {text}", file=sys.stderr)) if sys.stderr.isatty() else None
    result = train(request, S3Store(settings.encryption), settings, say or (lambda text: None))
    metrics = ", ".join(f"{k}={v}" for k, v in result.metrics.items())
    return result.to_dict(), (f"trained {result.predictor_type} run {result.run_id} "
                              f"({result.rows_train} train / {result.rows_test} test rows)\n"
                              f"  metrics: {metrics}\n  model: {result.model_uri}")


def cmd_send(args: argparse.Namespace, settings: Settings) -> Result:
    """Enqueue one job message."""
    from arq_batch.messages import parse_job_uri
    from arq_batch.sqs import SqsQueue

    job = Job(uuid.uuid4().hex, parse_job_uri(args.input_uri, "input"),
              parse_job_uri(args.output, "output") if args.output else None,
              model_folder(S3Uri.parse(args.model)) if args.model else None)
    message_id = SqsQueue(settings.queue).send(job.to_body())
    return {"message_id": message_id, "job": job.to_dict()}, f"sent job {job.job_id} ({message_id})"


def cmd_worker(args: argparse.Namespace, settings: Settings) -> Result:
    """Run the worker until the queue is dry or a signal arrives."""
    from arq_batch.main import run_worker

    worker = run_worker(settings, args.concurrency, args.once)
    outcomes = dict(worker.outcomes)
    return {"outcomes": outcomes}, "worker stopped: " + (
        ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items())) or "no messages")


def cmd_score(args: argparse.Namespace, settings: Settings) -> Result:
    """Score one file with the worker's engine."""
    from arq_batch.jobs import score_file
    from arq_batch.registry import ModelRegistry, open_model
    from arq_batch.s3 import S3Store

    store = S3Store(settings.encryption, settings.worker.part_size_mb * 1024 * 1024)
    model = open_model(ModelRegistry(store, settings), args.model)
    started = time.monotonic()
    rows = score_file(args.input, args.output, model, store, settings, _progress())
    seconds = time.monotonic() - started
    if sys.stderr.isatty():
        print(file=sys.stderr)  # end the progress line
    data = {"input": args.input, "output": args.output, "rows": rows,
            "seconds": round(seconds, 3), "run_id": model.card.run_id}
    return data, f"scored {rows} rows in {seconds:.2f} s -> {args.output}"


def _progress() -> Callable[[int, float | None], None]:
    """A progress bar on a terminal (bytes read of the input), nothing otherwise."""
    if not sys.stderr.isatty():
        return lambda rows, done: None

    def show(rows: int, done: float | None) -> None:
        bar = "" if done is None else f"[{'#' * int(done * 30):<30}] {done:4.0%}  "
        print(f"\r  {bar}{rows:,} rows scored", end="", file=sys.stderr, flush=True)

    return show


def cmd_endpoint(args: argparse.Namespace, settings: Settings) -> Result:
    """The SageMaker-notebook lifecycle: create, invoke once, delete."""
    from arq_batch import endpoint

    if args.action == "create":
        created = endpoint.create(args.name, args.model, args.port)
        return vars(created), f"endpoint {created.name} up at {created.url} (pid {created.pid})"
    if args.action == "delete":
        endpoint.delete(args.name)
        return {"deleted": args.name}, f"endpoint {args.name} deleted"
    if not args.body:
        raise ConfigError("endpoint invoke needs --body")
    answer = endpoint.invoke(endpoint.find(args.name), args.body.encode(), args.content_type)
    return json.loads(answer), answer.decode()


def cmd_dlq(args: argparse.Namespace, settings: Settings) -> Result:
    """List or redrive dead-lettered jobs."""
    from arq_batch.sqs import SqsQueue

    queue = SqsQueue(settings.queue, settings.dlq_name)
    if args.action == "redrive":
        moved = dlq.redrive(queue)
        return {"redriven": moved}, f"moved {moved} message(s) back to {settings.queue}"
    letters = dlq.list_dead_letters(queue)
    data = {"messages": [vars(letter) for letter in letters]}
    lines = [f"{d.message_id}  {d.error}" for d in letters] or ["the dead-letter queue is empty"]
    return data, "\n".join(lines)


def cmd_health(args: argparse.Namespace, settings: Settings) -> Result:
    """The container HEALTHCHECK."""
    from arq_batch.health import healthy

    ok, why = healthy(settings)
    if not ok:
        raise ArqError(f"unhealthy: {why}")
    return {"healthy": True, "detail": why}, f"healthy: {why}"


def cmd_demo(args: argparse.Namespace, settings: Settings) -> Result:
    """The end-to-end demo on an embedded emulator."""
    from arq_batch.demo import run_demo

    return run_demo(settings, verbose=not args.json)
