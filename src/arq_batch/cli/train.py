"""``arq-batch train``: raw CSV in, a published model out."""

from __future__ import annotations

import argparse
import sys

from arq_batch.cli.common import Commands, Result, add_command
from arq_batch.core.errors import ConfigError
from arq_batch.core.settings import Settings

PREDICTOR_TYPES = ("auto", "regressor", "binary_classifier", "multiclass_classifier")


def register(commands: Commands, common: argparse.ArgumentParser) -> None:
    """Add ``train`` and its options."""
    train = add_command(
        commands, common, "train", cmd_train, "train a linear model from a raw CSV",
        "Upload the raw CSV to data/raw/, clean it, split it, write Linear Learner's\n"
        "training format to data/train/ and data/test/, fit, evaluate on the test split\n"
        "and publish the model under model/output/<run_id>/ (then latest.json).")
    train.add_argument("--data", required=True, metavar="SRC",
                       help="the raw CSV with a header: a local path or an s3:// URI")
    train.add_argument("--target", required=True, metavar="COLUMN",
                       help="the column to predict")
    train.add_argument("--predictor-type", default="auto", choices=PREDICTOR_TYPES,
                       help="what to fit; auto picks from the target: numeric with many "
                            "values -> regressor, two values -> binary, else multiclass "
                            "(default: auto)")
    train.add_argument("--test-size", type=float, default=0.2, metavar="FRACTION",
                       help="share of rows held out for the test metrics (default: 0.2)")
    train.add_argument("--seed", type=int, default=0,
                       help="random seed of the split and the fit, for reproducible runs "
                            "(default: 0)")


def cmd_train(args: argparse.Namespace, settings: Settings) -> Result:
    """Run the training pipeline."""
    from arq_batch.aws.s3 import S3Store

    try:
        from arq_batch.training.pipeline import TrainRequest, train
    except ModuleNotFoundError as exc:  # a worker-only install (the default image)
        raise ConfigError(f"training needs the 'train' extra ({exc.name} is not installed): "
                          "pip install 'arq-batch[train]'") from exc
    request = TrainRequest(args.data, args.target, args.predictor_type, args.test_size, args.seed)
    say = (lambda text: print(f"  {text}", file=sys.stderr)) if sys.stderr.isatty() else None
    result = train(request, S3Store.of(settings), settings, say or (lambda text: None))
    metrics = ", ".join(f"{k}={v}" for k, v in result.metrics.items())
    return result.to_dict(), (f"trained {result.predictor_type} run {result.run_id} "
                              f"({result.rows_train} train / {result.rows_test} test rows)\n"
                              f"  metrics: {metrics}\n  model: {result.model_uri}")
