"""The ``train`` options, parsed once and checked against the predictor type, and the
candidate hyperparameters of the model search.

Names follow SageMaker Linear Learner's hyperparameters where one exists (``loss``,
``num_models``, ``binary_classifier_model_selection_criteria``, ``target_recall``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from arq_batch.kernel.errors import ConfigError

LOSSES = {"regressor": ("squared", "absolute", "huber", "quantile"),
          "binary_classifier": ("logistic", "hinge"),
          "multiclass_classifier": ("softmax",)}
CRITERIA = {"regressor": ("rmse", "mae"),
            "binary_classifier": ("accuracy", "f_beta", "precision_at_target_recall",
                                  "recall_at_target_precision", "loss"),
            "multiclass_classifier": ("accuracy", "f1_macro", "loss")}
# Lower is better for these; every other criterion is maximised.
MINIMISED = frozenset({"rmse", "mae", "loss"})
SOLVERS = ("auto", "exact", "streaming")


@dataclass(frozen=True)
class SearchOptions:
    """How to search: what ``train`` was asked for beyond the data and the target."""

    num_models: int = 16
    loss: str = "auto"
    quantile: float = 0.5
    selection_criterion: str = "auto"
    beta: float = 1.0
    target_recall: float = 0.8
    target_precision: float = 0.8
    positive_example_weight_mult: str = "1"  # a number or "balanced"
    balance_multiclass_weights: bool = False
    epochs: int = 15
    early_stopping_patience: int = 3
    early_stopping_tolerance: float = 0.001
    solver: str = "auto"

    def checked(self, predictor: str) -> SearchOptions:
        """The options with ``auto`` resolved; ConfigError for ones the predictor can't use."""
        loss = LOSSES[predictor][0] if self.loss == "auto" else self.loss
        criterion = ("rmse" if predictor == "regressor" else "accuracy") \
            if self.selection_criterion == "auto" else self.selection_criterion
        if loss not in LOSSES[predictor]:
            raise ConfigError(f"--loss {loss} does not fit a {predictor} "
                              f"(choose from {', '.join(LOSSES[predictor])})")
        if criterion not in CRITERIA[predictor]:
            raise ConfigError(f"--selection-criterion {criterion} does not fit a {predictor} "
                              f"(choose from {', '.join(CRITERIA[predictor])})")
        if self.positive_example_weight_mult != "1" and predictor != "binary_classifier":
            raise ConfigError("--positive-example-weight-mult applies to binary classifiers only")
        if self.balance_multiclass_weights and predictor != "multiclass_classifier":
            raise ConfigError("--balance-multiclass-weights applies to multiclass classifiers "
                              "only")
        return replace(self, loss=loss, selection_criterion=criterion)


def check_ranges(options: SearchOptions) -> None:
    """Values that are wrong whatever the predictor: one clear ConfigError each."""
    checks = (
        (1 <= options.num_models <= 256, "--num-models must be between 1 and 256"),
        (0 < options.quantile < 1, "--quantile must be in (0, 1)"),
        (options.beta > 0, "--beta must be greater than 0"),
        (0 < options.target_recall <= 1, "--target-recall must be in (0, 1]"),
        (0 < options.target_precision <= 1, "--target-precision must be in (0, 1]"),
        (options.epochs >= 1, "--epochs must be at least 1"),
        (options.early_stopping_patience >= 1, "--early-stopping-patience must be at least 1"),
        (options.early_stopping_tolerance >= 0, "--early-stopping-tolerance must be >= 0"),
        (options.solver in SOLVERS, f"--solver must be one of {', '.join(SOLVERS)}"),
    )
    for holds, message in checks:
        if not holds:
            raise ConfigError(message)
    weight = options.positive_example_weight_mult
    if weight != "balanced":
        try:
            if not float(weight) > 0:
                raise ValueError(weight)
        except ValueError:
            raise ConfigError("--positive-example-weight-mult must be a number > 0 or "
                              "'balanced'") from None


@dataclass(frozen=True)
class Candidate:
    """One model of the search: a regularisation strength, an L1 share and a step size.

    ``alpha`` is scikit-learn's per-sample penalty (``SGDRegressor``'s convention), so one
    value means the same on every solver; ``learning_rate`` only matters when streaming.
    """

    index: int
    alpha: float
    l1_ratio: float
    learning_rate: float
    hyperparameters: dict[str, float] = field(default_factory=dict, compare=False)


def candidates(count: int, n_train: int, seed: int) -> tuple[Candidate, ...]:
    """Candidate 0 is the single default model; the rest are a seeded random search.

    The default is what ``train`` fitted before the search existed (``Ridge(alpha=1)`` /
    ``LogisticRegression(C=1)``: a penalty of 1 over the training rows), so the search
    can only match or beat it on validation.
    """
    rng = np.random.default_rng(seed)
    default = (1.0 / max(n_train, 1), 0.0, 0.01)
    drawn = [(float(10 ** rng.uniform(-7, -1)), float(rng.choice([0.0, 0.0, 0.15, 0.5, 1.0])),
              float(10 ** rng.uniform(-3, -1))) for _ in range(count - 1)]
    return tuple(Candidate(i, a, l1, lr, {"alpha": a, "l1_ratio": l1, "learning_rate": lr})
                 for i, (a, l1, lr) in enumerate([default, *drawn]))

