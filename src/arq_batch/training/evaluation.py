"""Test metrics, measured through the compiled scorer: what workers will compute."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from sklearn import metrics

from arq_batch.engine.scoring import LinearScorer, best_class, class_probabilities


@dataclass(frozen=True)
class Scored:
    """A model's decisions on the test rows, with the true targets."""

    y: np.ndarray  # the encoded target (number, 0/1, class index)
    z: np.ndarray  # (rows, k)
    scorer: LinearScorer

    @property
    def predicted(self) -> np.ndarray:
        """Predicted class index (classifiers)."""
        return best_class(self.scorer, self.z)

    @property
    def probabilities(self) -> np.ndarray:
        """(rows, classes) (classifiers)."""
        return class_probabilities(self.scorer, self.z)


def scored(scorer: LinearScorer, table: pa.Table, y: np.ndarray) -> Scored:
    """Run the scorer over the raw test rows."""
    return Scored(y, scorer.decision(table), scorer)


def test_metrics(result: Scored) -> dict[str, float]:
    """Regressor: RMSE, MAE, R^2; classifiers: accuracy, F1, ROC AUC where defined."""
    y, kind = result.y, result.scorer.predictor_type
    if kind == "regressor":
        predicted = result.z[:, 0]
        return _rounded({"rmse": metrics.root_mean_squared_error(y, predicted),
                         "mae": metrics.mean_absolute_error(y, predicted),
                         "r2": metrics.r2_score(y, predicted)})
    predicted, proba = result.predicted, result.probabilities
    values: dict[str, Any] = {"accuracy": metrics.accuracy_score(y, predicted)}
    if kind == "binary_classifier":
        values["precision"] = metrics.precision_score(y, predicted, zero_division=0)
        values["recall"] = metrics.recall_score(y, predicted, zero_division=0)
        values["f1"] = metrics.f1_score(y, predicted, zero_division=0)
        if len(set(y.tolist())) == 2:
            values["roc_auc"] = metrics.roc_auc_score(y, proba[:, 1])
        return _rounded(values)
    classes = np.arange(proba.shape[1])
    values["f1_macro"] = metrics.f1_score(y, predicted, average="macro", zero_division=0)
    if set(y.tolist()) == set(classes.tolist()):  # undefined when a class is absent
        values["roc_auc_ovr"] = metrics.roc_auc_score(y, proba, multi_class="ovr",
                                                      labels=classes)
    return _rounded(values)


def _rounded(values: dict[str, Any]) -> dict[str, float]:
    return {name: round(float(value), 6) for name, value in values.items()}
