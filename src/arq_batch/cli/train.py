"""``arq-batch train``: raw CSV in, a published model out."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from arq_batch import wiring
from arq_batch.cli.common import Commands, Result, add_command
from arq_batch.kernel.errors import ConfigError, ModelError
from arq_batch.kernel.settings import Settings
from arq_batch.training.options import SearchOptions, check_ranges

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
    _search_options(train)
    train.add_argument("--promote", default="if-better", choices=("if-better", "always", "never"),
                       help="move latest.json to the new run: only if its test metric is not "
                            "worse than the current model's (if-better, the default), "
                            "always, or never")
    train.add_argument("--report", metavar="PATH",
                       help="also write report.html to this local path")


def _search_options(train: argparse.ArgumentParser) -> None:
    """Linear Learner's search hyperparameters, by the same names (docs/training.md)."""
    group = train.add_argument_group("model search (as Linear Learner's hyperparameters)")
    group.add_argument("--num-models", type=int, default=16, metavar="N",
                       help="candidates fitted in parallel; the best on validation wins "
                            "(default: 16)")
    group.add_argument("--loss", default="auto",
                       choices=("auto", "squared", "absolute", "huber", "quantile", "logistic",
                                "hinge", "softmax"),
                       help="regressor: squared, absolute, huber, quantile; binary: logistic, "
                            "hinge; multiclass: softmax (default: the first of these)")
    group.add_argument("--quantile", type=float, default=0.5,
                       help="with --loss quantile: the quantile to predict, in (0, 1)")
    group.add_argument("--selection-criterion", default="auto", metavar="CRITERION",
                       help="regressor: rmse, mae; binary: accuracy, f_beta, "
                            "precision_at_target_recall, recall_at_target_precision, loss; "
                            "multiclass: accuracy, f1_macro, loss (default: rmse / accuracy)")
    group.add_argument("--beta", type=float, default=1.0, help="for f_beta (default: 1)")
    group.add_argument("--target-recall", type=float, default=0.8,
                       help="for precision_at_target_recall (default: 0.8)")
    group.add_argument("--target-precision", type=float, default=0.8,
                       help="for recall_at_target_precision (default: 0.8)")
    group.add_argument("--positive-example-weight-mult", default="1", metavar="W",
                       help="binary: weight of positive examples, a number or 'balanced'")
    group.add_argument("--balance-multiclass-weights", action="store_true",
                       help="multiclass: weight classes by inverse frequency")
    group.add_argument("--epochs", type=int, default=15,
                       help="streaming: passes over the data at most (default: 15)")
    group.add_argument("--early-stopping-patience", type=int, default=3, metavar="EPOCHS",
                       help="streaming: stop a candidate after this many epochs without "
                            "improvement (default: 3)")
    group.add_argument("--early-stopping-tolerance", type=float, default=0.001,
                       metavar="RELATIVE", help="streaming: the improvement that counts "
                                                "(default: 0.001)")
    group.add_argument("--solver", default="auto", choices=("auto", "exact", "streaming"),
                       help="exact solvers in memory, or streaming mini-batches; auto: "
                            "streaming above training.exact_max_bytes (default: auto)")


def cmd_train(args: argparse.Namespace, settings: Settings) -> Result:
    """Run the training pipeline."""
    from arq_batch.aws.clients import caller
    from arq_batch.worker import lean

    # Streaming training frees and reallocates big buffers batch after batch, as the
    # worker does: the same allocator choices keep its RSS flat.
    lean.give_freed_memory_back()

    try:
        from arq_batch.training.pipeline import TrainRequest, train
    except ModuleNotFoundError as exc:  # a worker-only install (the default image)
        raise ConfigError(f"training needs the 'train' extra ({exc.name} is not installed): "
                          "pip install 'arq-batch[train]'") from exc
    options = search_options(args)
    if args.report and not Path(args.report).resolve().parent.is_dir():
        raise ConfigError(f"--report {args.report}: its folder does not exist")
    if args.predictor_type != "auto":
        options.checked(args.predictor_type)  # refuse a misfit before reading any data
    store = wiring.object_store(settings)
    request = TrainRequest(args.data, args.target, args.predictor_type, args.test_size,
                           args.seed, options, args.promote, args.report,
                           caller(getpass.getuser()))
    say = (lambda text: print(f"  {text}", file=sys.stderr)) if sys.stderr.isatty() else None
    result = train(request, store, settings, say or (lambda text: None),
                   current=lambda: _current(store, settings))
    metrics = ", ".join(f"{k}={v}" for k, v in result.metrics.items())
    chosen = result.selection
    return result.to_dict(), (
        f"trained {result.predictor_type} run {result.run_id} ({result.rows_train} train / "
        f"{result.rows_validation} validation / {result.rows_test} test rows, "
        f"{result.solver} solver)\n"
        f"  search: candidate {chosen['winner']} of {chosen['candidates']} won on validation "
        f"{chosen['criterion']} ({chosen['validation_metric']:.6g})\n"
        f"  metrics: {metrics}\n  model: {result.model_uri}\n  report: {result.report_uri}\n"
        f"  {'promoted' if result.promoted else 'NOT promoted'}: {result.promotion}")


def search_options(args: argparse.Namespace) -> SearchOptions:
    """The search flags as one checked value; ConfigError (exit 2) for bad ones."""
    options = SearchOptions(
        args.num_models, args.loss, args.quantile, args.selection_criterion, args.beta,
        args.target_recall, args.target_precision, args.positive_example_weight_mult,
        args.balance_multiclass_weights, args.epochs, args.early_stopping_patience,
        args.early_stopping_tolerance, args.solver)
    check_ranges(options)
    return options


def _current(store: Any, settings: Settings) -> Any:
    """The model latest.json points to, verified, or None before the first one."""

    registry = wiring.model_store(settings, store)
    try:
        return registry.get() if registry.latest_run_id() else None
    except ModelError as exc:  # a broken current model must not block a good new one
        print(f"arq-batch: the current model cannot be loaded ({exc}); not comparing",
              file=sys.stderr)
        return None
