"""The flags a job takes wherever one is made (``send``, ``score``): its model, budget
and Batch Transform options, parsed once into what a job message carries."""

from __future__ import annotations

import argparse

from arq_batch.engine.options import OPTION_NAMES, JobOptions, parse_options
from arq_batch.kernel.errors import ConfigError

MODEL_HELP = "a model run folder (s3://BUCKET/model/output/RUN_ID/) or, for score, a local " \
             "run folder (default: the run latest.json points to)"


def add_budget(command: argparse.ArgumentParser, where: str = "") -> None:
    command.add_argument("--max-bad-rows", type=row_count, metavar="N",
                         help="score the file if at most N rows are bad, setting them aside "
                              f"in a quarantine file{where} (default: worker.max_bad_rows "
                              "in the config, itself 0: one bad row fails the file)")


def byte_count(text: str) -> int:
    """A byte count for --split-bytes: a whole number >= 0."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number of bytes >= 0, got {text!r}")
    return int(text)


def row_count(text: str) -> int:
    """A row count for --max-bad-rows: a whole number >= 0."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text!r}")
    return int(text)


def job_options(args: argparse.Namespace) -> JobOptions:
    """The job options given as flags; ConfigError (exit 2) for a bad one."""
    try:
        return parse_options({name: getattr(args, name, None) for name in OPTION_NAMES})
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def add_job_options(command: argparse.ArgumentParser) -> None:
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
