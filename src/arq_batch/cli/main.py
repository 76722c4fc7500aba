"""The ``arq-batch`` entry point: build the command tree, run one command, map errors to
exit codes (0 success, 1 failed operation, 2 bad usage or configuration)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import NoReturn

from arq_batch import __version__
from arq_batch.cli import (
    batch,
    console,
    demo,
    infra,
    models,
    monitor,
    query,
    serve,
    train,
    transform,
)
from arq_batch.kernel.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, ArqError, ConfigError
from arq_batch.kernel.logs import setup_logging
from arq_batch.kernel.settings import load_settings

DESCRIPTION = """\
Train linear models the way SageMaker Linear Learner does, and score files on S3 with a
fleet of SQS workers, on AWS or on a laptop against an embedded emulator.

Configuration: config/config.yaml (or ARQ_BATCH_CONFIG), ARQ_BATCH_BUCKET, ARQ_BATCH_QUEUE,
ARQ_BATCH_DLQ; AWS access through boto3's standard chain (AWS_ENDPOINT_URL, profiles, roles).
"""
EPILOG = "Run 'arq-batch COMMAND --help' for a command's options."
# Command groups, in the order their commands are listed; each registers its own commands
# and imports the heavy parts lazily, so `send` or `dlq list` never load scikit-learn.
GROUPS = (infra, train, models, batch, transform, query, monitor, serve, console, demo)


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


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (exit 2): the usage is one ``--help`` away.
    Sub-command parsers are made of the same class, so every command says it this way."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The command tree of contract section 3, one group module at a time."""
    parser = _Parser(prog="arq-batch", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"arq-batch {__version__}",
                        help="print the version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     title="commands")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true",
                        help="print exactly one JSON object on stdout instead of a summary")
    for group in GROUPS:
        group.register(commands, common)
    return parser
