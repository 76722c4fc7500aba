"""The exact solvers for data that fits in memory: one scikit-learn fit per candidate,
all candidates at once.

Threads, each fit limited to one BLAS thread, as measured on 2 cores with 16 candidates:
penguins (344 rows) 0.16 s on threads, 2.5 s on loky processes (starting interpreters
dominates), 0.25 s serially; 200k rows x 78 features (binary) 20 s on threads with one
BLAS thread each, 28 s with BLAS's own threads (they oversubscribe the cores), 26 s on
processes, 42 s serially.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import replace
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import (
    ElasticNet,
    HuberRegressor,
    LogisticRegression,
    QuantileRegressor,
    Ridge,
)
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from arq_batch.training.options import Candidate, SearchOptions
from arq_batch.training.search import SearchResult, Trial, choose, judge


def estimator(candidate: Candidate, options: SearchOptions, rows: int,
              class_weight: dict[int, float] | None) -> Any:
    """The scikit-learn estimator for a candidate; ``alpha`` is a per-sample penalty."""
    alpha, l1 = candidate.alpha, candidate.l1_ratio
    c = 1.0 / (alpha * rows)
    loss = options.loss
    if loss == "squared":
        return Ridge(alpha=alpha * rows) if l1 == 0 else \
            ElasticNet(alpha=alpha, l1_ratio=l1, max_iter=5000)
    if loss in ("absolute", "quantile"):
        q = 0.5 if loss == "absolute" else options.quantile
        return QuantileRegressor(quantile=q, alpha=alpha, solver="highs")
    if loss == "huber":
        return HuberRegressor(alpha=alpha * rows, epsilon=1.35, max_iter=1000)
    if loss == "hinge":
        return LinearSVC(C=c, loss="hinge", class_weight=class_weight, max_iter=20000)
    if l1 > 0:  # saga is the solver for an L1 share; it converges slowly, so it is capped
        return LogisticRegression(C=c, l1_ratio=l1, solver="saga", max_iter=SAGA_EPOCHS,
                                  tol=1e-3, class_weight=class_weight)
    return LogisticRegression(C=c, solver="lbfgs", max_iter=1000, class_weight=class_weight)


SAGA_EPOCHS = 20  # measured on 200k rows: 4 s a candidate at 100 epochs (lbfgs: 0.8 s)
# The penalty each exact solver can take; the streaming trainer takes any L1/L2 mix.
ONLY_L1, ONLY_L2 = ("absolute", "quantile"), ("huber", "hinge")


def search(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
           candidates: tuple[Candidate, ...], options: SearchOptions,
           weights: np.ndarray | None) -> SearchResult:
    """Fit every candidate on train, judge each on validation, keep the best."""
    class_weight = None if weights is None else dict(enumerate(weights.tolist()))
    candidates = tuple(_as_fitted(candidate, options.loss) for candidate in candidates)
    # One BLAS thread per fit: the pool already fills the cores. Warning filters are
    # process-wide, so they are set here, around the pool, not in each thread.
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # capped iterations: by design
        fits = Parallel(n_jobs=-1, prefer="threads")(
            delayed(_fit)(candidate, options, x_train, y_train, class_weight)
            for candidate in candidates)
    trials: list[Trial] = [judge(candidate, coef, intercept, x_val, y_val, options, seconds)
                           for candidate, (coef, intercept, seconds) in zip(candidates, fits,
                                                                            strict=True)]
    return choose("exact", trials, options)


def _as_fitted(candidate: Candidate, loss: str) -> Candidate:
    """The hyperparameters the solver really used (no step size; a fixed penalty kind)."""
    l1 = 1.0 if loss in ONLY_L1 else 0.0 if loss in ONLY_L2 else candidate.l1_ratio
    return replace(candidate, l1_ratio=l1, hyperparameters={"alpha": candidate.alpha,
                                                            "l1_ratio": l1})


def _fit(candidate: Candidate, options: SearchOptions, x: np.ndarray, y: np.ndarray,
         class_weight: dict[int, float] | None) -> tuple[np.ndarray, np.ndarray, float]:
    model = estimator(candidate, options, len(x), class_weight)
    started = time.perf_counter()
    model.fit(x, y)
    seconds = time.perf_counter() - started
    coef = np.atleast_2d(np.asarray(model.coef_, dtype=np.float64))
    return coef, np.atleast_1d(np.asarray(model.intercept_, dtype=np.float64)), seconds
