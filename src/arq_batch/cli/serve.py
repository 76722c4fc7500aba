"""Real-time commands: ``serve`` the endpoint, and the ``endpoint`` create/invoke/delete cycle."""

from __future__ import annotations

import argparse
import json

from arq_batch import wiring
from arq_batch.cli.common import Commands, Result, add_command
from arq_batch.cli.job_flags import MODEL_HELP
from arq_batch.kernel.errors import ConfigError
from arq_batch.kernel.settings import Settings


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    """Add ``serve`` and ``endpoint``."""
    serve = add_command(commands, common, "serve", cmd_serve,
                        "run the real-time endpoint (SageMaker inference contract)",
                        "GET /ping, POST /invocations and POST /endpoints/NAME/invocations, so\n"
                        "boto3's sagemaker-runtime client works against it. Runs until SIGTERM.")
    serve.add_argument("--model", metavar="URI", help=MODEL_HELP)
    serve.add_argument("--host", help="address to listen on (default: serve.host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: serve.port, 8080)")
    endpoint = add_command(commands, common, "endpoint", cmd_endpoint,
                           "create, invoke or delete a background endpoint",
                           "The SageMaker notebook's endpoint lifecycle on this machine.")
    endpoint.add_argument("action", choices=("create", "invoke", "delete"),
                          help="create: start 'serve' in the background; invoke: send one "
                               "request; delete: stop it")
    endpoint.add_argument("--name", default="arq-batch",
                          help="the endpoint's name (default: arq-batch)")
    endpoint.add_argument("--model", metavar="URI", help="create: " + MODEL_HELP)
    endpoint.add_argument("--port", type=int, help="create: the port (default: a free one)")
    endpoint.add_argument("--body", help="invoke: the request body, e.g. one CSV row")
    endpoint.add_argument("--content-type", default="text/csv",
                          help="invoke: the body's media type (default: text/csv)")


def cmd_serve(args: argparse.Namespace, settings: Settings) -> Result:
    """Load the model once, then serve it until stopped."""
    from arq_batch.models.store import open_model
    from arq_batch.serving.app import serve  # the web stack is the endpoint's alone

    model = open_model(wiring.model_store(settings), args.model)
    host, port = args.host or settings.serve.host, args.port or settings.serve.port
    serve(model, settings.serve, host, port)
    return {"stopped": True, "run_id": model.card.run_id}, "endpoint stopped"


def cmd_endpoint(args: argparse.Namespace, settings: Settings) -> Result:
    """The SageMaker-notebook lifecycle: create, invoke once, delete."""
    from arq_batch.serving import lifecycle

    if args.action == "create":
        created = lifecycle.create(args.name, args.model, args.port)
        return vars(created), f"endpoint {created.name} up at {created.url} (pid {created.pid})"
    if args.action == "delete":
        lifecycle.delete(args.name)
        return {"deleted": args.name}, f"endpoint {args.name} deleted"
    if not args.body:
        raise ConfigError("endpoint invoke needs --body")
    answer = lifecycle.invoke(lifecycle.find(args.name), args.body.encode(), args.content_type)
    return json.loads(answer), answer.decode()
