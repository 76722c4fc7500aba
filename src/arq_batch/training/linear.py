"""The final step of every published pipeline: a fitted linear model as plain weights.

Whichever solver won the search (an exact scikit-learn one or the streaming trainer), the
pipeline in ``model.joblib`` ends in this estimator, so ``predict`` and ``predict_proba``
apply the tuned decision threshold exactly as the compiled scorer does. Hinge models get
a sigmoid of their margin as ``predict_proba``: an ordering score, not a calibrated
probability (Linear Learner's hinge models have none either).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator


class LinearModel(BaseEstimator):  # type: ignore[misc]
    """``coef_`` and ``intercept_`` as scikit-learn shapes them, plus the threshold."""

    def __init__(self, predictor_type: str = "regressor", coef: Any = None,
                 intercept: Any = None, classes: Any = (), threshold: float = 0.0) -> None:
        self.predictor_type = predictor_type
        self.coef = coef
        self.intercept = intercept
        self.classes = classes
        self.threshold = threshold

    @property
    def coef_(self) -> np.ndarray:
        coef = np.asarray(self.coef, dtype=np.float64)
        return coef[0] if self.predictor_type == "regressor" else coef

    @property
    def intercept_(self) -> np.ndarray:
        return np.asarray(self.intercept, dtype=np.float64)

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.classes, dtype=object)

    def __sklearn_is_fitted__(self) -> bool:
        return self.coef is not None

    def fit(self, x: Any, y: Any) -> LinearModel:
        raise NotImplementedError("built from a winning candidate's weights; train with "
                                  "'arq-batch train'")

    def decision_function(self, x: Any) -> np.ndarray:
        z = np.asarray(x, dtype=np.float64) @ np.asarray(self.coef, dtype=np.float64).T \
            + self.intercept_
        return np.asarray(z[:, 0] if z.shape[1] == 1 else z)

    def predict(self, x: Any) -> np.ndarray:
        z = self.decision_function(x)
        if self.predictor_type == "regressor":
            return z
        best = (z > self.threshold).astype(np.intp) if z.ndim == 1 else z.argmax(axis=1)
        return np.asarray(self.classes_[best])

    def predict_proba(self, x: Any) -> np.ndarray:
        z = self.decision_function(x)
        if z.ndim == 1:
            positive = expit(z)
            return np.column_stack([1.0 - positive, positive])
        return np.asarray(softmax(z, axis=1))
