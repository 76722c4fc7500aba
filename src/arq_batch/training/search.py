"""The model search's bookkeeping, shared by both solvers: class weights, judging a
candidate on validation, and choosing (and explaining) the winner."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from arq_batch.training import selection
from arq_batch.training.linear import LinearModel
from arq_batch.training.options import MINIMISED, Candidate, SearchOptions


@dataclass(frozen=True)
class Trial:
    """One candidate's outcome on the validation split."""

    candidate: Candidate
    coef: np.ndarray  # (outputs, features)
    intercept: np.ndarray  # (outputs,)
    metric: float
    threshold: float
    fit_seconds: float
    best_epoch: int | None = None
    curve: dict[str, list[float]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The candidate's row in model.json."""
        row: dict[str, Any] = {"candidate": self.candidate.index,
                               **self.candidate.hyperparameters,
                               "validation_metric": _finite(self.metric),
                               "threshold": round(self.threshold, 12),
                               "fit_seconds": round(self.fit_seconds, 4)}
        if self.best_epoch is not None:
            row["best_epoch"] = self.best_epoch
        return row


@dataclass(frozen=True)
class SearchResult:
    """Every trial, the winner and why it won."""

    solver: str
    trials: tuple[Trial, ...]
    winner: int
    reason: str

    @property
    def best(self) -> Trial:
        """The winning trial."""
        return self.trials[self.winner]

    def model(self, predictor: str, classes: tuple[Any, ...]) -> LinearModel:
        """The winner as the pipeline's final estimator."""
        best = self.best
        return LinearModel(predictor, best.coef, best.intercept, classes, best.threshold)

    def to_card(self, options: SearchOptions) -> dict[str, Any]:
        """The ``search`` section of model.json."""
        return {"solver": self.solver, "winner": self.winner, "reason": self.reason,
                "options": asdict(options),
                "candidates": [trial.summary() for trial in self.trials]}


def class_weights(y: np.ndarray, predictor: str, options: SearchOptions) -> np.ndarray | None:
    """Per-class weights (index = encoded class), or None for unweighted."""
    if predictor == "binary_classifier" and options.positive_example_weight_mult != "1":
        mult = options.positive_example_weight_mult
        positives = max(float(np.sum(y == 1)), 1.0)
        weight = (len(y) - positives) / positives if mult == "balanced" else float(mult)
        return np.array([1.0, weight])
    if predictor == "multiclass_classifier" and options.balance_multiclass_weights:
        counts = np.bincount(y.astype(np.intp))
        return len(y) / (len(counts) * np.maximum(counts, 1))
    return None


def judge(candidate: Candidate, coef: np.ndarray, intercept: np.ndarray, x_val: np.ndarray,
          y_val: np.ndarray, options: SearchOptions, seconds: float, **extra: Any) -> Trial:
    """Score one fitted candidate on validation (tuning its threshold first if binary)."""
    z = x_val @ coef.T + intercept
    threshold = selection.tune_threshold(options, y_val, z[:, 0]) \
        if options.loss in ("logistic", "hinge") else 0.0
    value = selection.metric(options, y_val, z, threshold)
    return Trial(candidate, coef, intercept, value, threshold, seconds, **extra)


def choose(solver: str, trials: list[Trial], options: SearchOptions) -> SearchResult:
    """The best trial by the criterion; among equals the lowest index (the default first)."""
    criterion = options.selection_criterion
    usable = [t for t in trials if np.isfinite(t.metric)]
    if not usable:
        raise ValueError("no candidate produced a finite validation metric")
    winner = usable[0]
    for trial in usable[1:]:
        if selection.better(criterion, trial.metric, winner.metric):
            winner = trial
    others = sorted((t for t in usable if t is not winner), key=lambda t: t.metric,
                    reverse=criterion not in MINIMISED)
    reason = (f"best validation {criterion} of {len(trials)} candidates: "
              f"{winner.metric:.6g}")
    if others:
        reason += f" (runner-up: candidate {others[0].candidate.index} at {others[0].metric:.6g})"
    return SearchResult(solver, tuple(trials), trials.index(winner), reason)


def _finite(value: float) -> float | None:
    return round(value, 9) if np.isfinite(value) else None
