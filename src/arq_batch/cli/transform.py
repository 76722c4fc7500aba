"""``arq-batch transform``: SageMaker Batch Transform job definitions, run by our fleet."""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arq_batch import wiring
from arq_batch.cli.common import Commands, Result, add_command
from arq_batch.kernel.errors import ArqError, ConfigError, PoisonMessage
from arq_batch.kernel.settings import Settings

if TYPE_CHECKING:
    from arq_batch.feeders.transforms import Progress, Transforms

logger = logging.getLogger(__name__)
POLL_SECONDS = 2.0


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    """Add ``transform``."""
    transform = add_command(
        commands, common, "transform", cmd_transform,
        "run a SageMaker CreateTransformJob request on the worker fleet",
        "Take a CreateTransformJob request body as SageMaker documents it and enqueue one\n"
        "job per input object (S3Prefix or ManifestFile); outputs go where Batch Transform\n"
        "puts them, <S3OutputPath>/<relative key>.out. docs/sagemaker.md maps each field.")
    action = transform.add_mutually_exclusive_group(required=True)
    action.add_argument("--request", metavar="JOB.json",
                        help="the request body (a local file, as for aws sagemaker "
                             "create-transform-job --cli-input-json)")
    action.add_argument("--describe", metavar="NAME",
                        help="answer like DescribeTransformJob: status and counts")
    transform.add_argument("--wait", action="store_true",
                           help="with --request: follow the job to its end, print a summary "
                                "(exit 1 if it failed)")


def cmd_transform(args: argparse.Namespace, settings: Settings) -> Result:
    """Submit (and perhaps follow) a transform job, or describe one."""
    transforms = _transforms(settings)
    if args.describe:
        progress = transforms.describe(args.describe)
        return progress.to_dict(), _summary(progress)
    from arq_batch.engine.transform_requests import parse_request

    body = _load(args.request)
    try:
        request = parse_request(body)
    except (ValueError, PoisonMessage) as exc:
        raise ConfigError(f"{args.request}: {exc}") from None
    for warning in request.warnings:
        logger.warning(warning, extra={"event": "transform_field_ignored"})
    started = time.monotonic()
    record = transforms.submit(request, body)
    if not args.wait:
        count = len(record["jobs"])
        return ({"TransformJobName": request.name, "jobs": record["jobs"]},
                f"transform job {request.name}: {count} object(s) enqueued")
    progress = _follow(transforms, request.name)
    data = progress.to_dict() | {"Seconds": round(time.monotonic() - started, 3)}
    if progress.status == "Failed":
        raise ArqError(f"{_summary(progress)}: {progress.failure_reason}")
    return data, f"{_summary(progress)} in {data['Seconds']:.1f} s"


def _follow(transforms: Transforms, name: str) -> Progress:
    while True:
        progress = transforms.describe(name)
        if progress.status != "InProgress":
            return progress
        time.sleep(POLL_SECONDS)


def _summary(progress: Progress) -> str:
    return (f"{progress.name}: {progress.status} ({progress.total} object(s): "
            f"{progress.completed} completed, {progress.failed} failed; {progress.rows:,} rows)")


def _load(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"{path} is not JSON: {exc}") from None


def _transforms(settings: Settings) -> Transforms:
    from arq_batch.feeders.transforms import Transforms

    store = wiring.object_store(settings)
    return Transforms(store, wiring.job_queue(settings), wiring.model_store(settings, store),
                      settings)
